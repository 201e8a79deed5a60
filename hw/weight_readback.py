from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .mac_array import delayed
from .weight_memory import WeightMemory

# cycles from a read-back address to its value on ``data`` (WeightReadback, Pipeline.readback_data)
READBACK_LATENCY = 4


class WeightReadback(wiring.Component):
    """Weight read-back while the pipeline is idle: ``W_l[row, col]`` of any
    layer, or the bias ``b_l[row]`` when ``col == n_{l-1}``.

    It turns (row, col) into each layer's weight-memory (word, bank)
    (:meth:`WeightMemory.location`), presents the word to every stage's read
    port at once, registers the words, picks each layer's bank, or bias
    register, into a register, and then the layer asked for. (Neither select
    follows a block RAM in the same cycle: an ECP5 block RAM's clock-to-output
    is 5.8 ns, and the select straight after it was the ULX3S design's worst
    path, 18.6 ns; the words' register is the same as the weight-gradient
    unit's first delay of them, which yosys merges.)

    Parameters: ``layers`` (the :class:`~layerpipe.hw.plan.LayerPlan` of
    every layer), ``weight`` (the weight format).

    Members
    -------
    layer, row, col : In        the address (layer from 0), held until ``data``
    data : Out(signed(weight.width))   the value, READBACK_LATENCY = 4 cycles after the address
    addr<l> : Out(range(weight_words))  to stage l's ``read_addr`` (l from 1)
    word<l> : In(ArrayLayout(signed(weight.width), banks))   stage l's ``read_data``
    bias<l> : In(ArrayLayout(signed(weight.width), n_out))   stage l's biases

    Latency: 4 cycles (the memory's synchronous read, the words' register, the bank select's
    register, then the output register).
    Only the layer asked for gets the word's address, and only for a weight
    it has; every other memory reads word 0, so no read is out of range (X in
    a simulator that models it). An address outside the layer reads an
    unspecified value.
    """

    def __init__(self, layers, weight):
        self.layers, self.weight = tuple(layers), weight
        widest = max(max(p.n_in, p.n_out) for p in self.layers)
        members = {"layer": In(range(max(len(self.layers), 2))), "row": In(range(max(widest, 2))),
                   "col": In(range(widest + 1)), "data": Out(signed(weight.width))}
        for l, p in enumerate(self.layers, 1):
            members[f"addr{l}"] = Out(range(max(p.weight_words, 2)))
            members[f"word{l}"] = In(data.ArrayLayout(signed(weight.width), p.banks))
            members[f"bias{l}"] = In(data.ArrayLayout(signed(weight.width), p.n_out))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        values = []
        select = READBACK_LATENCY - 2          # the bank select's cycle: after the read and the words' register
        row = delayed(m, self.row, select, "row")
        layer = delayed(m, self.layer, READBACK_LATENCY - 1, "layer")
        for l, p in enumerate(self.layers, 1):
            word, bank = _location(self.row, self.col, p)
            # only the layer asked for, and only a weight it has, is addressed: the other layers'
            # memories (and a bias column or a row past n_out) would be read out of range, giving X
            here = (self.layer == l - 1) & (self.row < p.n_out) & (self.col < p.n_in)
            m.d.comb += getattr(self, f"addr{l}").eq(Mux(here, word, 0))
            bank_now = delayed(m, bank, select, f"bank{l}")
            is_bias = delayed(m, self.col == p.n_in, select, f"is_bias{l}")
            stored = delayed(m, getattr(self, f"word{l}").as_value(), 1, f"word{l}", reset_less=True)
            weight = Array(stored.word_select(b, self.weight.width).as_signed() for b in range(p.banks))[bank_now]
            bias = Array(getattr(self, f"bias{l}")[k] for k in range(p.n_out))[row]
            value = Signal(signed(self.weight.width), name=f"value{l}")
            m.d.sync += value.eq(Mux(is_bias, bias, weight))
            values.append(value)
        m.d.sync += self.data.eq(Array(values)[layer])
        return m


def _location(row, col, p):
    """(word, bank) of W[row, col] in layer plan ``p``'s weight memory for Amaranth values,
    as :meth:`WeightMemory.location` gives it for integers, without dividers or multipliers.
    Where lanes, columns per word and words per row are powers of two its arithmetic is
    shifts and bit slices; else location(row, col) = location(row, 0) + location(0, col)
    term by term (word (row // lanes) * H + col // cols, bank (col % cols) * lanes +
    row % lanes), so each part is a small table indexed by the row or the column. (A
    product with a constant is a DSP block for yosys, and a division by a constant a wide
    tree of LUTs.)"""
    def at(r, c):
        return WeightMemory.location(r, c, p.lanes, p.word_cols, p.n_in)
    if all(k & (k - 1) == 0 for k in (p.lanes, p.word_cols, p.words_per_row)):
        return at(row, col)
    rows = [at(r, 0) for r in range(p.n_out)]
    cols = [at(0, c) for c in range(p.n_in)]
    word = Array(w for w, _ in rows)[row] + Array(w for w, _ in cols)[col]
    bank = Array(b for _, b in rows)[row] + Array(b for _, b in cols)[col]
    return word, bank
