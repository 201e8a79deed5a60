from amaranth.hdl import Array, Module, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .narrow import narrow, round_shift


class BiasUpdate(wiring.Component):
    """The biases of one layer and their update, the bias part of weight_grad:
    ``b -= lr * delta``, i.e. ``b <- saturate(b - round_shift(delta, bias_shift))``
    in the weight format (golden twin: ``IntegerArithmetic.weight_grad``'s ``b_new``),
    ``lanes`` rows at a time: the rows ``r * lanes + j`` (j < lanes) of pass ``r``.

    Parameters: ``n`` (outputs of the layer), ``weight`` and ``grad`` formats,
    ``bias_shift`` (grad.frac + lr_shift - weight.frac; negative shifts left),
    ``init`` (the initial biases, integers), ``lanes`` (rows per update, default
    ``n``: all at once).

    Members
    -------
    r : In(range(passes))                                 the pass whose rows are updated
    delta : In(ArrayLayout(signed(grad.width), lanes))    the backward's delta of those rows
    en : In(1)                                            update them in this cycle
    bias : Out(ArrayLayout(signed(weight.width), n))      the biases (registers)

    Latency: the update is visible 1 cycle after ``en``. The stage updates pass
    r's rows at the edge where forward's accumulators take their biases
    (:class:`~layerpipe.hw.forward_unit.ForwardUnit`, ``bias_delay`` cycles
    after the pass's first column), so a beat's reads see the biases of the
    end of the beat before, and the layer needs ``lanes``
    subtract-and-saturate units instead of ``n``.
    """

    def __init__(self, n, weight, grad, bias_shift, init=None, lanes=None):
        self.n, self.weight, self.grad, self.bias_shift = n, weight, grad, bias_shift
        self.lanes = min(lanes or n, n)
        self.passes = -(-n // self.lanes)
        super().__init__({
            "r": In(range(max(self.passes, 2))),
            "delta": In(data.ArrayLayout(signed(grad.width), self.lanes)),
            "en": In(1),
            "bias": Out(data.ArrayLayout(signed(weight.width), n),
                        init=[int(v) for v in init] if init is not None else None),
        })

    def elaborate(self, platform):
        m = Module()
        P = self.lanes
        for j in range(P):
            rows = [q * P + j for q in range(self.passes) if q * P + j < self.n]
            old = Array(self.bias[k] for k in rows)[self.r] if len(rows) > 1 else self.bias[rows[0]]
            new = narrow(old - round_shift(self.delta[j], self.bias_shift), 0, self.weight)
            for q, k in enumerate(rows):
                with m.If(self.en & (self.r == q)):
                    m.d.sync += self.bias[k].eq(new)
        return m
