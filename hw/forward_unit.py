from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .mac_array import MacArray, adder_tree, adder_tree_to, delayed
from .narrow import narrow
from .plan import passes_of


def pass_layout(n_out, lanes, act):
    """Payload of one pass of a layer's forward outputs, as a stage sends it on:
    ``word`` (the pass r), ``a`` (outputs r * lanes + j), ``mask`` (those that exist), ``last``."""
    return data.StructLayout({"word": range(max(passes_of(n_out, lanes), 2)),
                              "a": data.ArrayLayout(signed(act.width), lanes), "mask": lanes, "last": 1})


class ForwardUnit(wiring.Component):
    """Forward task F of a layer: ``z = W a + b`` for ``lanes`` output neurons
    at once, then the activation and its derivative.

    One pass sweeps the columns i = 0..n_in-1, ``cols`` adjacent ones per
    cycle: lane (c, j) gets W[row_j, i + c] and the broadcast a[i + c], and
    row j accumulates the sum over c of its ``cols`` products exactly (the
    accumulator is ``acc_width`` bits, wide enough for the whole dot product
    and the bias, which is added on the first column as ``b << act.frac``;
    so the order of the sum does not matter). A column past n_in must come
    with a[i + c] = 0 or W = 0.
    After the last column the sum is narrowed to ``act`` (round half up,
    saturate) and, for a hidden layer, passed through ReLU with
    f'(z) = (z > 0); an output layer is linear with f' = 1.

    Members
    -------
    w : In(ArrayLayout(signed(weight.width), cols * lanes))   lane c * lanes + j: W[row_j, i + c]
    a : In(ArrayLayout(signed(act.width), cols))             a[i + c]
    bias : In(ArrayLayout(signed(weight.width), lanes))   the pass's biases, read ``bias_delay``
        cycles after its ``first`` column (when the accumulator starts; no register holds them)
    valid, first, last : In(1)                             this column
    out : Out(stream.Signature(..., always_ready=True))    payload ``a`` (lanes),
        ``fprime`` (lanes bits); valid for one cycle per pass

    With ``own_mac=False`` the products come from a shared :class:`MacArray`
    through ``mac`` (see :class:`~layerpipe.hw.act_grad_a.ActGradA`).

    Latency: ``out.valid`` rises ``latency`` = 4 cycles after the ``last``
    column was presented: the MAC array's operand and product registers
    (:attr:`MacArray.latency`), the sum over the columns (registered one
    adder level short of the end: two values per lane, one for two columns), then the
    accumulator (the last level and the running sum). The outputs leave the
    accumulators combinationally (narrowed; ReLU and f' for a hidden layer):
    a hidden layer's go into the next stage's delay FIFO (a memory write,
    itself a register), the output layer's into the output error and on to
    the last stage's delta register and the result buffer (registers too).
    A pass of n_in columns takes ceil(n_in / cols) cycles, so one beat of
    ``passes`` passes takes ``passes * ceil(n_in / cols) + latency`` cycles.
    The biases are read ``bias_delay`` = 3 cycles after a pass's first column.

    ``operand_registers``: the MAC array's (:class:`MacArray`); without them
    every latency below is a cycle shorter.
    """

    def __init__(self, lanes, act, weight, acc_width, hidden, cols=1, own_mac=True, operand_registers=1):
        self.lanes, self.act, self.weight, self.acc_width, self.hidden = lanes, act, weight, acc_width, hidden
        self.cols, self.own_mac, self.operand_registers = cols, own_mac, operand_registers
        self.latency = self.latency_of(operand_registers)
        self.bias_delay = self.latency - 1
        self.out_layout = data.StructLayout({"a": data.ArrayLayout(signed(act.width), lanes),
                                             "fprime": lanes})
        members = {
            "w": In(data.ArrayLayout(signed(weight.width), cols * lanes)),
            "a": In(data.ArrayLayout(signed(act.width), cols)),
            "bias": In(data.ArrayLayout(signed(weight.width), lanes)),
            "valid": In(1), "first": In(1), "last": In(1),
            "out": Out(stream.Signature(self.out_layout, always_ready=True)),
        }
        if not own_mac:
            members["mac"] = In(MacArray.signature_of(cols * lanes, weight.width, act.width))
        super().__init__(members)

    @staticmethod
    def latency_of(operand_registers):
        """Cycles from the last column to ``out``: the MAC array's, column sum, accumulator."""
        return MacArray.latency_of(operand_registers) + 2

    def elaborate(self, platform):
        m = Module()
        P, cols = self.lanes, self.cols
        mac = MacArray.attach(m, self, cols * P, self.weight.width, self.act.width)
        for c in range(cols):
            for j in range(P):
                m.d.comb += [mac.a[c * P + j].eq(self.w[c * P + j]), mac.b[c * P + j].eq(self.a[c])]
        # align the column's flags with the column sums (the products' cycle + 1)
        flags = delayed(m, Cat(self.first, self.last, self.valid), self.bias_delay, "flags")
        first, last, valid = flags[0], flags[1], flags[2]
        done = Signal()                 # the accumulators hold a whole pass
        m.d.sync += done.eq(valid & last)
        # the outputs leave straight from the accumulators (narrowed; ReLU): what takes them
        # registers them (delay-FIFO write; output error into delta, result buffer)
        m.d.comb += self.out.valid.eq(done)
        for j in range(self.lanes):
            # the sum over the columns, registered one adder level short of the end (two products
            # are summed outright: one adder, and half the flip-flops, which on the iCE40 take a
            # logic cell each as the products come straight out of the SB_MAC16)
            halves = adder_tree_to([mac.p[c * P + j] for c in range(cols)], 1 if cols <= 2 else 2)
            pair = [Signal(signed(self.acc_width), name=f"col_sum{j}_{h}") for h in range(len(halves))]
            m.d.sync += [pair[h].eq(v) for h, v in enumerate(halves)]
            acc = Signal(signed(self.acc_width), name=f"acc{j}")
            with m.If(valid):
                start = Mux(first, self.bias[j] << self.act.frac, acc)
                m.d.sync += acc.eq(start + adder_tree(pair))
            z = narrow(acc, self.weight.frac, self.act)
            if self.hidden:
                positive = ~z[-1] & z.any()        # z > 0 without a carry chain after narrow's
                m.d.comb += [self.out.p.fprime[j].eq(positive), self.out.p.a[j].eq(Mux(positive, z, 0))]
            else:
                m.d.comb += [self.out.p.fprime[j].eq(1), self.out.p.a[j].eq(z)]
        return m
