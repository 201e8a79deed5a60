from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .mac_array import MacArray
from .narrow import narrow, round_shift


class WeightGradUnit(wiring.Component):
    """Weight-gradient task W with the update in place:
    ``W[row_j, i] -= lr * delta_j * a[i]``.

    Each cycle lane j gets the weight it just read, its delta_j (constant over
    a pass) and the broadcast a[i] of the sample being trained (from the delay
    FIFO), and writes back ``saturate(w - round_shift(delta_j * a[i],
    update_shift))`` to the address it read, where ``update_shift`` =
    grad.frac + act.frac + lr_shift - weight.frac.

    Members
    -------
    w : In(ArrayLayout(signed(weight.width), lanes)); delta : In(ArrayLayout(signed(grad.width), lanes))
    a : In(signed(act.width)); addr : In(range(depth)); valid : In(1); lane_en : In(lanes)
    write_addr, write_data, write_en : Out     the weight memory's write port

    With ``own_mac=False`` the products come from a shared :class:`MacArray`
    through ``mac`` (see :class:`~layerpipe.hw.act_grad_a.ActGradA`).

    Latency: the write happens 1 cycle after the column was presented (the
    product register); the read of the same address was 1 cycle before that.
    """
    LATENCY = 1

    def __init__(self, lanes, act, weight, grad, update_shift, depth, own_mac=True):
        self.lanes, self.act, self.weight, self.grad, self.update_shift = lanes, act, weight, grad, update_shift
        self.own_mac = own_mac
        members = {
            "w": In(data.ArrayLayout(signed(weight.width), lanes)),
            "delta": In(data.ArrayLayout(signed(grad.width), lanes)),
            "a": In(signed(act.width)),
            "addr": In(range(max(depth, 2))),
            "valid": In(1),
            "lane_en": In(lanes),
            "write_addr": Out(range(max(depth, 2))),
            "write_data": Out(data.ArrayLayout(signed(weight.width), lanes)),
            "write_en": Out(lanes),
        }
        if not own_mac:
            members["mac"] = In(MacArray.signature_of(lanes, grad.width, act.width))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        mac = MacArray.attach(m, self, self.lanes, self.grad.width, self.act.width)
        w = Signal.like(self.w)
        valid, lane_en = Signal(), Signal(self.lanes)
        m.d.sync += [w.eq(self.w), valid.eq(self.valid), lane_en.eq(self.lane_en),
                     self.write_addr.eq(self.addr)]
        m.d.comb += self.write_en.eq(lane_en.replicate(1) & valid.replicate(self.lanes))
        for j in range(self.lanes):
            m.d.comb += [mac.a[j].eq(self.delta[j]), mac.b[j].eq(self.a)]
            step = round_shift(mac.p[j], self.update_shift)
            m.d.comb += self.write_data[j].eq(narrow(w[j] - step, 0, self.weight))
        return m
