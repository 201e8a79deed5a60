from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .mac_array import MacArray
from .narrow import narrow


class ActGradA(wiring.Component):
    """Activation gradient, part a (``act_grad_a``, on layer l):
    ``g = W^T delta``, the n_l * n_{l-1} MACs of B_l.

    Each cycle of the sweep (column i of one pass) lane j multiplies the
    weight it read, W[row_j, i], by its delta_j and an adder tree sums the
    lanes: the partial g[i] of this pass. With more than one pass the partial
    sums are kept exactly in ``n_in`` accumulators; after the last pass g[i]
    is narrowed to ``grad`` and sent out, one index per cycle.

    Members
    -------
    w : In(ArrayLayout(signed(weight.width), lanes)); delta : In(ArrayLayout(signed(grad.width), lanes))
    index : In(range(n_in)); valid, first_pass, last_pass : In(1)
    out : Out(stream.Signature(..., always_ready=True))  payload ``index``, ``g``

    With ``own_mac=False`` the unit has no multipliers of its own: it presents
    its operands on ``mac`` and takes the products back from it, so that a
    backward unit can share one :class:`MacArray` between B(a) and W.

    Latency: g[i] leaves 2 cycles after column i of the last pass was
    presented (product register, output register).
    """
    LATENCY = 2

    def __init__(self, lanes, weight, grad, n_in, passes, acc_width, own_mac=True):
        self.lanes, self.weight, self.grad, self.n_in, self.passes = lanes, weight, grad, n_in, passes
        self.acc_width, self.own_mac = acc_width, own_mac
        self.out_layout = data.StructLayout({"index": range(max(n_in, 2)), "g": signed(grad.width)})
        members = {
            "w": In(data.ArrayLayout(signed(weight.width), lanes)),
            "delta": In(data.ArrayLayout(signed(grad.width), lanes)),
            "index": In(range(max(n_in, 2))),
            "valid": In(1), "first_pass": In(1), "last_pass": In(1),
            "out": Out(stream.Signature(self.out_layout, always_ready=True)),
        }
        if not own_mac:
            members["mac"] = In(MacArray.signature_of(lanes, weight.width, grad.width))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        mac = MacArray.attach(m, self, self.lanes, self.weight.width, self.grad.width)
        for j in range(self.lanes):
            m.d.comb += [mac.a[j].eq(self.w[j]), mac.b[j].eq(self.delta[j])]
        index, valid, first_pass, last_pass = Signal.like(self.index), Signal(), Signal(), Signal()
        m.d.sync += [index.eq(self.index), valid.eq(self.valid), first_pass.eq(self.first_pass),
                     last_pass.eq(self.last_pass)]
        tree = _adder_tree([mac.p[j] for j in range(self.lanes)])
        total = Signal(signed(self.acc_width))
        if self.passes > 1:
            partial = Array(Signal(signed(self.acc_width), name=f"partial{i}") for i in range(self.n_in))
            m.d.comb += total.eq(Mux(first_pass, 0, partial[index]) + tree)
            with m.If(valid & ~last_pass):
                m.d.sync += partial[index].eq(total)
        else:
            m.d.comb += total.eq(tree)
        m.d.sync += [self.out.valid.eq(valid & last_pass), self.out.p.index.eq(index),
                     self.out.p.g.eq(narrow(total, self.weight.frac, self.grad))]
        return m


def _adder_tree(values):
    while len(values) > 1:
        values = [values[k] + values[k + 1] if k + 1 < len(values) else values[k]
                  for k in range(0, len(values), 2)]
    return values[0]
