from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .mac_array import MacArray
from .narrow import narrow


class ForwardUnit(wiring.Component):
    """Forward task F of a layer: ``z = W a + b`` for ``lanes`` output neurons
    at once, then the activation and its derivative.

    One pass sweeps the columns i = 0..n_in-1, one per cycle: lane j gets
    W[row_j, i] and the broadcast a[i], and accumulates exactly (the
    accumulator is ``acc_width`` bits, wide enough for the whole dot product
    and the bias, which is added on the first column as ``b << act.frac``).
    After the last column the sum is narrowed to ``act`` (round half up,
    saturate) and, for a hidden layer, passed through ReLU with
    f'(z) = (z > 0); an output layer is linear with f' = 1.

    Members
    -------
    w : In(ArrayLayout(signed(weight.width), lanes)); a : In(signed(act.width))
    bias : In(ArrayLayout(signed(weight.width), lanes))   read on ``first``
    valid, first, last : In(1)                             this column
    out : Out(stream.Signature(..., always_ready=True))    payload ``a`` (lanes),
        ``fprime`` (lanes bits); valid for one cycle per pass

    Latency: ``out.valid`` rises ``LATENCY`` = 3 cycles after the ``last``
    column was presented (product, accumulator and output registers; the
    output register keeps the narrowing and ReLU off the paths into the next
    stage); a pass of n_in columns takes n_in cycles, so one beat of
    ``passes`` passes takes ``passes * n_in + 3`` cycles.
    """
    LATENCY = 3

    def __init__(self, lanes, act, weight, acc_width, hidden):
        self.lanes, self.act, self.weight, self.acc_width, self.hidden = lanes, act, weight, acc_width, hidden
        self.out_layout = data.StructLayout({"a": data.ArrayLayout(signed(act.width), lanes),
                                             "fprime": lanes})
        super().__init__({
            "w": In(data.ArrayLayout(signed(weight.width), lanes)),
            "a": In(signed(act.width)),
            "bias": In(data.ArrayLayout(signed(weight.width), lanes)),
            "valid": In(1), "first": In(1), "last": In(1),
            "out": Out(stream.Signature(self.out_layout, always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mac_array = mac = MacArray(self.lanes, self.weight.width, self.act.width)
        for j in range(self.lanes):
            m.d.comb += [mac.a[j].eq(self.w[j]), mac.b[j].eq(self.a)]
        # align the column's flags and bias with the registered products
        first, last, valid = Signal(), Signal(), Signal()
        bias = Signal.like(self.bias)
        m.d.sync += [first.eq(self.first), last.eq(self.last), valid.eq(self.valid), bias.eq(self.bias)]
        done = Signal()                 # the accumulators hold a whole pass
        m.d.sync += [done.eq(valid & last), self.out.valid.eq(done)]
        for j in range(self.lanes):
            acc = Signal(signed(self.acc_width), name=f"acc{j}")
            with m.If(valid):
                start = Mux(first, bias[j] << self.act.frac, acc)
                m.d.sync += acc.eq(start + mac.p[j])
            z = narrow(acc, self.weight.frac, self.act)
            if self.hidden:
                m.d.sync += [self.out.p.fprime[j].eq(z > 0), self.out.p.a[j].eq(Mux(z > 0, z, 0))]
            else:
                m.d.sync += [self.out.p.fprime[j].eq(1), self.out.p.a[j].eq(z)]
        return m
