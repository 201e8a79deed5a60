"""The multiprocessor pipeline: P equal MAC-array processors run the
scheduler's assignment (DESIGN.md 3b, issue 14; the plan is
:mod:`layerpipe.hw.processor_plan`).

Every layer keeps its state where the dedicated design keeps it (weights,
delay FIFO, the g buffer and delta, biases: :class:`LayerState`) and its
three task units (forward, weight_grad, act_grad_a) with their sweeps, but
no multipliers: each unit's products come from the :class:`Processor` its
task is assigned to, one :class:`~layerpipe.hw.mac_array.MacArray` shared by
that processor's tasks through a multiplexer. The units, sweeps and the
rounding are the dedicated design's; only who multiplies, and when, changes.

Why this keeps the beat contract (DESIGN.md 3), so that the golden model is
unchanged and every bit must match it:

- A period is one beat: it starts when every processor is idle (the
  pipeline's ``go``) and ends when every processor has drained. Within it,
  tasks run at any time and on any processor, so every value one task hands
  to another must cross the period boundary, never be read in the period it
  is written:
- weights: W_l updates in place in the dedicated design because F_l, B_l(a)
  and W_l read each word in the same cycle (lockstep). Here they run at
  different times, concurrently on different processors or one after another
  on one, in either order, so the weights are ping-pong: two copies of every
  bank; all reads of period k (F_l, B_l(a), W_l's own) see copy ``cur``,
  which holds the weights of the end of period k-1; W_l writes every word it
  updates into copy ``1 - cur``; ``cur`` flips in the period's last cycle if
  the layer trained in it. An ordering argument cannot replace this: with
  F_l and W_l on two processors running at once, F_l may read a word after
  W_l wrote it;
- activations a_{l-1} and f': the delay FIFO already holds ``delay + 2``
  slots, one per sample in flight; F_{l-1} writes sample s's slot in period
  k-1, F_l reads it in period k and W_l ``delay`` periods later, and a slot's
  read pointers move only at a period's start, so producer and consumers
  never touch one slot in the same period, whatever their order;
- gradients: B_{l+1}(a) (or the output error) writes g_l into layer l's
  buffer during period k; ``act_grad_b`` turns the whole buffer into delta_l
  in the first cycle of period k+1, before any task of k+1 can write it
  again (a sweep's first output comes cycles later), and W_l and B_l(a) read
  only delta (in the load cycle, when a task's first pass runs, its rows'
  values being loaded: act_grad_b's ``current()``): double-buffered;
- biases: the rows of pass r are updated at the edge where the forward task's
  accumulators take them (``ForwardUnit``'s ``bias_delay`` cycles after its first
  column of pass r), with delta of the sample being trained, still within
  the period.

The period ends ``stage_latency()`` cycles after a processor's last task
issued its last column (the slowest unit's pipeline: act_grad_a's g leaves
in that last cycle, W's write-back 1 cycle earlier), as a stage's beat does.
The sweeps address the memories (weights, delay FIFO) with the next values
of their counters (:class:`~layerpipe.hw.sweep.Sweep`), so a column's words
arrive in the cycle it is issued; the next period's first read is addressed
in the period's last cycle, which therefore reads copy ``cur`` as it is
after the flip (``cur_now``).
"""
from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from .act_grad_a import ActGradA
from .act_grad_b import ActGradB
from .bias_update import BiasUpdate
from .delay_fifo import DelayFifo
from .forward_unit import ForwardUnit
from .mac_array import MacArray
from .pipeline import Pipeline
from .plan import stage_latency, task_operands
from .processor_plan import TASK_OF
from .stage import Stage
from .sweep import Sweep
from .weight_grad_unit import WeightGradUnit
from .weight_memory import WeightMemory


def unit_operands(plan, kind):
    """(a_width, b_width) of the products of a layer's task unit ``kind`` (plan.task_operands)."""
    return task_operands((TASK_OF[kind],), plan.act, plan.weight, plan.grad)


