"""Per-epoch counters of the results the pipeline produces on chip."""
from amaranth.hdl import Module, Mux, Shape, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .block_ram import block_ram

EPOCH_BITS = 16         # a START runs at most 2^16 - 1 epochs (its 2-byte argument)
ABS_ERROR_BITS = 32     # the protocol's abs_error field; the sum wraps modulo 2^32


def counters_layout(count_bits):
    """One epoch's counters: samples and correct are at most the store's count."""
    return data.StructLayout({"samples": count_bits, "correct": count_bits, "abs_error": ABS_ERROR_BITS})


def result_values(layout):
    """(values per transfer, value shape) of a result payload's ``a`` field
    (a plain value, or an array of them)."""
    shape = layout["a"].shape
    if isinstance(shape, data.ArrayLayout):
        return shape.length, shape.elem_shape
    return 1, shape


class EpochCounters(wiring.Component):
    """Counts, per epoch of ``count`` samples, the samples, the correct
    predictions (the first index of the largest output equals the label) and
    the sum over samples and outputs of |a_L - y| in activation LSBs (y is the
    one-hot target, ``one`` at the label). Twin: ``layerpipe.sim.link_golden.epoch_counters``.

    Results are counted one cycle after they arrive (a register stage).
    At the end of epoch e its counters go to slot e mod ``slots`` of a
    memory, read with ``read_slot`` (``read_data`` one cycle later). The
    counters are as wide as they can grow (``count_bits`` for samples and
    correct, the outputs' error bound for a sample's error) and the memory
    holds no epoch number (the reader knows which slot it asked for), so
    that it stays narrow: 52 bits a slot for a store of 1,023 samples.

    Members
    -------
    results : In(stream)  the pipeline's result stream (always ready)
    count : In            samples per epoch
    clear : In(1)         restart from epoch 0 (a pulse, between runs)
    epochs_done : Out(EPOCH_BITS)
    read_slot : In, read_data : Out(counters_layout(count_bits))
    """

    def __init__(self, result_layout, outputs, one, slots, count_bits):
        self.result_layout, self.outputs, self.one, self.slots = result_layout, outputs, one, slots
        self.lanes, self.value_shape = result_values(result_layout)
        self.layout = counters_layout(count_bits)
        super().__init__({"results": In(stream.Signature(result_layout)), "count": In(count_bits),
                          "clear": In(1), "epochs_done": Out(EPOCH_BITS),
                          "read_slot": In(range(slots)), "read_data": Out(self.layout)})

    def elaborate(self, platform):
        m = Module()
        wr, rd, read = block_ram(m, "memory", self.layout, self.slots)
        m.d.comb += [rd.addr.eq(self.read_slot), self.read_data.eq(read), self.results.ready.eq(1)]
        width = Shape.cast(self.value_shape).width
        pos = Signal(range(self.outputs + self.lanes))            # output index of lane 0
        lowest = -(1 << width)                                    # below every value: the first one wins
        best, arg = Signal(signed(width + 1), init=lowest), Signal(range(self.outputs + 1))
        samples, correct = Signal(len(self.count)), Signal(len(self.count))
        abs_error = Signal(ABS_ERROR_BITS)                        # of the epoch so far
        # the results pass a register first: the pipeline's result logic and the sums stay
        # apart in time (the sums' carry chains are the long paths on an iCE40)
        valid, p = Signal(), Signal(self.result_layout, reset_less=True)
        m.d.sync += [valid.eq(self.results.valid), p.eq(self.results.p)]
        array = isinstance(self.result_layout["a"].shape, data.ArrayLayout)     # a[0..] (one element too)
        values = [p.a[j] for j in range(self.lanes)] if array else [p.a]
        # lanes in order: a strictly larger value moves the argmax, so the first maximum wins
        b, a_, e = best, arg, abs_error
        spare = self.outputs % self.lanes       # lanes past the last output are idle on a sample's last transfer
        for j, v in enumerate(values):
            here = pos + j
            live = here < self.outputs if spare and j >= spare else True
            bigger = (v > b) & live
            b, a_ = Mux(bigger, v, b), Mux(bigger, here, a_)
            diff = v - Mux(here == p.label, self.one, 0)
            # |diff| = (diff XOR sign) + sign: the negation folds into the sum's carry
            neg = diff[-1]
            magnitude = (diff.as_unsigned() ^ neg.replicate(len(diff))) + neg
            e = e + (Mux(live, magnitude, 0) if live is not True else magnitude)
        # Each register is written in one place under a reset and an enable (the write port's
        # address and data unconditionally): conditional assignments would cost a multiplexer
        # per bit that the flip-flops' own reset and enable inputs make unnecessary.
        n, c = samples + 1, correct + (a_ == p.label)
        done = valid & p.last                       # a sample's last transfer
        epoch_end = Signal()
        m.d.comb += [epoch_end.eq(done & (n == self.count)),
                     wr.en.eq(epoch_end), wr.addr.eq(self.epochs_done),
                     wr.data.samples.eq(n), wr.data.correct.eq(c), wr.data.abs_error.eq(e)]
        with m.If(self.clear | epoch_end):
            m.d.sync += [samples.eq(0), correct.eq(0), abs_error.eq(0)]
        with m.Elif(valid):
            m.d.sync += abs_error.eq(e)
            with m.If(p.last):
                m.d.sync += [samples.eq(n), correct.eq(c)]
        with m.If(self.clear):
            m.d.sync += self.epochs_done.eq(0)
        with m.Elif(epoch_end):
            m.d.sync += self.epochs_done.eq(self.epochs_done + 1)
        with m.If(self.clear | done):
            m.d.sync += [pos.eq(0), best.eq(lowest)]
        with m.Elif(valid):
            m.d.sync += [pos.eq(pos + self.lanes), best.eq(b)]
        with m.If(valid):
            m.d.sync += arg.eq(a_)
        return m
