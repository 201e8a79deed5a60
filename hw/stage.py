from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .act_grad_a import ActGradA
from .act_grad_b import ActGradB
from .delay_fifo import DelayFifo
from .forward_unit import ForwardUnit
from .narrow import narrow, round_shift
from .weight_grad_unit import WeightGradUnit
from .weight_memory import WeightMemory


class Stage(wiring.Component):
    """One layer's stage of the pipeline: in one beat, the forward of one
    sample and the backward (act_grad_b, then weight_grad and act_grad_a in
    parallel) of an older one, as in DESIGN.md 3.

    The three MAC tasks share one sweep of the weight memory: in cycle
    (r, i) lane j reads W[r*lanes + j, i] once, forward accumulates it with
    a[i], act_grad_a sums it times delta_j over the lanes, and weight_grad
    writes back W - lr*delta_j*a_old[i]; reads therefore see the weights of
    the end of the previous beat. Biases live in registers and are updated
    when the beat ends.

    Parameters: ``n_in``, ``n_out``, ``lanes``; formats ``act``, ``weight``,
    ``grad``; ``hidden`` (ReLU, else linear output); ``act_grad_a`` (False on
    layer 1); ``delay`` (beats the delay FIFO holds a sample, 2(L-l)+1);
    ``in_lanes`` (values per write into the delay FIFO: the producer's lanes);
    ``grad_lanes`` (values per write of g_in); shifts and initial parameters.

    Members
    -------
    start : In(1)           begin a beat (only while ``busy`` is low)
    fwd_en, bwd_en : In(1)  whether this beat has a forward / backward sample (read at ``start``)
    busy : Out(1)           high from the cycle after ``start`` until the beat is complete
    act_in : In(stream, always ready)    the next sample's a_{l-1}, written into the delay FIFO:
        words in order, ``last`` on the final one; the whole sample before the
        ``start`` of the beat that runs it forward, and at most one sample ahead
        (it may be written at any cycle of the beat before, busy or idle)
    act_out : Out(stream, always ready)  a_l, one pass of ``lanes`` values at a time
    grad_in : In(stream, always ready)   g_l for the next beat: from the cycle after
        ``start`` of beat k (the cycle act_grad_b loads delta from the buffer)
        up to and including the ``start`` cycle of beat k+1; a write in the
        ``start`` cycle of beat k would reach beat k's delta
    grad_out : Out(stream, always ready) g_{l-1}, one value per cycle (if act_grad_a)
    read_addr : In; read_data : Out      weight read-back while idle (bank word address)
    bias : Out                            the biases (initialised from ``init_biases``)

    Cycles per beat (``start`` to ``busy`` low): ``passes * n_in + LATENCY``
    with passes = ceil(n_out / lanes).
    """
    # start (1) + load delta (1) + memory read, product, accumulate/write/output (3) + bias update (1)
    LATENCY = 6

    def __init__(self, *, n_in, n_out, lanes, act, weight, grad, hidden, act_grad_a, delay,
                 in_lanes, grad_lanes, update_shift, bias_shift, acc_width, g_acc_width,
                 init_weights=None, init_biases=None):
        self.n_in, self.n_out, self.lanes = n_in, n_out, lanes
        self.act, self.weight, self.grad = act, weight, grad
        self.hidden, self.has_act_grad_a, self.delay = hidden, act_grad_a, delay
        self.in_lanes, self.grad_lanes = in_lanes, grad_lanes
        self.update_shift, self.bias_shift = update_shift, bias_shift
        self.acc_width, self.g_acc_width = acc_width, g_acc_width
        self.passes = -(-n_out // lanes)
        self.init_weights, self.init_biases = init_weights, init_biases
        self.act_in_layout = data.StructLayout({
            "word": range(max(-(-n_in // in_lanes), 2)),
            "a": data.ArrayLayout(signed(act.width), in_lanes), "mask": in_lanes, "last": 1})
        self.act_out_layout = data.StructLayout({
            "word": range(max(self.passes, 2)),
            "a": data.ArrayLayout(signed(act.width), lanes), "mask": lanes, "last": 1})
        self.grad_in_layout = ActGradB.layout(n_out, grad, grad_lanes)
        self.grad_out_layout = ActGradB.layout(n_in, grad, 1)
        super().__init__({
            "start": In(1), "fwd_en": In(1), "bwd_en": In(1), "busy": Out(1),
            "act_in": In(stream.Signature(self.act_in_layout, always_ready=True)),
            "act_out": Out(stream.Signature(self.act_out_layout, always_ready=True)),
            "grad_in": In(stream.Signature(self.grad_in_layout, always_ready=True)),
            "grad_out": Out(stream.Signature(self.grad_out_layout, always_ready=True)),
            "read_addr": In(range(max(self.passes * n_in, 2))),
            "read_data": Out(data.ArrayLayout(signed(weight.width), lanes)),
            "bias": Out(data.ArrayLayout(signed(weight.width), n_out),
                        init=[int(v) for v in init_biases] if init_biases is not None else None),
        })

    @property
    def cycles_per_beat(self):
        return self.passes * self.n_in + self.LATENCY

    def elaborate(self, platform):
        m = Module()
        P, R, n_in, n_out = self.lanes, self.passes, self.n_in, self.n_out
        depth = R * n_in
        m.submodules.weight_memory = wmem = WeightMemory(n_in, n_out, P, self.weight.width, self.init_weights)
        m.submodules.delay_fifo = fifo = DelayFifo(n_in, self.act.width, self.in_lanes, self.delay,
                                                   n_out, P, store_fprime=self.hidden)
        m.submodules.forward = fwd = ForwardUnit(P, self.act, self.weight, self.acc_width, self.hidden)
        m.submodules.weight_grad = wgrad = WeightGradUnit(P, self.act, self.weight, self.grad,
                                                          self.update_shift, depth)
        m.submodules.act_grad_b = agb = ActGradB(n_out, self.grad, self.grad_lanes)

        # -- the delay FIFO is filled by the producer, whatever this stage is doing
        m.d.comb += [fifo.write_word.eq(self.act_in.p.word), fifo.write_data.eq(self.act_in.p.a),
                     fifo.write_mask.eq(self.act_in.p.mask), fifo.write_valid.eq(self.act_in.valid),
                     fifo.write_last.eq(self.act_in.p.last)]
        wiring.connect(m, wiring.flipped(self.grad_in), agb.g_in)

        # -- beat control: LOAD (delta), SWEEP (issue columns), DRAIN (latency), BIAS
        fwd_en, bwd_en = Signal(), Signal()
        r = Signal(range(max(R, 2)))
        i = Signal(range(max(n_in, 2)))
        # i as (word, lane) of the delay FIFO's in_lanes-wide words, counted rather than divided
        word = Signal(range(max(-(-n_in // self.in_lanes), 2)))
        lane = Signal(range(max(self.in_lanes, 2)))
        addr = Signal(range(max(depth, 2)))
        issue = Signal()
        drain = Signal(range(4))
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [fwd_en.eq(self.fwd_en), bwd_en.eq(self.bwd_en), r.eq(0), i.eq(0), addr.eq(0),
                                 word.eq(0), lane.eq(0)]
                    m.d.comb += [fifo.fwd_start.eq(self.fwd_en), fifo.bwd_start.eq(self.bwd_en)]
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += [self.busy.eq(1), agb.load.eq(bwd_en), agb.fprime.eq(fifo.fprime_out)]
                m.next = "SWEEP"
            with m.State("SWEEP"):
                m.d.comb += [self.busy.eq(1), issue.eq(1)]
                m.d.sync += addr.eq(addr + 1)
                with m.If(i == n_in - 1):
                    m.d.sync += [i.eq(0), r.eq(r + 1), word.eq(0), lane.eq(0)]
                    with m.If(r == R - 1):
                        m.d.sync += drain.eq(0)
                        m.next = "DRAIN"
                with m.Else():
                    m.d.sync += i.eq(i + 1)
                    with m.If(lane == self.in_lanes - 1):
                        m.d.sync += [lane.eq(0), word.eq(word + 1)]
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += drain.eq(drain + 1)
                with m.If(drain == 2):
                    m.next = "BIAS"
            with m.State("BIAS"):
                m.d.comb += self.busy.eq(1)
                with m.If(bwd_en):
                    for k in range(n_out):
                        m.d.sync += self.bias[k].eq(
                            narrow(self.bias[k] - round_shift(agb.delta[k], self.bias_shift), 0, self.weight))
                m.next = "IDLE"

        # -- t0: addresses
        m.d.comb += [wmem.read_addr.eq(Mux(issue, addr, self.read_addr)),
                     fifo.fwd_word.eq(word), fifo.fwd_lane.eq(lane), fifo.bwd_word.eq(word), fifo.bwd_lane.eq(lane)]
        m.d.comb += self.read_data.eq(wmem.read_data)
        # -- t1: memory data; the column's position travels with it
        t1 = {name: Signal.like(sig, name=f"t1_{name}") for name, sig in
              dict(valid=issue, r=r, i=i, addr=addr).items()}
        m.d.sync += [t1[k].eq(v) for k, v in dict(valid=issue, r=r, i=i, addr=addr).items()]
        first, last = t1["i"] == 0, t1["i"] == n_in - 1
        # rows of this pass: lane j holds row r*P + j; rows past n_out are idle (delta 0)
        delta = [Array([agb.delta[q * P + j] if q * P + j < n_out else 0 for q in range(R)])[t1["r"]]
                 for j in range(P)]
        bias = [Array([self.bias[q * P + j] if q * P + j < n_out else 0 for q in range(R)])[t1["r"]]
                for j in range(P)]
        # per pass, the lanes whose rows exist (the last pass may be partly idle)
        row_mask = Array([sum(1 << j for j in range(P) if q * P + j < n_out) for q in range(R)])
        lane_en = Signal(P)
        m.d.comb += lane_en.eq(row_mask[t1["r"]])

        m.d.comb += [fwd.w.eq(wmem.read_data), fwd.a.eq(fifo.fwd_value),
                     fwd.valid.eq(t1["valid"] & fwd_en), fwd.first.eq(first), fwd.last.eq(last)]
        for j in range(P):
            m.d.comb += fwd.bias[j].eq(bias[j])
        m.d.comb += [wgrad.w.eq(wmem.read_data), wgrad.a.eq(fifo.bwd_value), wgrad.addr.eq(t1["addr"]),
                     wgrad.valid.eq(t1["valid"] & bwd_en), wgrad.lane_en.eq(lane_en)]
        for j in range(P):
            m.d.comb += wgrad.delta[j].eq(delta[j])
        m.d.comb += [wmem.write_addr.eq(wgrad.write_addr), wmem.write_data.eq(wgrad.write_data),
                     wmem.write_en.eq(wgrad.write_en)]

        if self.has_act_grad_a:
            m.submodules.act_grad_a = aga = ActGradA(P, self.weight, self.grad, n_in, R, self.g_acc_width)
            m.d.comb += [aga.w.eq(wmem.read_data), aga.index.eq(t1["i"]),
                         aga.valid.eq(t1["valid"] & bwd_en),
                         aga.first_pass.eq(t1["r"] == 0), aga.last_pass.eq(t1["r"] == R - 1)]
            for j in range(P):
                m.d.comb += aga.delta[j].eq(delta[j])
            m.d.comb += [self.grad_out.valid.eq(aga.out.valid), self.grad_out.p.index.eq(aga.out.p.index),
                         self.grad_out.p.g[0].eq(aga.out.p.g), self.grad_out.p.mask.eq(1)]

        # -- forward results: the pass number travels with the last column
        out_r = Signal.like(r)
        r_t2 = Signal.like(r)
        m.d.sync += [r_t2.eq(t1["r"]), out_r.eq(r_t2)]
        m.d.comb += [self.act_out.valid.eq(fwd.out.valid), self.act_out.p.a.eq(fwd.out.p.a),
                     self.act_out.p.word.eq(out_r), self.act_out.p.last.eq(out_r == R - 1),
                     self.act_out.p.mask.eq(row_mask[out_r]),
                     fifo.fprime_write.eq(fwd.out.valid), fifo.fprime_word.eq(out_r),
                     fifo.fprime_bits.eq(fwd.out.p.fprime)]
        return m
