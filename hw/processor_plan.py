"""The design plan of a multiprocessor design: P equal MAC-array processors
that run the scheduler's optimal assignment (DESIGN.md 3b, issue 14).

A processor is one :class:`~layerpipe.hw.mac_array.MacArray` of ``lanes``
multipliers. Every period (a beat of the pipeline: DESIGN.md 3) it runs its
fixed list of tasks one after another: ``forward`` F_l, ``weight_grad`` W_l
and ``act_grad_a`` B_l(a) in ``layerpipe``; in ``pipedream`` F_l and BW_l,
which is B_l(a) then W_l on the same processor (BW_1 = W_1). The list comes
from :func:`~layerpipe.hw.schedule.schedule_layerpipe` /
:func:`~layerpipe.hw.schedule.schedule_pipedream` (optimal in MACs per
sample, as ``layerpipe schedule`` prints it) and is recorded in the
manifest, so the scheduler, the manifest and the hardware show the same map.

Cycles (the model that ``layerpipe sim`` measures):

- every task of layer l uses the layer's shape (``rows`` x ``cols``, at most
  ``lanes`` products: :func:`processor_shape`) and sweeps
  ``passes * ceil(n_in / cols)`` cycles (:meth:`UnitPlan.sweep_cycles`), which
  is ceil(MACs / lanes) whenever a shape fills the array;
- a processor starts task k+1 in the cycle after task k issued its last
  column (the MAC array is handed on with no gap), and after its last task
  waits :func:`~layerpipe.hw.plan.stage_latency` cycles for the units'
  pipelines to drain; so the period is
  :func:`~layerpipe.hw.schedule.period_in_cycles` of the assignment: the
  largest processor's sum of sweeps plus ``stage_latency()``.

Memories: each layer's weights are two copies (ping-pong, ``weight_bases``
0 and ``weight_words``): all reads of period k see the copy written by
period k-1's W_l, W_l writes the other one (see
:class:`~layerpipe.hw.multiproc.LayerState`).
"""
import json
from dataclasses import dataclass, replace

from .errors import LayerPipeError
from .plan import DesignPlan, UnitPlan, _unit, layer_plans, passes_of, stage_latency, task_operands, words_of
from .schedule import MAX_PROCESSORS, period_in_cycles, schedule_pipelined, scheme_tasks
from .zoo import mlp

MODES = ("layerpipe", "pipedream")
KINDS = {"F": "forward", "W": "weight_grad", "B": "act_grad_a"}
# task kind -> its name in the design plan's units (and in task_operands)
TASK_OF = {"forward": "F", "weight_grad": "W", "act_grad_a": "B(a)"}


