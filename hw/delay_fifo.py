import math

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from .plan import fifo_slots_of, passes_of, words_of


class DelayFifo(wiring.Component):
    """What stage l's backward needs of a sample, kept until it returns:
    a_{l-1} (the forward input) and f'(z_l) (one bit per output).

    A sample's slot is written while the stage before runs it forward (beat
    k-1), read by this stage's forward (beat k) and by its backward
    ``depth`` = 2(L-l)+1 beats later, so ``depth + 2`` slots are in use at once
    and never overlap. Slots are taken in sample order; three slot pointers
    (write, forward, backward) advance with the samples.

    a_{l-1} is stored in one memory whose words hold ``word_values`` = the
    least common multiple of ``in_lanes`` (values per write: the producer's
    lanes, or the input loader's values per transfer), ``fwd_reads`` and
    ``bwd_reads`` (values the forward and the backward read per cycle):
    value i of a sample is element ``i % word_values`` of word
    ``i // word_values``. Writes arrive in order (the value of the first
    write of a sample is 0, each write continues where the last ended), so
    one write port with per-value enables places them, and each reader takes
    an aligned group of its ``reads`` values out of one word: one read port
    per side, whatever the widths.

    ``handover_bypass`` makes the forward read port transparent for the write
    port (a read addressed in the cycle of a write of the same word returns
    the new values): needed where the layer below writes the values this
    layer's forward reads first in the cycle that read is addressed
    (:func:`~layerpipe.hw.plan.handover_bypass`).

    Members
    -------
    write_data, write_mask, write_valid, write_last : In
        Producer side: ``in_lanes`` values of the current write slot, in order;
        ``write_last`` marks the sample's final write and advances the slot.
    fwd_start, bwd_start : In(1)
        Take the next slot for the forward (backward) of the beat now starting; the word
        presented in the same cycle is already read from that slot (a sweep addresses the
        FIFO with the next values of its counters: :class:`~layerpipe.hw.sweep.Sweep`).
    fwd_word : In(range(words)); fwd_group : In(range(word_values // fwd_reads))
    fwd_value : Out(ArrayLayout(signed(width), fwd_reads))
        Values ``(fwd_word * word_values + fwd_group * fwd_reads) + c`` of the
        forward slot, 1 cycle after the word and group are presented.
    bwd_word, bwd_group, bwd_value : the same for the backward slot, ``bwd_reads`` values.
    fprime_write, fprime_word, fprime_bits : In
        This stage's forward writes f' of pass ``fprime_word`` into its slot.
    fprime_out : Out(n_out)
        f' of the backward slot (valid after ``bwd_start``).
    """

    def __init__(self, n, width, in_lanes, depth, n_out, lanes, store_fprime, fwd_reads=1, bwd_reads=1,
                 handover_bypass=True):
        self.word_values = self.word_values_of(in_lanes, fwd_reads, bwd_reads)
        self.n, self.width, self.in_lanes, self.depth = n, width, in_lanes, depth
        self.fwd_reads, self.bwd_reads, self.handover_bypass = fwd_reads, bwd_reads, handover_bypass
        self.slots = fifo_slots_of(depth)
        self.words = words_of(n, self.word_values)            # memory words per slot
        self.n_out, self.lanes, self.store_fprime = n_out, lanes, store_fprime
        self.passes = passes_of(n_out, lanes)
        members = {
            "write_data": In(data.ArrayLayout(signed(width), in_lanes)),
            "write_mask": In(in_lanes),
            "write_valid": In(1),
            "write_last": In(1),
            "fwd_start": In(1),
            "bwd_start": In(1),
            "fprime_write": In(1),
            "fprime_word": In(range(max(self.passes, 2))),
            "fprime_bits": In(lanes),
            "fprime_out": Out(n_out),
        }
        for side, reads in (("fwd", fwd_reads), ("bwd", bwd_reads)):
            members.update({f"{side}_word": In(range(max(self.words, 2))),
                            f"{side}_group": In(range(max(self.word_values // reads, 2))),
                            f"{side}_value": Out(data.ArrayLayout(signed(width), reads))})
        super().__init__(members)

    @staticmethod
    def word_values_of(in_lanes, fwd_reads, bwd_reads):
        """Values per memory word: the least common multiple of the write and read widths."""
        return math.lcm(in_lanes, fwd_reads, bwd_reads)

    def elaborate(self, platform):
        m = Module()
        V, w = self.word_values, self.in_lanes
        span = self.slots * self.words
        mem = memory.Memory(shape=data.ArrayLayout(signed(self.width), V), depth=span, init=[])
        m.submodules.mem = mem
        wr = mem.write_port(granularity=1)
        wr_base = Signal(range(span))
        wr_word = Signal(range(max(self.words, 2)))
        chunks = V // w                                    # writes per memory word
        wr_chunk = Signal(range(max(chunks, 2)))
        m.d.comb += wr.addr.eq(wr_base + wr_word)
        # element p of the word takes value p % w of the write, enabled in the write's chunk
        for p in range(V):
            m.d.comb += [wr.data[p].eq(self.write_data[p % w]),
                         wr.en[p].eq(self.write_valid & self.write_mask[p % w] & (wr_chunk == p // w))]
        with m.If(self.write_valid):
            with m.If(self.write_last):
                m.d.sync += [wr_base.eq(_wrap(wr_base, self.words, span)), wr_word.eq(0), wr_chunk.eq(0)]
            with m.Elif(wr_chunk == chunks - 1):
                m.d.sync += [wr_chunk.eq(0), wr_word.eq(wr_word + 1)]
            with m.Else():
                m.d.sync += wr_chunk.eq(wr_chunk + 1)

        # forward and backward read ports: base of the slot taken at the beat's start
        slot_of = {}
        for side, reads in (("fwd", self.fwd_reads), ("bwd", self.bwd_reads)):
            nxt = Signal(range(span), name=f"{side}_next")       # base of the next sample's slot
            base = Signal(range(span), name=f"{side}_base")      # base of this beat's sample
            slot = Signal(range(self.slots), name=f"{side}_slot")
            nxt_slot = Signal(range(self.slots), name=f"{side}_next_slot")
            with m.If(getattr(self, f"{side}_start")):
                m.d.sync += [base.eq(nxt), nxt.eq(_wrap(nxt, self.words, span)),
                             slot.eq(nxt_slot), nxt_slot.eq(_wrap(nxt_slot, 1, self.slots))]
            # with handover_bypass, forward's port sees a write of the same cycle: the layer below
            # may hand over its last outputs (unregistered, ForwardUnit) in the cycle this layer's
            # first read is addressed (plan.handover_bypass)
            rd = mem.read_port(transparent_for=(wr,) if side == "fwd" and self.handover_bypass else ())
            group = getattr(self, f"{side}_group")
            group_q = Signal.like(group, name=f"{side}_group_q")
            # in the start cycle the word presented is already the new sample's (both sums are
            # formed and start picks one: start comes late in the cycle, from the beat control)
            start, word = getattr(self, f"{side}_start"), getattr(self, f"{side}_word")
            m.d.comb += rd.addr.eq(Mux(start, nxt + word, base + word))
            m.d.sync += group_q.eq(group)
            value = getattr(self, f"{side}_value")
            for c in range(reads):
                m.d.comb += value[c].eq(Array(rd.data[g * reads + c] for g in range(V // reads))[group_q])
            slot_of[side] = slot

        if self.store_fprime:
            fprime = Array(Signal(self.passes * self.lanes, name=f"fprime{s}") for s in range(self.slots))
            with m.If(self.fprime_write):
                for r in range(self.passes):
                    with m.If(self.fprime_word == r):
                        m.d.sync += fprime[slot_of["fwd"]][r * self.lanes:(r + 1) * self.lanes].eq(self.fprime_bits)
            m.d.comb += self.fprime_out.eq(fprime[slot_of["bwd"]][:self.n_out])
        else:
            m.d.comb += self.fprime_out.eq(-1)
        return m


def _wrap(value, step, span):
    """value + step modulo span, for value < span (no divider)."""
    return Mux(value + step >= span, value + step - span, value + step)
