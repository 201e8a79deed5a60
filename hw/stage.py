from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .act_grad_a import ActGradA
from .act_grad_b import ActGradB
from .bias_update import BiasUpdate
from .delay_fifo import DelayFifo
from .forward_unit import ForwardUnit, pass_layout
from .mac_array import MacArray, delayed
from .plan import stage_latency, task_operands
from .sweep import Sweep
from .weight_grad_unit import WeightGradUnit
from .weight_memory import WeightMemory


class Stage(wiring.Component):
    """One layer's stage of the pipeline: in one beat, the forward of one
    sample and the backward (act_grad_b, then weight_grad and act_grad_a) of
    an older one, as in DESIGN.md 3.

    Every task unit is ``lanes x cols`` multipliers: ``lanes`` rows (as
    many outputs) at once and ``cols`` adjacent columns per cycle, so a pass
    over the inputs takes F = ceil(n_in / cols) cycles and a sweep
    passes * F, passes = ceil(n_out / lanes).

    ``backward="lockstep"`` (LayerPipe): the three MAC tasks share one sweep
    of the weight memory: in cycle (r, t) lane (c, j) reads
    W[r*lanes + j, t*cols + c] once, forward accumulates it with a[t*cols + c],
    act_grad_a sums it times delta_j over the lanes, and weight_grad writes
    back W - lr*delta_j*a_old[t*cols + c]; reads therefore see the weights of
    the end of the previous beat.

    ``backward="b_then_w"`` (PipeDream's backward as one task): forward sweeps
    with its ``lanes x cols`` as above, while one backward unit of
    ``lanes x 2 cols`` multipliers, the same rows and twice the columns at a
    time, sharing one MAC array, sweeps twice: first act_grad_a (B), then
    weight_grad (W); each sweep takes H = ceil(n_in / (2 cols)) cycles per
    pass. The memory holds ``2 cols`` columns per word and has a second read
    port for forward, which reads half a word per cycle (F = ceil(n_in / cols)
    <= 2H cycles per pass). Word t of pass r is written back in round 2 at
    cycle (passes + r) * H + t + d (d = ``WeightGradUnit``'s latency >= 1)
    >= (2r + 1) * H + t + 1 (as passes > r), after forward read it: its data
    arrives at r * F + 2t + 1 <= 2rH + 2t + 1 at the latest (t < H), so it was
    read at the edge before. Cycles count from the sweeps' first; a sweep
    addresses the memory with the next values of its counters, so a word's
    data arrives in the cycle its columns are issued, and the write-back comes
    d cycles after that. So forward too sees the weights of the previous beat;
    and the beat's last write-back (d cycles after the last column) commits
    before the next beat's first read, at the edge after the next ``start``
    (``stage_latency()`` > d cycles after the last column).

    Biases live in registers; the rows of pass r are updated at the edge where
    forward's accumulators take their biases (``ForwardUnit``'s ``bias_delay`` cycles
    after its first column of pass r), so forward sees the biases of the
    previous beat and one subtract-and-saturate unit per lane does
    (:class:`BiasUpdate`).

    Parameters: ``plan``, the layer's :class:`~layerpipe.hw.plan.LayerPlan`
    (sizes, lanes, columns, formats, shifts, delay, backward organisation,
    the FIFO's ``in_lanes``: the producer's lanes or the input loader's
    values per transfer, and g's ``grad_lanes``); ``init_weights``
    (n_out x n_in integers) and ``init_biases``.

    Members
    -------
    start : In(1)           begin a beat (only while ``busy`` is low)
    fwd_en, bwd_en : In(1)  whether this beat has a forward / backward sample (read at ``start``)
    busy : Out(1)           high from the cycle after ``start`` until the beat's last cycle, in
        which the last outputs are valid and the next ``start`` is already taken
    ending : Out(1)         ``busy`` is low in the next cycle unless ``start`` comes in this one
        (idle, or the beat's last two cycles): the pipeline decides a beat a cycle ahead and
        registers its ``start``
    act_in : In(stream, always ready)    the next sample's a_{l-1}, written into the delay FIFO:
        ``in_lanes`` values per write, in order, ``last`` on the final one; the whole sample before the
        ``start`` of the beat that runs it forward, and at most one sample ahead
        (it may be written at any cycle of the beat before, busy or idle)
    act_out : Out(stream, always ready)  a_l, one pass of ``lanes`` values at a time
    grad_in : In(stream, always ready)   g_l for the next beat: from the cycle after
        ``start`` of beat k (the cycle act_grad_b loads delta from the buffer)
        up to and including the ``start`` cycle of beat k+1; a write in the
        ``start`` cycle of beat k would reach beat k's delta
    grad_out : Out(stream, always ready) g_{l-1}, ``plan.word_cols`` values per cycle (if act_grad_a)
    read_addr : In; read_data : Out      weight read-back while idle: the word of
        ``WeightMemory.location`` (row, col, lanes, word_cols, n_in), all banks
    bias : Out                            the biases (:class:`BiasUpdate`, from ``init_biases``)

    Cycles per beat (``start`` to ``busy`` low, the earliest next ``start``):
    ``plan.cycles_per_beat``, the sweep plus ``stage_latency()``
    (:mod:`layerpipe.hw.plan`): the sweep is ``passes * ceil(n_in / cols)``
    with passes = ceil(n_out / lanes) (``b_then_w``: the longer of that and
    ``passes * 2 * ceil(n_in / (2 cols))``).
    """
    def __init__(self, plan, init_weights=None, init_biases=None):
        self.plan = plan
        n_in, n_out, lanes = plan.n_in, plan.n_out, plan.lanes
        self.n_in, self.n_out, self.lanes, self.cols = n_in, n_out, lanes, plan.cols
        self.passes, self.word_cols = plan.passes, plan.word_cols
        self.backward = plan.backward
        self.init_weights, self.init_biases = init_weights, init_biases
        act, weight, grad, in_lanes = plan.act, plan.weight, plan.grad, plan.in_lanes
        self.act_in_layout = data.StructLayout({
            "a": data.ArrayLayout(signed(act.width), in_lanes), "mask": in_lanes, "last": 1})
        self.act_out_layout = pass_layout(n_out, lanes, act)
        self.grad_in_layout = ActGradB.layout(n_out, grad, plan.grad_lanes)
        self.grad_out_layout = ActGradB.layout(n_in, grad, self.word_cols)
        super().__init__({
            "start": In(1), "fwd_en": In(1), "bwd_en": In(1), "busy": Out(1), "ending": Out(1),
            "act_in": In(stream.Signature(self.act_in_layout, always_ready=True)),
            "act_out": Out(stream.Signature(self.act_out_layout, always_ready=True)),
            "grad_in": In(stream.Signature(self.grad_in_layout, always_ready=True)),
            "grad_out": Out(stream.Signature(self.grad_out_layout, always_ready=True)),
            "read_addr": In(range(max(plan.weight_words, 2))),
            "read_data": Out(data.ArrayLayout(signed(weight.width), plan.banks)),
            "bias": Out(data.ArrayLayout(signed(weight.width), n_out)),
        })

    def _rows(self, values, r):
        """Per row lane j, ``values[r * lanes + j]`` (0 past the end) for the pass ``r`` now presented."""
        P = self.lanes
        return [Array([values[q * P + j] if q * P + j < self.n_out else 0 for q in range(self.passes)])[r]
                for j in range(P)]

    def _row_mask(self):
        """Per pass, the row lanes whose rows exist (the last pass may be partly idle)."""
        P = self.lanes
        return Array([sum(1 << j for j in range(P) if q * P + j < self.n_out) for q in range(self.passes)])

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        P, cols, n_in = self.lanes, self.cols, self.n_in
        K = self.word_cols                             # the backward's columns: lane c * P + j, c < K
        n = K * P
        lockstep = self.backward == "lockstep"
        m.submodules.weight_memory = wmem = WeightMemory(n_in, self.n_out, P, plan.weight.width, self.init_weights,
                                                         cols=K, fwd_cols=cols)
        m.submodules.delay_fifo = fifo = DelayFifo(n_in, plan.act.width, plan.in_lanes, plan.delay,
                                                   self.n_out, P, store_fprime=plan.hidden,
                                                   fwd_reads=cols, bwd_reads=K,
                                                   handover_bypass=plan.handover_bypass)
        m.submodules.forward = fwd = ForwardUnit(P, plan.act, plan.weight, plan.acc_width, plan.hidden, cols=cols,
                                                 operand_registers=plan.operand_registers)
        m.submodules.weight_grad = wgrad = WeightGradUnit(P, plan.act, plan.weight, plan.grad, plan.update_shift,
                                                          plan.weight_words, own_mac=lockstep, cols=K,
                                                          operand_registers=plan.operand_registers)
        m.submodules.act_grad_b = agb = ActGradB(self.n_out, plan.grad, plan.grad_lanes, now=P)
        m.submodules.bias_update = bias_update = BiasUpdate(self.n_out, plan.weight, plan.grad, plan.bias_shift,
                                                            self.init_biases, lanes=P)
        m.d.comb += self.bias.eq(bias_update.bias)

        # -- the delay FIFO is filled by the producer, whatever this stage is doing
        m.d.comb += [fifo.write_data.eq(self.act_in.p.a), fifo.write_mask.eq(self.act_in.p.mask),
                     fifo.write_valid.eq(self.act_in.valid), fifo.write_last.eq(self.act_in.p.last)]
        wiring.connect(m, wiring.flipped(self.grad_in), agb.g_in)

        # -- the sweeps: forward's, and the backward's (the same one in lockstep)
        m.submodules.fwd_sweep = fsw = Sweep(n_in, self.passes, cols, word_cols=K, fifo_cols=fifo.word_values)
        if lockstep:
            bsw = fsw
        else:
            m.submodules.bwd_sweep = bsw = Sweep(n_in, self.passes, K, word_cols=K, fifo_cols=fifo.word_values,
                                                 rounds=2)

        # -- beat control: start the sweeps, wait for them and for the pipeline to drain;
        # the beat's last cycle already accepts the next start
        fwd_en, bwd_en, first = Signal(), Signal(), Signal()
        latency = stage_latency(plan.operand_registers)
        assert latency >= 2, "ending assumes a drain of two cycles or more"
        drain = Signal(range(latency))

        def begin():
            with m.If(self.start):
                m.d.sync += [fwd_en.eq(self.fwd_en), bwd_en.eq(self.bwd_en), first.eq(1)]
                m.d.comb += [fifo.fwd_start.eq(self.fwd_en), fifo.bwd_start.eq(self.bwd_en),
                             fsw.start.eq(1), bsw.start.eq(1)]
                m.next = "SWEEP"

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.ending.eq(1)
                begin()
            with m.State("SWEEP"):
                m.d.comb += [self.busy.eq(1), agb.load.eq(first & bwd_en), agb.fprime.eq(fifo.fprime_out)]
                m.d.sync += first.eq(0)
                with m.If((fsw.final | ~fsw.active) & (bsw.final | ~bsw.active)):
                    m.d.sync += drain.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.sync += drain.eq(drain + 1)
                m.d.comb += self.ending.eq(drain >= latency - 2)
                with m.If(drain == latency - 1):
                    m.next = "IDLE"
                    begin()
                with m.Else():
                    m.d.comb += self.busy.eq(1)

        # -- addresses: the sweeps' next values, so that a column's words arrive in the cycle the
        # sweep issues it (the read takes no cycle of the beat of its own)
        m.d.comb += [wmem.read_addr.eq(Mux(bsw.next_active, bsw.next_addr, self.read_addr)),
                     self.read_data.eq(wmem.read_data),
                     fifo.fwd_word.eq(fsw.next_fifo_word), fifo.fwd_group.eq(fsw.next_fifo_group),
                     fifo.bwd_word.eq(bsw.next_fifo_word), fifo.bwd_group.eq(bsw.next_fifo_group)]
        if lockstep:
            fwd_w = wmem.read_data
        else:
            m.d.comb += [wmem.fwd_addr.eq(fsw.next_addr), wmem.fwd_group.eq(fsw.next_group)]
            fwd_w = wmem.fwd_data

        # -- the memory data of the columns the sweeps issue now
        ft = fsw.issued()
        bt = ft if lockstep else bsw.issued()

        # a column past n_in reads a stale value of the FIFO word: zero it (its weight is 0 too)
        m.d.comb += [fwd.a[c].eq(Mux(ft["col_ok"][c], fifo.fwd_value[c], 0)) for c in range(cols)]
        m.d.comb += [fwd.w.eq(fwd_w), fwd.valid.eq(ft["valid"] & fwd_en),
                     fwd.first.eq(ft["t"] == 0), fwd.last.eq(ft["t"] == fsw.cycles_per_pass - 1)]

        # the backward's first columns (pass 0's rows) come in the cycle act_grad_b loads delta
        delta = self._rows(agb.current(), bt["r"])
        backward = bt["valid"] & bwd_en
        w_phase = backward if lockstep else backward & (bt["round"] == 1)
        # write the rows that exist (the last pass may be partly idle) in the columns that exist
        rows_ok = Signal(P)
        m.d.comb += rows_ok.eq(self._row_mask()[bt["r"]])
        m.d.comb += [wgrad.w.eq(wmem.read_data), wgrad.addr.eq(bt["addr"]), wgrad.valid.eq(w_phase),
                     wgrad.lane_en.eq(Cat(*(rows_ok & bt["col_ok"][c].replicate(P) for c in range(K))))]
        m.d.comb += [wgrad.a[c].eq(fifo.bwd_value[c]) for c in range(K)]
        m.d.comb += [wgrad.delta[j].eq(delta[j]) for j in range(P)]
        self._biases(m, fwd, bias_update, agb, ft, bwd_en)
        m.d.comb += [wmem.write_addr.eq(wgrad.write_addr), wmem.write_data.eq(wgrad.write_data),
                     wmem.write_en.eq(wgrad.write_en)]

        if plan.act_grad_a:
            m.submodules.act_grad_a = aga = ActGradA(P, plan.weight, plan.grad, n_in, self.passes,
                                                     plan.g_acc_width, own_mac=lockstep, cols=K,
                                                     operand_registers=plan.operand_registers)
            b_phase = backward if lockstep else backward & (bt["round"] == 0)
            m.d.comb += [aga.w.eq(wmem.read_data), aga.index.eq(bt["i"]), aga.slot.eq(bt["t"]),
                         aga.valid.eq(b_phase),
                         aga.first_pass.eq(bt["r"] == 0), aga.last_pass.eq(bt["r"] == self.passes - 1)]
            m.d.comb += [aga.delta[j].eq(delta[j]) for j in range(P)]
            wiring.connect(m, aga.out, wiring.flipped(self.grad_out))
            if not lockstep:
                # one MAC array for the backward: B's products in round 1, W's in round 2
                m.submodules.bwd_mac = mac = MacArray(n, *task_operands(("B(a)", "W"), plan.act, plan.weight,
                                                                        plan.grad), plan.operand_registers)
                for k in range(n):
                    m.d.comb += [mac.a[k].eq(Mux(bt["round"], wgrad.mac.a[k], aga.mac.a[k])),
                                 mac.b[k].eq(Mux(bt["round"], wgrad.mac.b[k], aga.mac.b[k])),
                                 wgrad.mac.p[k].eq(mac.p[k]), aga.mac.p[k].eq(mac.p[k])]

        self._send_forward(m, fwd, fifo, ft["r"], fsw.r)
        return m

    def _biases(self, m, fwd, bias_update, agb, ft, bwd_en):
        """Forward reads pass r's biases ``fwd.bias_delay`` cycles after the pass's
        first column (``ft``: forward's issued position), when its accumulators start, and
        they are updated at that same edge, with delta of the sample being trained (its
        rows, registered a cycle before): this beat's forward saw the old biases, the
        next beat's sees the new ones, and no register copies the biases on the way. The
        register keeps the row selection and the update's carry chain in separate
        cycles (Fmax); delta is long loaded by then (act_grad_b)."""
        first = ft["valid"] & (ft["t"] == 0) & bwd_en
        d = fwd.bias_delay
        en_r = delayed(m, Cat(first, ft["r"]), d - 1, "bias_pass")
        rows = self._rows(agb.delta, en_r[1:])[:bias_update.lanes]      # lanes past n_out have no row
        en_r = delayed(m, en_r, 1, "bias_pass_q")
        m.d.sync += [bias_update.delta[j].eq(v) for j, v in enumerate(rows)]
        m.d.comb += [bias_update.en.eq(en_r[0]), bias_update.r.eq(en_r[1:])]
        for j, b in enumerate(self._rows(self.bias, en_r[1:])):
            m.d.comb += fwd.bias[j].eq(b)

    def _send_forward(self, m, fwd, fifo, r, r_shape):
        """Forward's results to ``act_out`` and their f' into the delay FIFO: the pass
        number ``r`` (of the column presented) travels with the last column."""
        out_r = r
        for k in range(fwd.latency):
            r_k = Signal.like(r_shape, name=f"fwd_r_t{k + 1}")
            m.d.sync += r_k.eq(out_r)
            out_r = r_k
        m.d.comb += [self.act_out.valid.eq(fwd.out.valid), self.act_out.p.a.eq(fwd.out.p.a),
                     self.act_out.p.word.eq(out_r), self.act_out.p.last.eq(out_r == self.passes - 1),
                     self.act_out.p.mask.eq(self._row_mask()[out_r]),
                     fifo.fprime_write.eq(fwd.out.valid), fifo.fprime_word.eq(out_r),
                     fifo.fprime_bits.eq(fwd.out.p.fprime)]