def processor_shape(n_in, n_out, lanes):
    """(rows, cols) of a layer's tasks on a processor of ``lanes`` multipliers:
    the least sweep ``passes_of(n_out, rows) * words_of(n_in, cols)`` with
    rows * cols <= lanes, rows <= n_out, cols <= n_in; ties: fewer
    multipliers, then fewer rows. Reaches ceil(n_in * n_out / lanes) when a
    shape fills the array without idle rows or columns."""
    best = None
    for rows in range(1, min(n_out, lanes) + 1):
        cols = min(n_in, lanes // rows)
        # the fewest columns that give this row count's least sweep
        sweep = passes_of(n_out, rows) * words_of(n_in, cols)
        while cols > 1 and passes_of(n_out, rows) * words_of(n_in, cols - 1) == sweep:
            cols -= 1
        key = (sweep, rows * cols, rows)
        best = min(best or (key, (rows, cols)), (key, (rows, cols)))
    return best[1]


def task_cycles(widths, lanes):
    """Per gateware task name (F1, W1, B2(a), ...) the cycles its sweep takes on a
    processor of ``lanes`` multipliers, in the layer's :func:`processor_shape`
    (:meth:`UnitPlan.sweep_cycles`)."""
    cycles = {}
    for l, (n_in, n_out) in enumerate(zip(widths, widths[1:]), 1):
        rows, cols = processor_shape(n_in, n_out, lanes)
        sweep = UnitPlan(f"layer {l}", ("F",), rows, cols, 0, 0, 0).sweep_cycles(n_in, n_out)
        cycles.update({f"F{l}": sweep, f"W{l}": sweep, **({f"B{l}(a)": sweep} if l > 1 else {})})
    return cycles


def scheme_period_cycles(widths, assignment, lanes):
    """The period in cycles of a scheduler ``assignment`` (per processor its task names, BW_l
    included) on processors of ``lanes`` multipliers: what the RTL's beat is."""
    hardware = [[h for name in names for h in hardware_tasks(name)] for names in assignment]
    return period_in_cycles(hardware, task_cycles(widths, lanes), stage_latency())


def hardware_tasks(name):
    """The gateware tasks a scheduler task stands for, in run order: BW_l is
    B_l(a) then W_l (PipeDream's backward), BW_1 is W_1."""
    if name.startswith("BW"):
        l = int(name[2:])
        return ((f"B{l}(a)",) if l > 1 else ()) + (f"W{l}",)
    return (name,)


@dataclass(frozen=True)
class ProcessorTask:
    """One gateware task on a processor: ``name`` (F3, W2, B2(a)), ``layer``,
    ``kind`` (``forward``, ``weight_grad``, ``act_grad_a``), ``unit`` (its
    :class:`~layerpipe.hw.plan.UnitPlan`: rows, cols, operand widths),
    ``sweep_cycles`` and ``macs`` per sample, ``weight_words`` (depth of each
    of the layer's ``banks`` weight banks per copy) and ``weight_bases`` (the
    two ping-pong copies' first words)."""
    name: str
    layer: int
    kind: str
    unit: object
    sweep_cycles: int
    macs: int
    weight_words: int
    banks: int

    @property
    def weight_bases(self):
        return (0, self.weight_words)

    def to_dict(self, lanes):
        """As in the manifest; ``ideal_cycles`` is ceil(macs / lanes), the sweep of a full MAC array."""
        return {"task": self.name, "layer": self.layer, "kind": self.kind, "rows": self.unit.lanes,
                "cols": self.unit.cols, "multipliers": self.unit.multipliers, "sweep_cycles": self.sweep_cycles,
                "macs": self.macs, "ideal_cycles": -(-self.macs // lanes), "weight_banks": self.banks,
                "weight_words": self.weight_words, "weight_bases": list(self.weight_bases)}


@dataclass(frozen=True)
class ProcessorPlan:
    """P processors of ``lanes`` multipliers and what each runs per period.

    ``assignment``: per processor the scheduler's task names (as
    ``layerpipe schedule`` prints them); ``tasks``: per processor its
    :class:`ProcessorTask` list in run order; ``schedule``: the scheduler's
    :class:`~layerpipe.hw.schedule.Schedule` (period in MACs, communication).
    """
    count: int
    lanes: int
    scheme: str
    assignment: tuple
    tasks: tuple
    schedule: object

    @property
    def fixed_cycles(self):
        """Cycles a period pays beyond the sweeps: one drain of the last task's pipeline."""
        return stage_latency()

    @property
    def loads(self):
        """Per processor the cycles in which it issues columns in one period."""
        return tuple(sum(t.sweep_cycles for t in ts) for ts in self.tasks)

    @property
    def period_cycles(self):
        cycles = {t.name: t.sweep_cycles for ts in self.tasks for t in ts}
        return period_in_cycles([[t.name for t in ts] for ts in self.tasks], cycles, self.fixed_cycles)

    @property
    def ideal_period_cycles(self):
        """The scheduler's period in MACs over ``lanes``, rounded up, plus the fixed cycles:
        what the period would be if every task filled the MAC array."""
        return -(-self.schedule.period // self.lanes) + self.fixed_cycles

    def crossings(self, widths):
        """Values per sample that the gateware moves from one processor's task to
        another's, counted from its data paths (:mod:`layerpipe.hw.multiproc`), each
        once per receiving processor: ``activations`` (a_l into layer l+1's delay
        FIFO, read by F_{l+1} and W_{l+1}; f'_l, or a_L - y on the output layer, into
        delta_l, read by W_l and B_l(a)), ``gradients`` (g_l from B_{l+1}(a) into
        delta_l) and ``input`` (a_0 from the input loader, which is no processor, to
        F_1's and W_1's). The scheduler's ``communication`` counts the same graph but
        keeps a_0 where F_1 runs."""
        where = {t.name: p for p, ts in enumerate(self.tasks) for t in ts}
        L = len(widths) - 1

        def moved(source, readers, size):
            return size * len({where[r] for r in readers if r in where} - {source})
        acts = grads = 0
        for l in range(1, L + 1):
            backward = [f"W{l}", f"B{l}(a)"]
            if l < L:
                acts += moved(where[f"F{l}"], [f"F{l + 1}", f"W{l + 1}"], widths[l])
                grads += moved(where[f"B{l + 1}(a)"], backward, widths[l])
            acts += moved(where[f"F{l}"], backward, widths[l])     # f'_l (or a_L - y): delta_l's other half
        return {"activations": acts, "gradients": grads, "total": acts + grads,
                "input": moved(None, ["F1", "W1"], widths[0])}

    def to_dict(self, widths):
        return {"count": self.count, "lanes": self.lanes, "scheme": self.scheme,
                "assignment": [list(names) for names in self.assignment],
                "tasks": [[t.to_dict(self.lanes) for t in ts]
                          for ts in self.tasks],
                "loads": list(self.loads), "fixed_cycles": self.fixed_cycles,
                "period_cycles": self.period_cycles, "ideal_period_cycles": self.ideal_period_cycles,
                "communication": self.crossings(widths),
                "model": {"period_macs": self.schedule.period, "optimal": self.schedule.optimal,
                          "communication": {"activations": self.schedule.communication.activations,
                                            "gradients": self.schedule.communication.gradients,
                                            "total": self.schedule.communication.total}}}


def check_processors(widths, mode, processors, lanes):
    """Refuse what cannot be built, naming the field: P and lanes out of range, ``sequential``,
    more processors than the mode has tasks. Raises LayerPipeError."""
    if mode not in MODES:
        raise LayerPipeError(f"mode: {mode!r} has no multiprocessor design; --processors takes "
                             f"{' or '.join(MODES)}")
    for field, value in (("processors", processors), ("lanes", lanes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LayerPipeError(f"{field}: {value!r} must be a whole number >= 1")
    n_tasks = len(scheme_tasks(mlp(widths).layers, mode))
    if processors > min(n_tasks, MAX_PROCESSORS):
        raise LayerPipeError(f"processors: {processors} is more than the {n_tasks} tasks of "
                             f"{'-'.join(map(str, widths))} in {mode} mode (at most {min(n_tasks, MAX_PROCESSORS)})")


def plan_processors(cfg, target, processors, lanes, assignment=None, allow_over_budget=False):
    """The :class:`MultiprocDesignPlan` of ``cfg`` on ``processors`` processors of ``lanes``
    multipliers. ``assignment`` (per processor the scheduler's task names, as in a
    manifest) is checked and used; by default the scheduler's optimal one.

    Raises LayerPipeError for bad input (:func:`check_processors`), an
    assignment that does not place every task exactly once, or a design over
    the target's DSP blocks (``processors``) unless ``allow_over_budget``.
    """
    check_processors(cfg.widths, cfg.mode, processors, lanes)
    layers = mlp(cfg.widths).layers
    _, pipedream, layerpipe = schedule_pipelined(layers, processors)
    schedule = layerpipe if cfg.mode == "layerpipe" else pipedream
    if assignment is None:
        assignment = schedule.assignment
    else:
        assignment = _checked_assignment(assignment, layers, cfg.mode, processors)
        schedule = replace(schedule, assignment=assignment)
    shapes = [processor_shape(n_in, n_out, lanes) for n_in, n_out in zip(cfg.widths, cfg.widths[1:])]
    rows, cols = tuple(r for r, _ in shapes), tuple(c for _, c in shapes)
    shaped = cfg.replace(lanes=rows, cols=cols)
    # every layer's tasks share one word layout: the lockstep stage's (cols columns per word)
    # (a task may end its processor's period anywhere: every delay FIFO keeps its bypass; the
    # processors register their operands on any target, stage_latency() being the period's)
    plans = tuple(replace(p, handover_bypass=True, operand_registers=1)
                  for p in layer_plans(shaped.replace(mode="layerpipe"), rows, cols, target))
    tasks = []
    for names in assignment:
        here = []
        for name in (h for n in names for h in hardware_tasks(n)):
            p = plans[int(name[1:].split("(")[0]) - 1]
            unit = _unit(name, (TASK_OF[KINDS[name[0]]],), p.lanes, p.cols, cfg.act, cfg.weight, cfg.grad, target)
            here.append(ProcessorTask(name, p.layer, KINDS[name[0]], unit, unit.sweep_cycles(p.n_in, p.n_out),
                                      p.n_in * p.n_out, p.weight_words, p.banks))
        tasks.append(tuple(here))
    procs = ProcessorPlan(processors, lanes, cfg.mode, tuple(tuple(n) for n in assignment), tuple(tasks), schedule)
    plan = MultiprocDesignPlan(shaped, target, plans, processors=procs)
    over = plan.dsp_blocks > target.dsp_blocks
    if over and not allow_over_budget:
        raise LayerPipeError(
            f"processors: {processors} x {lanes} multipliers need {plan.dsp_blocks} DSP blocks "
            f"({target.dsp_name}); the budget is {target.dsp_blocks} (--dsp-budget or --target)")
    return replace(plan, over_budget=over)


def _checked_assignment(assignment, layers, mode, processors):
    """A manifest's assignment as tuples, after checking it places every task of ``mode`` once."""
    want = sorted(t.name for t in scheme_tasks(layers, mode))
    if (not isinstance(assignment, (list, tuple)) or len(assignment) != processors
            or not all(isinstance(n, (list, tuple)) and all(isinstance(x, str) for x in n) for n in assignment)
            or sorted(x for n in assignment for x in n) != want):
        raise LayerPipeError(f"manifest: processors.assignment: {json.dumps(assignment)[:60]} does not place "
                             f"every {mode} task ({', '.join(want)}) exactly once on {processors} processors")
    return tuple(tuple(n) for n in assignment)


@dataclass(frozen=True)
class MultiprocDesignPlan(DesignPlan):
    """A :class:`~layerpipe.hw.plan.DesignPlan` whose MACs run on ``processors``
    (a :class:`ProcessorPlan`) instead of one unit per task. The layer plans
    give each layer's shape (``rows`` = lanes, ``cols``), memories and FIFOs;
    the beat is the processors' period; multipliers and DSP blocks are the
    processors'; the weights are held twice (ping-pong)."""
    processors: ProcessorPlan = None

    @property
    def cycles_per_beat(self):
        return self.processors.period_cycles

    @property
    def multipliers(self):
        return self.processors.count * self.processors.lanes

    @property
    def operand_widths(self):
        """The processors' MAC operand widths: the widest of every task's."""
        c = self.config
        return task_operands(tuple(TASK_OF.values()), c.act, c.weight, c.grad)

    @property
    def dsp_blocks(self):
        return self.multipliers * self.target.dsp_blocks_per_product(*self.operand_widths)

    @property
    def memory_bits(self):
        total = super().memory_bits
        total["weights"] *= 2                 # ping-pong copies
        total["ram"] = total["weights"] + total["delay_fifo"] + total["partial_sums"]
        return total

    def identity(self):
        return {**super().identity(), "processors": self.processors.count, "processor_lanes": self.processors.lanes,
                "assignment": [list(n) for n in self.processors.assignment]}

    @property
    def name(self):
        p = self.processors
        return f"layerpipe_{'_'.join(map(str, self.widths))}_{self.mode}_p{p.count}x{p.lanes}_{self.digest}"

    def pipeline_class(self):
        """The gateware of this plan (:class:`~layerpipe.hw.multiproc.MultiprocPipeline`)."""
        from .multiproc import MultiprocPipeline
        return MultiprocPipeline

    def manifest(self):
        m = super().manifest()
        tasks_of = {}
        for p, ts in enumerate(self.processors.tasks):
            for t in ts:
                tasks_of.setdefault(t.layer, {})[t.kind] = {"processor": p, "rows": t.unit.lanes,
                                                            "cols": t.unit.cols, "sweep_cycles": t.sweep_cycles}
        # the layers' MACs run on the processors: a task's "unit" is the part of its
        # processor's multipliers it uses (rows x cols), and the layer owns none
        m["units"] = [{kind: t["rows"] * t["cols"] for kind, t in sorted(tasks_of[p.layer].items())}
                      for p in self.layers]
        for d in m["layers"]:
            d["units"] = tasks_of[d["layer"]]
            d["multipliers"] = d["dsp_blocks"] = None
        m["beat_bound"] = (f"processor {self.processors.loads.index(max(self.processors.loads))}'s tasks "
                           f"({max(self.processors.loads)} cycles) plus {self.processors.fixed_cycles} fixed cycles")
        m["processors"] = self.processors.to_dict(self.widths)
        return m


def processors_of_manifest(m):
    """(count, lanes, assignment) of a manifest's ``processors`` field; raises LayerPipeError if malformed."""
    p = m.get("processors")
    if not isinstance(p, dict) or not all(k in p for k in ("count", "lanes", "assignment")):
        raise LayerPipeError("manifest: processors: not an object with count, lanes and assignment")
    return p["count"], p["lanes"], p["assignment"]

