from amaranth.hdl import Module, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .narrow import narrow, round_shift


class BiasUpdate(wiring.Component):
    """The biases of one layer and their update, the bias part of weight_grad:
    ``b -= lr * delta``, i.e. ``b <- saturate(b - round_shift(delta, bias_shift))``
    in the weight format (golden twin: ``IntegerArithmetic.weight_grad``'s ``b_new``).

    Parameters: ``n`` (outputs of the layer), ``weight`` and ``grad`` formats,
    ``bias_shift`` (grad.frac + lr_shift - weight.frac; negative shifts left),
    ``init`` (the initial biases, integers).

    Members
    -------
    delta : In(ArrayLayout(signed(grad.width), n))   the backward's delta, held while ``en``
    en : In(1)                                        update in this cycle
    bias : Out(ArrayLayout(signed(weight.width), n))  the biases (registers)

    Latency: the update is visible 1 cycle after ``en``. The stage raises
    ``en`` in its beat's last cycle, after forward has read the biases, so a
    beat's reads see the biases of the end of the beat before.
    """

    def __init__(self, n, weight, grad, bias_shift, init=None):
        self.n, self.weight, self.grad, self.bias_shift = n, weight, grad, bias_shift
        super().__init__({
            "delta": In(data.ArrayLayout(signed(grad.width), n)),
            "en": In(1),
            "bias": Out(data.ArrayLayout(signed(weight.width), n),
                        init=[int(v) for v in init] if init is not None else None),
        })

    def elaborate(self, platform):
        m = Module()
        with m.If(self.en):
            for k in range(self.n):
                m.d.sync += self.bias[k].eq(
                    narrow(self.bias[k] - round_shift(self.delta[k], self.bias_shift), 0, self.weight))
        return m
