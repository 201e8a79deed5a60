"""Per-epoch counters of the results the pipeline produces on chip."""
from amaranth.hdl import Module, Mux, Shape, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

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
        m.submodules.memory = mem = Memory(shape=self.layout, depth=self.slots, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        m.d.comb += [rd.addr.eq(self.read_slot), self.read_data.eq(rd.data), self.results.ready.eq(1)]
        width = Shape.cast(self.value_shape).width
        pos = Signal(range(self.outputs + self.lanes))            # output index of lane 0
        # |a - y| <= 2^width for a in the act format and y in {0, one}: a sample's error fits
        best, arg = Signal(signed(width + 1)), Signal(range(self.outputs + 1))
        err = Signal(range(self.outputs * 2 ** width + 1))
        samples, correct = Signal(len(self.count)), Signal(len(self.count))
        abs_error = Signal(ABS_ERROR_BITS)
        p = self.results.p
        array = isinstance(self.result_layout["a"].shape, data.ArrayLayout)     # a[0..] (one element too)
        values = [p.a[j] for j in range(self.lanes)] if array else [p.a]
        # lanes in order: a strictly larger value moves the argmax, so the first maximum wins
        b, a_, e = Mux(pos == 0, -(1 << width), best), arg, Mux(pos == 0, 0, err)
        for j, v in enumerate(values):
            here = pos + j
            live = here < self.outputs
            bigger = live & (v > b)
            b, a_ = Mux(bigger, v, b), Mux(bigger, here, a_)
            diff = v - Mux(here == p.label, self.one, 0)
            e = e + Mux(live, Mux(diff < 0, -diff, diff), 0)
        with m.If(self.clear):
            m.d.sync += [pos.eq(0), samples.eq(0), correct.eq(0), abs_error.eq(0), self.epochs_done.eq(0)]
        with m.Elif(self.results.valid):
            m.d.sync += [best.eq(b), arg.eq(a_), err.eq(e), pos.eq(pos + self.lanes)]
            with m.If(p.last):
                m.d.sync += pos.eq(0)
                ok = a_ == p.label
                n, c, s = samples + 1, correct + ok, abs_error + e
                with m.If(n == self.count):       # the epoch's last sample
                    m.d.comb += [wr.en.eq(1), wr.addr.eq(self.epochs_done),
                                 wr.data.samples.eq(n), wr.data.correct.eq(c), wr.data.abs_error.eq(s)]
                    m.d.sync += [samples.eq(0), correct.eq(0), abs_error.eq(0),
                                 self.epochs_done.eq(self.epochs_done + 1)]
                with m.Else():
                    m.d.sync += [samples.eq(n), correct.eq(c), abs_error.eq(s)]
        return m
