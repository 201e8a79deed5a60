from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .act_grad_b import ActGradB
from .mac_array import MacArray, adder_tree_to, delayed
from .narrow import narrow
from .plan import words_of


class ActGradA(wiring.Component):
    """Activation gradient, part a (``act_grad_a``, on layer l):
    ``g = W^T delta``, the n_l * n_{l-1} MACs of B_l.

    Each cycle of the sweep (``cols`` adjacent columns i + c of one pass)
    lane (c, j) multiplies the weight it read, W[row_j, i + c], by delta_j, and
    one adder tree per column sums its ``lanes`` lanes: the partial g[i + c] of
    this pass. With more than one pass the partial sums are kept exactly in
    ``n_in`` accumulators; after the last pass g is narrowed to ``grad`` and
    sent out, ``cols`` indices per cycle.

    Members
    -------
    w : In(ArrayLayout(signed(weight.width), cols * lanes))   lane c * lanes + j: W[row_j, index + c]
    delta : In(ArrayLayout(signed(grad.width), lanes))        delta of row j
    index : In(range(n_in)) (a multiple of ``cols``); slot : In(range(ceil(n_in / cols))) (``index // cols``)
    valid, first_pass, last_pass : In(1)
    out : Out(stream.Signature(ActGradB.layout(n_in, grad, cols), always_ready=True))
        ``index``, ``g`` (cols values), ``mask`` (the columns that exist)

    With ``own_mac=False`` the unit has no multipliers of its own: it presents
    its operands on ``mac`` and takes the products back from it, so that a
    backward unit can share one :class:`MacArray` between B(a) and W.

    Timing: the sum over the lanes is registered one adder level short of
    the end (two values per column); the last level and the partial sum of
    earlier passes are added in the next cycle, and that exact total is
    registered before it is narrowed. Up to 8 lanes no path holds more than
    two wide carry chains (the saturation compares run beside the rounding). The partial sums live in a
    small memory (LUT RAM or EBR) read one cycle ahead at the sweep's next
    word, not in a register file behind a wide multiplexer.

    Latency: g[i] leaves ``latency`` = 4 cycles after column i of the last
    pass was presented (the MAC array's operand and product registers, lane
    sum, total); it is narrowed from the total combinationally, as act_grad_b
    of the layer below registers what it takes.

    ``operand_registers``: the MAC array's (:class:`MacArray`); without them
    every latency below is a cycle shorter.
    """

    def __init__(self, lanes, weight, grad, n_in, passes, acc_width, own_mac=True, cols=1, operand_registers=1):
        self.lanes, self.weight, self.grad, self.n_in, self.passes = lanes, weight, grad, n_in, passes
        self.acc_width, self.own_mac, self.cols = acc_width, own_mac, cols
        self.operand_registers, self.latency = operand_registers, self.latency_of(operand_registers)
        self.out_layout = ActGradB.layout(n_in, grad, cols)
        members = {
            "w": In(data.ArrayLayout(signed(weight.width), cols * lanes)),
            "delta": In(data.ArrayLayout(signed(grad.width), lanes)),
            "index": In(range(max(n_in, 2))),
            "slot": In(range(max(words_of(n_in, cols), 2))),
            "valid": In(1), "first_pass": In(1), "last_pass": In(1),
            "out": Out(stream.Signature(self.out_layout, always_ready=True)),
        }
        if not own_mac:
            members["mac"] = In(MacArray.signature_of(cols * lanes, weight.width, grad.width))
        super().__init__(members)

    @staticmethod
    def latency_of(operand_registers):
        """Cycles from a column of the last pass to its g: the MAC array's, lane sum, total."""
        return MacArray.latency_of(operand_registers) + 2

    def elaborate(self, platform):
        m = Module()
        P, cols = self.lanes, self.cols
        mac = MacArray.attach(m, self, cols * P, self.weight.width, self.grad.width)
        for c in range(cols):
            for j in range(P):
                m.d.comb += [mac.a[c * P + j].eq(self.w[c * P + j]), mac.b[c * P + j].eq(self.delta[j])]
        # stage 1 (the products, the MAC array's latency after the column): the column's flags follow
        col = delayed(m, Cat(self.index, self.slot, self.valid, self.first_pass, self.last_pass),
                      MacArray.latency_of(self.operand_registers), "col")
        ni, ns = len(self.index), len(self.slot)
        index, slot = col[:ni], col[ni:ni + ns]
        valid, first_pass, last_pass = col[ni + ns], col[ni + ns + 1], col[ni + ns + 2]
        # stage 2: the lane sums, registered
        index2, slot2, valid2, first2, last2 = Signal.like(self.index), Signal.like(self.slot), Signal(), Signal(), \
            Signal()
        m.d.sync += [index2.eq(index), slot2.eq(slot), valid2.eq(valid), first2.eq(first_pass),
                     last2.eq(last_pass)]
        # stage 3: total = partial of the earlier passes + lane sum, registered
        index3, valid3 = Signal.like(self.index), Signal()
        m.d.sync += [index3.eq(index2), valid3.eq(valid2 & last2)]
        m.d.comb += [self.out.valid.eq(valid3), self.out.p.index.eq(index3)]
        slots = words_of(self.n_in, cols)
        for c in range(cols):
            # the lane sum's last level is added in stage 3 with the partial sum
            pair = [Signal(signed(self.acc_width), name=f"lane_sum{c}_{h}") for h in range(2)]
            halves = adder_tree_to([mac.p[c * P + j] for j in range(P)], 2)
            m.d.sync += [pair[h].eq(v) for h, v in enumerate(halves)]
            tree = pair[0] + pair[1] if len(halves) == 2 else pair[0]
            total = Signal(signed(self.acc_width), name=f"total{c}")
            if self.passes > 1:
                # the sweep visits the words in order, so stage 1 holds the next word to read
                mem = memory.Memory(shape=signed(self.acc_width), depth=max(slots, 2), init=[])
                m.submodules[f"partial{c}"] = mem
                wr = mem.write_port()
                rd = mem.read_port(transparent_for=(wr,))
                m.d.comb += [rd.addr.eq(slot), wr.addr.eq(slot2),
                             wr.data.eq(Mux(first2, 0, rd.data) + tree), wr.en.eq(valid2 & ~last2)]
                m.d.sync += total.eq(Mux(first2, 0, rd.data) + tree)
            else:
                m.d.sync += total.eq(tree)
            m.d.comb += [self.out.p.g[c].eq(narrow(total, self.weight.frac, self.grad)),
                         self.out.p.mask[c].eq(index3 + c < self.n_in)]
        return m
