from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


class ActGradB(wiring.Component):
    """Activation gradient, part b (``act_grad_b``, on the receiving layer):
    ``delta = g * f'(z)``, elementwise; with ReLU a select.

    The layer after this one (or the output-error unit) writes g into a
    buffer during beat k, ``in_lanes`` values per cycle; at the start of beat
    k+1 ``load`` turns the whole buffer into delta at once, with f'(z) of the
    sample being trained, so the buffer is free for the next g while delta is
    in use.

    Members
    -------
    g_in : In(stream.Signature(..., always_ready=True))  payload ``index`` (of
        the first value), ``g`` (in_lanes values), ``mask``
    load : In(1); fprime : In(n)
    delta : Out(ArrayLayout(signed(grad.width), n))   valid the cycle after ``load``
    delta_now : Out(ArrayLayout(signed(grad.width), n))   ``delta`` as of this cycle: in a
        ``load`` cycle already the value being loaded (combinational), so that a sweep may use
        delta in the cycle it loads it

    Latency: 1 cycle (``load`` to ``delta``).
    """

    def __init__(self, n, grad, in_lanes):
        self.n, self.grad, self.in_lanes = n, grad, in_lanes
        self.in_layout = self.layout(n, grad, in_lanes)
        super().__init__({
            "g_in": In(stream.Signature(self.in_layout, always_ready=True)),
            "load": In(1),
            "fprime": In(n),
            "delta": Out(data.ArrayLayout(signed(grad.width), n)),
            "delta_now": Out(data.ArrayLayout(signed(grad.width), n)),
        })

    @staticmethod
    def layout(n, grad, in_lanes):
        """Payload of ``g_in``: ``in_lanes`` values of g from ``index`` on, with a mask."""
        return data.StructLayout({"index": range(max(n, 2)),
                                  "g": data.ArrayLayout(signed(grad.width), in_lanes), "mask": in_lanes})

    def elaborate(self, platform):
        m = Module()
        g = [Signal(signed(self.grad.width), name=f"g{k}") for k in range(self.n)]
        with m.If(self.g_in.valid):
            for q in range(self.in_lanes):
                for k in range(self.n):
                    # value q of a write at index b lands in g[b + q]; only bases that are
                    # multiples of in_lanes occur (a pass of the writer's lanes) or in_lanes == 1
                    if k >= q and (self.in_lanes == 1 or (k - q) % self.in_lanes == 0):
                        with m.If(self.g_in.p.mask[q] & (self.g_in.p.index == k - q)):
                            m.d.sync += g[k].eq(self.g_in.p.g[q])
        for k in range(self.n):
            loaded = Mux(self.fprime[k], g[k], 0)
            m.d.comb += self.delta_now[k].eq(Mux(self.load, loaded, self.delta[k]))
            with m.If(self.load):
                m.d.sync += self.delta[k].eq(loaded)
        return m