def layer_kinds(plan):
    """The task kinds of a layer: forward, weight_grad and (past layer 1) act_grad_a."""
    return ("forward", "weight_grad") + (("act_grad_a",) if plan.act_grad_a else ())


class LayerState(wiring.Component):
    """One layer of the multiprocessor design: a :class:`~layerpipe.hw.stage.Stage`
    (same ports, same beat semantics) whose three tasks run when processors say
    so, on their multipliers.

    Parameters: ``plan`` (the layer's lockstep :class:`~layerpipe.hw.plan.LayerPlan`:
    ``lanes`` rows and ``cols`` columns per cycle for every task),
    ``init_weights``, ``init_biases``.

    Members
    -------
    the :class:`Stage`'s (``start``, ``fwd_en``, ``bwd_en``, ``busy``, ``act_in``,
    ``act_out``, ``grad_in``, ``grad_out``, ``read_addr``, ``read_data``, ``bias``), and
    period_busy : In(1)     a processor is still running this period; ``busy`` follows it
    period_ending : In(1)   every processor is ending (:class:`Processor`); ``ending`` follows it
    <kind>_go : In(1)       start task ``kind`` (forward, weight_grad, act_grad_a): its sweep
        issues columns from the next cycle, ``passes * ceil(n_in / cols)`` cycles
    <kind>_final : Out(1)   the task issues its last column this cycle
    <kind>_mac : In(MacArray.signature_of(lanes * cols, ...))  the task unit's operands and,
        one cycle later, its products, from the processor that runs it

    Timing: ``start`` is a period's first cycle; delta is loaded in the next;
    the period's last cycle is the first in which ``period_busy`` is low
    (the weight copy flips); the next ``start`` may come then.
    Memory: every weight bank holds two copies of ``weight_words`` words
    (module docstring); read-back reads the current one.
    """

    # the stage's helpers: rows of a pass, the rows that exist, forward's results
    _rows, _row_mask, _send_forward = Stage._rows, Stage._row_mask, Stage._send_forward
    _biases = Stage._biases

    def __init__(self, plan, init_weights=None, init_biases=None):
        stage = Stage(plan, init_weights, init_biases)    # the ports and layouts are the stage's
        stage._MustUse__silence = True                    # never elaborated
        self.plan = plan
        self.n_in, self.n_out, self.lanes, self.cols = plan.n_in, plan.n_out, plan.lanes, plan.cols
        self.passes, self.word_cols = plan.passes, plan.word_cols
        self.init_weights, self.init_biases = init_weights, init_biases
        n = plan.lanes * plan.cols
        members = dict(stage.signature.members.items())
        members.update(period_busy=In(1), period_ending=In(1))
        for kind in layer_kinds(plan):
            members[f"{kind}_go"] = In(1)
            members[f"{kind}_final"] = Out(1)
            members[f"{kind}_mac"] = In(MacArray.signature_of(n, *unit_operands(plan, kind)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        P, C, n_in, n_out = self.lanes, self.cols, self.n_in, self.n_out
        if plan.word_cols != C:
            raise ValueError(f"layer {plan.layer}: a multiprocessor layer needs its lockstep plan "
                             f"(word_cols {plan.word_cols} != cols {C})")
        D = plan.weight_words

        m.submodules.delay_fifo = fifo = DelayFifo(n_in, plan.act.width, plan.in_lanes, plan.delay, n_out, P,
                                                   store_fprime=plan.hidden, fwd_reads=C, bwd_reads=C,
                                                   handover_bypass=plan.handover_bypass)
        m.submodules.forward = fwd = ForwardUnit(P, plan.act, plan.weight, plan.acc_width, plan.hidden, cols=C,
                                                 own_mac=False)
        m.submodules.weight_grad = wgrad = WeightGradUnit(P, plan.act, plan.weight, plan.grad, plan.update_shift,
                                                          D, own_mac=False, cols=C)
        m.submodules.act_grad_b = agb = ActGradB(n_out, plan.grad, plan.grad_lanes, now=P)
        m.submodules.bias_update = bias_update = BiasUpdate(n_out, plan.weight, plan.grad, plan.bias_shift,
                                                            self.init_biases, lanes=P)
        m.d.comb += self.bias.eq(bias_update.bias)
        m.d.comb += [fifo.write_data.eq(self.act_in.p.a), fifo.write_mask.eq(self.act_in.p.mask),
                     fifo.write_valid.eq(self.act_in.valid), fifo.write_last.eq(self.act_in.p.last)]
        wiring.connect(m, wiring.flipped(self.grad_in), agb.g_in)

        sweeps = {}
        for kind in layer_kinds(plan):
            sweeps[kind] = sw = Sweep(n_in, self.passes, C, word_cols=C, fifo_cols=fifo.word_values)
            m.submodules[f"{kind}_sweep"] = sw
            m.d.comb += [sw.start.eq(getattr(self, f"{kind}_go")), getattr(self, f"{kind}_final").eq(sw.final)]
        fsw, wsw = sweeps["forward"], sweeps["weight_grad"]

        # -- the period: enables and delta at its start; the weight copy at its end
        fwd_en, bwd_en, first, running = Signal(), Signal(), Signal(), Signal()
        cur = Signal()                  # the weight copy that holds the end of the last period
        m.d.comb += [self.busy.eq(self.period_busy), self.ending.eq(self.period_ending)]
        m.d.comb += [agb.load.eq(first & bwd_en), agb.fprime.eq(fifo.fprime_out)]
        end, cur_now = Signal(), Signal()
        m.d.sync += first.eq(self.start)
        m.d.comb += [end.eq(running & ~self.period_busy & ~first), cur_now.eq(cur ^ (end & bwd_en))]
        with m.If(end):
            m.d.sync += [cur.eq(cur_now), running.eq(0)]
        with m.If(self.start):
            m.d.sync += [fwd_en.eq(self.fwd_en), bwd_en.eq(self.bwd_en), running.eq(1)]
            m.d.comb += [fifo.fwd_start.eq(self.fwd_en), fifo.bwd_start.eq(self.bwd_en)]

        # -- the weights: two copies in every bank, read at cur, written at 1 - cur
        layout = WeightMemory(n_in, n_out, P, plan.weight.width, self.init_weights, cols=C)
        layout._MustUse__silence = True                   # only its bank layout and contents are used
        # a read-back address may come in the period's last cycle already: it reads the copy just written
        read_base, write_base = Mux(cur_now, D, 0), Mux(cur, 0, D)
        data = {kind: Signal.like(self.read_data, name=f"{kind}_w") for kind in sweeps}
        addr = {kind: sw.next_addr + read_base for kind, sw in sweeps.items()}
        addr["forward"] = Mux(fsw.next_active, fsw.next_addr, self.read_addr) + read_base   # read-back while idle
        # one memory of every bank's value per word (a write enable per bank): see WeightMemory
        init = layout.word_init()
        m.submodules.banks = mem = memory.Memory(shape=layout.word_layout, depth=2 * max(D, 1), init=init + init)
        wr = mem.write_port(granularity=1)
        m.d.comb += [wr.addr.eq(wgrad.write_addr + write_base), wr.data.eq(wgrad.write_data),
                     wr.en.eq(wgrad.write_en)]
        for kind in sweeps:
            rd = mem.read_port()
            m.d.comb += [rd.addr.eq(addr[kind]), data[kind].eq(rd.data)]
        m.d.comb += self.read_data.eq(data["forward"])

        # -- forward: as in the stage, on the processor's multipliers
        ft = fsw.issued()
        m.d.comb += [fifo.fwd_word.eq(fsw.next_fifo_word), fifo.fwd_group.eq(fsw.next_fifo_group)]
        m.d.comb += [fwd.a[c].eq(Mux(ft["col_ok"][c], fifo.fwd_value[c], 0)) for c in range(C)]
        m.d.comb += [fwd.w.eq(data["forward"]), fwd.valid.eq(ft["valid"] & fwd_en),
                     fwd.first.eq(ft["t"] == 0), fwd.last.eq(ft["t"] == fsw.cycles_per_pass - 1)]
        self._biases(m, fwd, bias_update, agb, ft, bwd_en)
        self._send_forward(m, fwd, fifo, ft["r"], fsw.r)

        # -- weight_grad: reads copy cur and a_{l-1} of the sample being trained, writes copy 1 - cur
        wt = wsw.issued()
        m.d.comb += [fifo.bwd_word.eq(wsw.next_fifo_word), fifo.bwd_group.eq(wsw.next_fifo_group)]
        rows_ok = Signal(P)
        m.d.comb += rows_ok.eq(self._row_mask()[wt["r"]])
        m.d.comb += [wgrad.w.eq(data["weight_grad"]), wgrad.addr.eq(wt["addr"]), wgrad.valid.eq(wt["valid"] & bwd_en),
                     wgrad.lane_en.eq(Cat(*(rows_ok & wt["col_ok"][c].replicate(P) for c in range(C))))]
        m.d.comb += [wgrad.a[c].eq(fifo.bwd_value[c]) for c in range(C)]
        m.d.comb += [wgrad.delta[j].eq(d) for j, d in enumerate(self._rows(agb.current(), wt["r"]))]

        units = {"forward": fwd, "weight_grad": wgrad}
        if plan.act_grad_a:
            m.submodules.act_grad_a = aga = ActGradA(P, plan.weight, plan.grad, n_in, self.passes,
                                                     plan.g_acc_width, own_mac=False, cols=C)
            bt = sweeps["act_grad_a"].issued()
            m.d.comb += [aga.w.eq(data["act_grad_a"]), aga.index.eq(bt["i"]), aga.slot.eq(bt["t"]),
                         aga.valid.eq(bt["valid"] & bwd_en),
                         aga.first_pass.eq(bt["r"] == 0), aga.last_pass.eq(bt["r"] == self.passes - 1)]
            m.d.comb += [aga.delta[j].eq(d) for j, d in enumerate(self._rows(agb.current(), bt["r"]))]
            wiring.connect(m, aga.out, wiring.flipped(self.grad_out))
            units["act_grad_a"] = aga

        # -- each unit's products come from outside
        for kind, unit in units.items():
            port = getattr(self, f"{kind}_mac")
            m.d.comb += [port.a.eq(unit.mac.a), port.b.eq(unit.mac.b), unit.mac.p.eq(port.p)]
        return m


class Processor(wiring.Component):
    """One processor: a :class:`~layerpipe.hw.mac_array.MacArray` of ``lanes``
    multipliers that runs its fixed list of tasks one after another each period.

    Parameters: ``lanes``; ``tasks``, per task in run order ``(multipliers,
    a_width, b_width)`` of its unit (at most ``lanes`` multipliers);
    ``a_width``, ``b_width`` of the array (at least every task's).

    Members
    -------
    start : In(1)            a period begins: task 0 starts now
    busy : Out(1)            from the cycle after ``start`` until the period's last cycle, which is
        ``stage_latency()`` cycles after the last task's ``final`` (busy low: ``start`` may come)
    ending : Out(1)          ``busy`` is low in the next cycle unless ``start`` comes in this one
    go<k> : Out(1)           start task k (in ``start``'s cycle, or in task k-1's ``final`` cycle)
    final<k> : In(1)         task k issues its last column this cycle
    mac<k> : Out(MacArray.signature_of(...))   task k's operands in, products out (``MacArray.latency_of(1)`` cycles)

    The operands a task presents reach the array in the cycle its sweep
    issues their column (the sweeps address the memories with their next
    values), so the multiplexer follows the running task; task k+1's first
    operands arrive the cycle after task k's last: no gap and no overlap.
    """

    def __init__(self, lanes, tasks, a_width, b_width):
        self.lanes, self.tasks, self.a_width, self.b_width = lanes, tuple(tasks), a_width, b_width
        members = {"start": In(1), "busy": Out(1), "ending": Out(1)}
        for k, (n, aw, bw) in enumerate(self.tasks):
            if n > lanes or aw > a_width or bw > b_width:
                raise ValueError(f"task {k}: {n} products of {aw} x {bw} bits do not fit {lanes} of "
                                 f"{a_width} x {b_width}")
            members.update({f"go{k}": Out(1), f"final{k}": In(1), f"mac{k}": Out(MacArray.signature_of(n, aw, bw))})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        K = len(self.tasks)
        if K == 0:
            m.d.comb += self.ending.eq(1)
            return m
        m.submodules.mac_array = mac = MacArray(self.lanes, self.a_width, self.b_width)   # operand registers
        cur = Signal(range(max(K, 2)))        # the task whose sweep runs: its operands reach the array
        with m.Switch(cur):
            for k, (n, _, _) in enumerate(self.tasks):
                with m.Case(k):
                    port = getattr(self, f"mac{k}")
                    m.d.comb += [mac.a[j].eq(port.a[j]) for j in range(n)]
                    m.d.comb += [mac.b[j].eq(port.b[j]) for j in range(n)]
        for k, (n, _, _) in enumerate(self.tasks):
            m.d.comb += [getattr(self, f"mac{k}").p[j].eq(mac.p[j]) for j in range(n)]

        latency = stage_latency()
        drain = Signal(range(latency))

        def begin():
            with m.If(self.start):
                m.d.comb += self.go0.eq(1)
                m.d.sync += cur.eq(0)
                m.next = "RUN"
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.ending.eq(1)
                begin()
            with m.State("RUN"):
                m.d.comb += self.busy.eq(1)
                with m.Switch(cur):
                    for k in range(K):
                        with m.Case(k), m.If(getattr(self, f"final{k}")):
                            if k + 1 < K:
                                m.d.comb += getattr(self, f"go{k + 1}").eq(1)
                                m.d.sync += cur.eq(k + 1)
                            else:
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
        return m


class MultiprocPipeline(Pipeline):
    """The training pipeline of :class:`~layerpipe.hw.pipeline.Pipeline` (same
    ports, beat control, input loader, output error, result buffer and weight
    read-back) with :class:`LayerState` layers and the plan's processors
    (``plan``: a :class:`~layerpipe.hw.processor_plan.MultiprocDesignPlan`).
    A beat is a period: it starts when every processor is idle."""

    stage_class = LayerState

    def __init__(self, plan, init_weights, init_biases):
        super().__init__(plan, init_weights, init_biases)
        aw, bw = plan.operand_widths
        self.processors = [
            Processor(plan.processors.lanes,
                      [(t.unit.multipliers, *unit_operands(plan.layers[t.layer - 1], t.kind)) for t in tasks], aw, bw)
            for tasks in plan.processors.tasks]

    def elaborate(self, platform):
        m = super().elaborate(platform)
        busy = Signal()
        for p, (proc, tasks) in enumerate(zip(self.processors, self.plan.processors.tasks)):
            m.submodules[f"processor{p}"] = proc
            m.d.comb += proc.start.eq(self.stages[0].start)
            for k, t in enumerate(tasks):
                st = self.stages[t.layer - 1]
                m.d.comb += [getattr(st, f"{t.kind}_go").eq(getattr(proc, f"go{k}")),
                             getattr(proc, f"final{k}").eq(getattr(st, f"{t.kind}_final"))]
                wiring.connect(m, getattr(proc, f"mac{k}"), getattr(st, f"{t.kind}_mac"))
        m.d.comb += busy.eq(Cat(*(proc.busy for proc in self.processors)).any())
        m.d.comb += [st.period_busy.eq(busy) for st in self.stages]
        ending = Signal()
        m.d.comb += ending.eq(Cat(*(proc.ending for proc in self.processors)).all())
        m.d.comb += [st.period_ending.eq(ending) for st in self.stages]
        return m
