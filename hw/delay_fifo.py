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

    a_{l-1} is stored in a memory whose words hold ``in_lanes`` values, the
    producer's lane count: the stage before writes a whole pass of its lanes in
    one cycle (``in_lanes`` = 1 for the input loader). Value i of a sample is
    element ``i % in_lanes`` of word ``i // in_lanes``; the reader presents that
    word and lane (counters it advances, so no divider is built when
    ``in_lanes`` is not a power of two) and each read port returns the value one
    cycle later.

    Members
    -------
    write_word, write_data, write_mask, write_valid, write_last : In
        Producer side: word ``write_word`` of the current write slot;
        ``write_last`` marks the sample's final word and advances the slot.
    fwd_start, bwd_start : In(1)
        Take the next slot for the forward (backward) of the beat now starting.
    fwd_word : In(range(words)); fwd_lane : In(range(in_lanes)); fwd_value : Out(signed(width))
        Element ``fwd_lane`` of word ``fwd_word`` of the forward slot, 1 cycle
        after the word and lane are presented.
    bwd_word, bwd_lane, bwd_value : the same for the backward slot, ``bwd_reads``
        of them (ArrayLayout), for a backward unit that takes several columns a cycle.
    fprime_write, fprime_word, fprime_bits : In
        This stage's forward writes f' of pass ``fprime_word`` into its slot.
    fprime_out : Out(n_out)
        f' of the backward slot (valid after ``bwd_start``).
    """

    def __init__(self, n, width, in_lanes, depth, n_out, lanes, store_fprime, bwd_reads=1):
        self.n, self.width, self.in_lanes, self.depth = n, width, in_lanes, depth
        self.slots = fifo_slots_of(depth)
        self.words = words_of(n, in_lanes)        # memory words per slot
        self.n_out, self.lanes, self.store_fprime = n_out, lanes, store_fprime
        self.passes = passes_of(n_out, lanes)
        self.bwd_reads = bwd_reads
        word_t = data.ArrayLayout(signed(width), in_lanes)
        super().__init__({
            "write_word": In(range(max(self.words, 2))),
            "write_data": In(word_t),
            "write_mask": In(in_lanes),
            "write_valid": In(1),
            "write_last": In(1),
            "fwd_start": In(1),
            "bwd_start": In(1),
            "fwd_word": In(range(max(self.words, 2))),
            "fwd_lane": In(range(max(in_lanes, 2))),
            "bwd_word": In(data.ArrayLayout(range(max(self.words + 1, 2)), bwd_reads)),
            "bwd_lane": In(data.ArrayLayout(range(max(in_lanes, 2)), bwd_reads)),
            "fwd_value": Out(signed(width)),
            "bwd_value": Out(data.ArrayLayout(signed(width), bwd_reads)),
            "fprime_write": In(1),
            "fprime_word": In(range(max(self.passes, 2))),
            "fprime_bits": In(lanes),
            "fprime_out": Out(n_out),
        })

    def elaborate(self, platform):
        m = Module()
        span = self.slots * self.words
        mem = memory.Memory(shape=data.ArrayLayout(signed(self.width), self.in_lanes), depth=span, init=[])
        m.submodules.mem = mem
        wr = mem.write_port(granularity=1)
        wr_base = Signal(range(span))
        m.d.comb += [wr.addr.eq(wr_base + self.write_word), wr.data.eq(self.write_data),
                     wr.en.eq(Mux(self.write_valid, self.write_mask, 0))]
        with m.If(self.write_valid & self.write_last):
            m.d.sync += wr_base.eq(_wrap(wr_base, self.words, span))

        # forward and backward read ports: base of the slot taken at the beat's start
        slot_of = {}
        reads = {"fwd": [(self.fwd_word, self.fwd_lane, self.fwd_value)],
                 "bwd": [(self.bwd_word[c], self.bwd_lane[c], self.bwd_value[c]) for c in range(self.bwd_reads)]}
        for side, ports in reads.items():
            nxt = Signal(range(span), name=f"{side}_next")       # base of the next sample's slot
            base = Signal(range(span), name=f"{side}_base")      # base of this beat's sample
            slot = Signal(range(self.slots), name=f"{side}_slot")
            nxt_slot = Signal(range(self.slots), name=f"{side}_next_slot")
            with m.If(getattr(self, f"{side}_start")):
                m.d.sync += [base.eq(nxt), nxt.eq(_wrap(nxt, self.words, span)),
                             slot.eq(nxt_slot), nxt_slot.eq(_wrap(nxt_slot, 1, self.slots))]
            for c, (word, lane, value) in enumerate(ports):
                rd = mem.read_port()
                lane_q = Signal(range(max(self.in_lanes, 2)), name=f"{side}_lane_q{c}")
                if side == "bwd":
                    # a backward that takes several columns a cycle passes the end of an odd
                    # row: its discarded read must stay inside the slot, not run past the memory (X)
                    word = Mux(word < self.words, word, 0)
                m.d.comb += rd.addr.eq(base + word)
                m.d.sync += lane_q.eq(lane)
                m.d.comb += value.eq(Array(rd.data[q] for q in range(self.in_lanes))[lane_q])
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
