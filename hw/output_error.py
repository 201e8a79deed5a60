from amaranth.hdl import Module, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .act_grad_b import ActGradB
from .forward_unit import pass_layout
from .narrow import narrow


class OutputError(wiring.Component):
    """The output error delta_L = a_L - y (MSE on one-hot targets), the twin
    of ``IntegerArithmetic.output_error`` in the golden model: narrowed from
    the act format to the grad format (round half up, saturate), for one pass
    of stage L's forward at a time.

    Parameters
    ----------
    n_out : int; lanes : int    outputs n_L, and outputs per pass of stage L
    act, grad : Format; classes : int

    Members
    -------
    a_in : In(stream.Signature(..., always_ready=True))   stage L's ``act_out``: ``word`` (the
        pass r), ``a`` (outputs r * lanes + j), ``mask``, ``last``
    label : In(range(classes))    the label of the sample that pass belongs to (y = one-hot)
    g_out : Out(stream.Signature(ActGradB.layout(n_out, grad, lanes), always_ready=True))
        ``index`` = r * lanes, ``g``, ``mask``: to stage L's ``grad_in``

    Latency: 0 cycles (combinational).
    """

    def __init__(self, n_out, lanes, act, grad, classes):
        self.n_out, self.lanes, self.act, self.grad = n_out, lanes, act, grad
        self.in_layout = pass_layout(n_out, lanes, act)
        super().__init__({
            "a_in": In(stream.Signature(self.in_layout, always_ready=True)),
            "label": In(range(max(classes, 2))),
            "g_out": Out(stream.Signature(ActGradB.layout(n_out, grad, lanes), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        P = self.lanes
        base = self.a_in.p.word * P
        m.d.comb += [self.g_out.valid.eq(self.a_in.valid), self.g_out.p.mask.eq(self.a_in.p.mask),
                     self.g_out.p.index.eq(base)]
        for j in range(P):
            y = Mux(base + j == self.label, self.act.one, 0)
            m.d.comb += self.g_out.p.g[j].eq(narrow(self.a_in.p.a[j] - y, self.act.frac - self.grad.frac, self.grad))
        return m
