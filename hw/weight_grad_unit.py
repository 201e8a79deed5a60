from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .mac_array import MacArray, delayed
from .narrow import narrow, round_shift


class WeightGradUnit(wiring.Component):
    """Weight-gradient task W with the update in place:
    ``W[row_j, i] -= lr * delta_j * a[i]``.

    Each cycle lane (c, j) gets the weight it just read, W[row_j, i + c], the
    delta_j of its row (constant over a pass) and a[i + c] of the sample being
    trained (from the delay FIFO, ``cols`` columns at once), and writes back
    ``saturate(w - round_shift(delta_j * a[i + c], update_shift))`` to the
    address it read, where ``update_shift`` = grad.frac + act.frac + lr_shift
    - weight.frac.

    Members
    -------
    w : In(ArrayLayout(signed(weight.width), cols * lanes))   lane c * lanes + j
    delta : In(ArrayLayout(signed(grad.width), lanes)); a : In(ArrayLayout(signed(act.width), cols))
    addr : In(range(depth)); valid : In(1); lane_en : In(cols * lanes)
    write_addr, write_data, write_en : Out     the weight memory's write port

    With ``own_mac=False`` the products come from a shared :class:`MacArray`
    through ``mac`` (see :class:`~layerpipe.hw.act_grad_a.ActGradA`).

    Latency: the write happens ``latency`` = 3 cycles after the column was
    presented (the MAC array's operand and product registers, then the
    rounded step, so that the subtract and saturation are the only logic
    before the memory's write port); the read of the same address was
    1 cycle before the column. A stage reads each word once a beat, so the
    later write-back changes nothing it reads.

    ``operand_registers``: the MAC array's (:class:`MacArray`); without them
    every latency below is a cycle shorter.
    """

    def __init__(self, lanes, act, weight, grad, update_shift, depth, own_mac=True, cols=1, operand_registers=1):
        self.lanes, self.act, self.weight, self.grad, self.update_shift = lanes, act, weight, grad, update_shift
        self.own_mac, self.cols = own_mac, cols
        self.operand_registers = operand_registers
        self.latency = MacArray.latency_of(operand_registers) + 1
        n = cols * lanes
        members = {
            "w": In(data.ArrayLayout(signed(weight.width), n)),
            "delta": In(data.ArrayLayout(signed(grad.width), lanes)),
            "a": In(data.ArrayLayout(signed(act.width), cols)),
            "addr": In(range(max(depth, 2))),
            "valid": In(1),
            "lane_en": In(n),
            "write_addr": Out(range(max(depth, 2))),
            "write_data": Out(data.ArrayLayout(signed(weight.width), n)),
            "write_en": Out(n),
        }
        if not own_mac:
            members["mac"] = In(MacArray.signature_of(n, grad.width, act.width))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        P, n = self.lanes, self.cols * self.lanes
        mac = MacArray.attach(m, self, n, self.grad.width, self.act.width)
        # the weight read, the column's flags and address follow the products (the MAC array's
        # latency) to meet the rounded step (1 more)
        w = data.ArrayLayout(signed(self.weight.width), n)(
            delayed(m, self.w.as_value(), self.latency, "w", reset_less=True))
        col = delayed(m, Cat(self.valid, self.lane_en, self.addr), self.latency, "col")
        valid, lane_en = col[0], col[1:1 + n]
        m.d.comb += [self.write_addr.eq(col[1 + n:]), self.write_en.eq(lane_en & valid.replicate(n))]
        for c in range(self.cols):
            for j in range(P):
                k = c * P + j
                m.d.comb += [mac.a[k].eq(self.delta[j]), mac.b[k].eq(self.a[c])]
                product = mac.p[k]
                step = Signal(signed(len(product) + 1), name=f"step{k}")
                m.d.sync += step.eq(round_shift(product, self.update_shift))
                m.d.comb += self.write_data[k].eq(narrow(w[k] - step, 0, self.weight))
        return m
