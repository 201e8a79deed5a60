"""Training tasks of a layer chain packed onto P identical processors (DESIGN.md 3b).

Per layer l with forward cost c_l (MACs per sample) there are three tasks:
``forward`` F_l, ``weight_grad`` W_l and ``act_grad_a`` B_l(a) = W_l^T delta,
each of cost c_l; layer 1 has no B_1(a). In steady state every task runs
once per period, each on a different sample, so dependencies cross period
boundaries and only packing matters: the period is the largest processor
load. The schemes differ only in which tasks exist and where they may go:

- ``layerpipe``: F_l, W_l, B_l(a) placed freely, optimal min-makespan;
- ``pipedream``: F_l and BW_l = B_l(a) + W_l (one task, 2 c_l) placed freely;
- ``pipedream_stages``: contiguous ranges of layers, F and BW together,
  optimal by dynamic programming, without stage replication;
- ``sequential``: one sample at a time, the makespan of one sample's task
  graph (LayerPipe's tasks, with their precedence) on P processors.

Elementwise work costs one operation per output and belongs to the layer
that receives it: F_l carries bias and f (n_out), W_l carries B_l(b), the
product of the incoming gradient with f' (n_out). It is listed per task and
enters the costs only with ``elementwise=True``.

Optimality: min-makespan is first tried with LPT (and with the coarser
scheme's packing, which is always a valid finer packing); if that meets the
lower bound it is optimal, otherwise OR-Tools CP-SAT solves it exactly on
task counts per distinct cost, within a time limit. A result that is not
proven optimal says so, with the proven bound and gap.
"""
import math
import os
from dataclasses import dataclass

import networkx as nx

from .errors import LayerPipeError

MAX_PROCESSORS = 64
SCHEMES = ("layerpipe", "pipedream", "pipedream_stages", "sequential")


@dataclass(frozen=True)
class Task:
    """A unit of work placed whole on one processor.

    ``members`` are the LayerPipe tasks it stands for (BW_l covers W_l and
    B_l(a)), used to route communication.
    """
    name: str
    layer: int
    kind: str  # forward, weight_grad, act_grad_a, backward
    macs: int
    elementwise: int
    members: tuple

    def cost(self, elementwise=False):
        return self.macs + (self.elementwise if elementwise else 0)


@dataclass(frozen=True)
class Communication:
    """Values per sample that leave the processor that produced them; a value
    counted once per receiving processor."""
    activations: int
    gradients: int

    @property
    def total(self):
        return self.activations + self.gradients


@dataclass(frozen=True)
class Schedule:
    """One scheme's packing on P processors; ``assignment[p]`` lists task names."""
    scheme: str
    processors: int
    period: int
    lower_bound: int
    work: int
    assignment: tuple
    communication: Communication
    optimal: bool
    bound: int  # best proven lower bound on the period (>= lower_bound)
    solver: str
    note: str = ""

    @property
    def utilization(self):
        return self.work / (self.processors * self.period)

    @property
    def gap(self):
        return (self.period - self.bound) / self.period

    def to_dict(self):
        return {
            "period": self.period, "lower_bound": self.lower_bound,
            "utilization": round(self.utilization, 4),
            "optimal": self.optimal, "bound": self.bound, "gap": round(self.gap, 6),
            "solver": self.solver, "work": self.work,
            "assignment": {f"p{p}": list(names) for p, names in enumerate(self.assignment)},
            "communication": {"activations": self.communication.activations,
                              "gradients": self.communication.gradients,
                              "total": self.communication.total},
            **({"note": self.note} if self.note else {}),
        }


# ---------------------------------------------------------------- task graph

def task_graph(layers):
    """LayerPipe's tasks for one sample as a DiGraph.

    Nodes carry ``task`` (a Task). Each edge carries ``values``: per value the
    head needs from the tail, its size: a_l (F_l to F_{l+1} and W_{l+1}),
    f'_l (F_l to W_l and B_l(a)), g_l = B_{l+1}(a)'s output (to W_l and
    B_l(a)). The input a_0 is held where F_1 runs, so F_1 -> W_1 carries it
    beside f'_1 (one edge, two values).
    Edges are also the precedence of one sample (used by ``sequential``).
    """
    graph = nx.DiGraph()
    n_layers = len(layers)
    for l, layer in enumerate(layers, 1):
        graph.add_node(f"F{l}", task=Task(f"F{l}", l, "forward", layer.macs, layer.n_out, (f"F{l}",)))
        graph.add_node(f"W{l}", task=Task(f"W{l}", l, "weight_grad", layer.macs, layer.n_out, (f"W{l}",)))
        if l > 1:
            graph.add_node(f"B{l}(a)", task=Task(f"B{l}(a)", l, "act_grad_a", layer.macs, 0, (f"B{l}(a)",)))
    for l, layer in enumerate(layers, 1):
        backward = [f"W{l}"] + ([f"B{l}(a)"] if l > 1 else [])
        if l == 1:
            _carry(graph, "F1", "W1", "a0", layer.in_size)
        if l < n_layers:
            for head in (f"F{l + 1}", f"W{l + 1}"):
                _carry(graph, f"F{l}", head, f"a{l}", layer.out_size)
            for head in backward:
                _carry(graph, f"B{l + 1}(a)", head, f"g{l}", layer.out_size)
        for head in backward:
            _carry(graph, f"F{l}", head, f"f'{l}", layer.n_out)
    return graph


def _carry(graph, tail, head, value, size):
    """Let the edge tail -> head (added if new) carry ``size`` values of ``value``."""
    if not graph.has_edge(tail, head):
        graph.add_edge(tail, head, values={})
    graph.edges[tail, head]["values"][value] = size


def scheme_tasks(layers, scheme):
    """The tasks a scheme places: LayerPipe's, or F_l and BW_l for PipeDream."""
    graph = task_graph(layers)
    tasks = [graph.nodes[n]["task"] for n in graph]
    if scheme in ("layerpipe", "sequential"):
        return sorted(tasks, key=lambda t: (t.layer, "FWB".index(t.name[0])))
    merged = []
    for l, layer in enumerate(layers, 1):
        f, w = graph.nodes[f"F{l}"]["task"], graph.nodes[f"W{l}"]["task"]
        members = (f"W{l}",) + ((f"B{l}(a)",) if l > 1 else ())
        merged.append(f)
        merged.append(Task(f"BW{l}", l, "backward", layer.macs * len(members), w.elementwise, members))
    return merged


def communication(graph, tasks, assignment):
    """Values crossing processors per sample, each counted once per receiver."""
    where = {}
    for p, names in enumerate(assignment):
        for name in names:
            for member in tasks[name].members:
                where[member] = p
    received = {}  # (value, processor) -> size
    for tail, head, data in graph.edges(data=True):
        if where[tail] != where[head]:
            for value, size in data["values"].items():
                received[(value, where[head])] = size
    gradients = sum(size for (value, _), size in received.items() if value.startswith("g"))
    return Communication(sum(received.values()) - gradients, gradients)


def period_in_cycles(assignment, cycles, fixed):
    """A packing's period in clock cycles: the largest processor's sum of its
    tasks' ``cycles`` (a dict by task name: e.g. ceil(MACs / lanes) each) plus
    ``fixed`` cycles once per period (the pipeline drain after a processor's
    last task; tasks on one processor follow each other with no gap).
    ``assignment``: per processor its task names."""
    return max(sum(cycles[name] for name in names) for names in assignment) + fixed


def lower_bound(costs, processors):
    """max(total work / P rounded up, largest task): no packing can beat it."""
    return max(-(-sum(costs) // processors), max(costs))


# ---------------------------------------------------------------- min-makespan

@dataclass(frozen=True)
class Packing:
    """``where[i]`` is the processor of cost i."""
    period: int
    where: tuple
    optimal: bool
    bound: int
    solver: str


def _loads(costs, where, processors):
    loads = [0] * processors
    for cost, p in zip(costs, where):
        loads[p] += cost
    return loads


def lpt(costs, processors):
    """Longest processing time first: the largest task to the least-loaded processor."""
    loads, where = [0] * processors, [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        p = min(range(processors), key=loads.__getitem__)
        where[i], loads[p] = p, loads[p] + costs[i]
    return tuple(where)


def min_makespan(costs, processors, incumbent=None, time_limit=10.0, known_bound=0):
    """Optimal assignment of independent tasks to identical processors.

    ``incumbent`` is a known assignment (e.g. a coarser scheme's) that the
    result is never worse than; ``known_bound`` a period proven elsewhere to
    be unbeatable (e.g. the optimum of smaller costs). CP-SAT works on how many tasks of each
    distinct cost each processor gets, with loads sorted to break the
    processor symmetry; costs are divided by their gcd first.
    """
    bound = max(lower_bound(costs, processors), known_bound)
    candidates = [("lpt", lpt(costs, processors))]
    if incumbent is not None:
        candidates.append(("incumbent", tuple(incumbent)))
    solver_name, where = min(candidates, key=lambda c: max(_loads(costs, c[1], processors)))
    period = max(_loads(costs, where, processors))
    if period == bound:
        return Packing(period, where, True, bound, solver_name)

    from ortools.sat.python import cp_model
    unit = math.gcd(*costs)
    classes = sorted({c // unit for c in costs}, reverse=True)
    members = {v: [i for i, c in enumerate(costs) if c // unit == v] for v in classes}
    model = cp_model.CpModel()
    count = {(v, p): model.NewIntVar(0, len(members[v]), f"n_{v}_{p}")
             for v in classes for p in range(processors)}
    loads = [model.NewIntVar(0, period // unit, f"load_{p}") for p in range(processors)]
    makespan = model.NewIntVar(-(-bound // unit), period // unit, "period")
    for v in classes:
        model.Add(sum(count[v, p] for p in range(processors)) == len(members[v]))
    for p in range(processors):
        model.Add(loads[p] == sum(v * count[v, p] for v in classes))
        model.Add(loads[p] <= makespan)
        if p + 1 < processors:
            model.Add(loads[p] >= loads[p + 1])
    # Hint the best known packing, processors relabelled by decreasing load.
    known = _loads(costs, where, processors)
    order = sorted(range(processors), key=lambda p: -known[p])
    for rank, p in enumerate(order):
        for v in classes:
            model.AddHint(count[v, rank], sum(1 for i in members[v] if where[i] == p))
    model.Minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = max(1, min(8, os.cpu_count() or 1))
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Packing(period, where, False, bound, solver_name)
    proven = max(bound, unit * math.ceil(solver.BestObjectiveBound() - 1e-9))
    new_period = unit * solver.Value(makespan)
    if new_period < period:
        queues = {v: list(members[v]) for v in classes}
        new_where = [0] * len(costs)
        for p in range(processors):
            for v in classes:
                for _ in range(solver.Value(count[v, p])):
                    new_where[queues[v].pop(0)] = p
        where, period = tuple(new_where), max(_loads(costs, new_where, processors))
    optimal = status == cp_model.OPTIMAL or period == proven
    return Packing(period, where, optimal, period if optimal else proven, "cp-sat")


# ---------------------------------------------------------------- contiguous stages

def stage_partition(weights, processors):
    """Split a chain into at most P contiguous stages minimising the heaviest.

    Dynamic programming: best[k][j] is the least possible heaviest stage when
    the first j layers form k stages. Returns (period, stages as index ranges).
    """
    n = len(weights)
    prefix = [0]
    for w in weights:
        prefix.append(prefix[-1] + w)
    inf = float("inf")
    stages = min(processors, n)
    best = [[inf] * (n + 1) for _ in range(stages + 1)]
    cut = [[0] * (n + 1) for _ in range(stages + 1)]
    best[0][0] = 0
    for k in range(1, stages + 1):
        for j in range(1, n + 1):
            for i in range(k - 1, j):
                value = max(best[k - 1][i], prefix[j] - prefix[i])
                if value < best[k][j]:
                    best[k][j], cut[k][j] = value, i
    k = min(range(1, stages + 1), key=lambda k: (best[k][n], k))
    period, ranges, j = best[k][n], [], n
    while k:
        i = cut[k][j]
        ranges.append(range(i, j))
        k, j = k - 1, i
    return period, ranges[::-1]


# ---------------------------------------------------------------- one sample at a time

def dag_makespan(graph, costs, processors, time_limit=10.0):
    """Shortest makespan of one sample's task graph with precedence on P processors.

    List scheduling by longest path to the end first; if that meets
    max(critical path, total / P) it is optimal, otherwise CP-SAT with a
    cumulative constraint of capacity P (for unit-demand tasks, equivalent to
    P identical processors). Returns (makespan, processor lists in start
    order, optimal, bound, solver).
    """
    tail = {}
    for name in reversed(list(nx.topological_sort(graph))):
        tail[name] = costs[name] + max((tail[s] for s in graph.successors(name)), default=0)
    critical = max(tail.values())
    bound = max(critical, -(-sum(costs.values()) // processors))

    start = _list_schedule(graph, costs, processors, tail)
    makespan, solver_name, optimal = max(start[n] + costs[n] for n in graph), "list", False
    if makespan == bound:
        optimal = True
    else:
        from ortools.sat.python import cp_model
        model = cp_model.CpModel()
        begin, intervals = {}, []
        for n in graph:
            begin[n] = model.NewIntVar(0, makespan - costs[n], f"s_{n}")
            intervals.append(model.NewFixedSizeIntervalVar(begin[n], costs[n], f"i_{n}"))
            model.AddHint(begin[n], start[n])
        for u, v in graph.edges:
            model.Add(begin[v] >= begin[u] + costs[u])
        model.AddCumulative(intervals, [1] * len(intervals), processors)
        end = model.NewIntVar(bound, makespan, "makespan")
        for n in graph:
            model.Add(end >= begin[n] + costs[n])
        model.Minimize(end)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_limit
        solver.parameters.num_workers = max(1, min(8, os.cpu_count() or 1))
        status = solver.Solve(model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            solver_name = "cp-sat"
            bound = max(bound, math.ceil(solver.BestObjectiveBound() - 1e-9))
            if solver.Value(end) < makespan:
                start = {n: solver.Value(begin[n]) for n in graph}
                makespan = max(start[n] + costs[n] for n in graph)
            optimal = status == cp_model.OPTIMAL or makespan == bound
    if optimal:
        bound = makespan
    # Interval partitioning: at most P tasks overlap, so P processors suffice.
    free_at, lanes = [0] * processors, [[] for _ in range(processors)]
    for n in sorted(graph, key=lambda n: (start[n], -costs[n])):
        p = next(p for p in range(processors) if free_at[p] <= start[n])
        free_at[p] = start[n] + costs[n]
        lanes[p].append(n)
    return makespan, lanes, optimal, bound, solver_name


def _list_schedule(graph, costs, processors, priority):
    """Start times from greedy list scheduling: the ready task with the
    highest priority goes where it can start first."""
    free_at, start, done = [0] * processors, {}, {}
    waiting = {n: graph.in_degree(n) for n in graph}
    ready = [n for n, d in waiting.items() if d == 0]
    while ready:
        n = max(ready, key=lambda n: priority[n])
        ready.remove(n)
        earliest = max((done[u] for u in graph.predecessors(n)), default=0)
        p = min(range(processors), key=lambda p: (max(free_at[p], earliest), p))
        start[n] = max(free_at[p], earliest)
        done[n] = free_at[p] = start[n] + costs[n]
        for s in graph.successors(n):
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    return start


# ---------------------------------------------------------------- the schemes

def _check(layers, processors):
    if not layers:
        raise LayerPipeError("net: no layers to schedule")
    if isinstance(processors, bool) or not isinstance(processors, int) or not 1 <= processors <= MAX_PROCESSORS:
        raise LayerPipeError(f"processors: {processors!r} is out of range 1..{MAX_PROCESSORS}")


def _free(layers, processors, scheme, elementwise, incumbent, time_limit):
    """layerpipe or pipedream: every task placed freely, optimally."""
    tasks = scheme_tasks(layers, scheme)
    costs = [t.cost(elementwise) for t in tasks]
    seed = None
    if incumbent is not None:  # a coarser packing, refined to this scheme's tasks
        where = {}
        for p, names in enumerate(incumbent.assignment):
            for name in names:
                where[name] = p
                if name.startswith("BW"):
                    where[f"W{name[2:]}"] = where[f"B{name[2:]}(a)"] = p
        seed = [where[t.name] for t in tasks]
    # Elementwise work only adds to each cost, so the plain optimum bounds
    # this one from below: a bound CP-SAT struggles to find on its own.
    floor = _free(layers, processors, scheme, False, None, time_limit).bound if elementwise else 0
    packing = min_makespan(costs, processors, seed, time_limit, floor)
    assignment = tuple(tuple(t.name for t, p in zip(tasks, packing.where) if p == q)
                       for q in range(processors))
    by_name = {t.name: t for t in tasks}
    return Schedule(scheme, processors, packing.period, lower_bound(costs, processors), sum(costs),
                    assignment, communication(task_graph(layers), by_name, assignment),
                    packing.optimal, packing.bound, packing.solver)


def schedule_pipedream_stages(layers, processors, elementwise=False):
    """PipeDream's partitioner: contiguous stages of whole layers, no replication."""
    _check(layers, processors)
    tasks = scheme_tasks(layers, "pipedream_stages")
    costs = [t.cost(elementwise) for t in tasks]
    weights = [costs[2 * l] + costs[2 * l + 1] for l in range(len(layers))]
    period, ranges = stage_partition(weights, processors)
    assignment = tuple(tuple(tasks[k].name for l in r for k in (2 * l, 2 * l + 1)) for r in ranges)
    assignment += ((),) * (processors - len(assignment))
    by_name = {t.name: t for t in tasks}
    return Schedule("pipedream_stages", processors, period, lower_bound(costs, processors), sum(costs),
                    assignment, communication(task_graph(layers), by_name, assignment),
                    True, period, "dp", "contiguous stages of whole layers, no stage replication")


def schedule_pipedream(layers, processors, elementwise=False, time_limit=10.0, incumbent=None):
    _check(layers, processors)
    return _free(layers, processors, "pipedream", elementwise, incumbent, time_limit)


def schedule_layerpipe(layers, processors, elementwise=False, time_limit=10.0, incumbent=None):
    _check(layers, processors)
    return _free(layers, processors, "layerpipe", elementwise, incumbent, time_limit)


def schedule_sequential(layers, processors, elementwise=False, time_limit=10.0):
    """One sample at a time (no pipelining): the period is one sample's makespan."""
    _check(layers, processors)
    graph = task_graph(layers)
    by_name = {n: graph.nodes[n]["task"] for n in graph}
    costs = {n: t.cost(elementwise) for n, t in by_name.items()}
    makespan, lanes, optimal, bound, solver = dag_makespan(graph, costs, processors, time_limit)
    assignment = tuple(tuple(lane) for lane in lanes)
    return Schedule("sequential", processors, makespan, bound, sum(costs.values()), assignment,
                    communication(graph, by_name, assignment), optimal, bound, solver,
                    "one sample at a time; lower_bound includes the critical path")


def schedule_pipelined(layers, processors, elementwise=False, time_limit=10.0):
    """The three pipelined schemes, each free packing started from the coarser
    one, so layerpipe <= pipedream <= pipedream_stages holds even without a
    proof: (pipedream_stages, pipedream, layerpipe). The hardware runs these
    very packings (:mod:`layerpipe.hw.processor_plan`)."""
    stages = schedule_pipedream_stages(layers, processors, elementwise)
    pipedream = schedule_pipedream(layers, processors, elementwise, time_limit, stages)
    layerpipe = schedule_layerpipe(layers, processors, elementwise, time_limit, pipedream)
    return stages, pipedream, layerpipe


def schedule_all(layers, processors, elementwise=False, time_limit=10.0):
    """All four schemes (:func:`schedule_pipelined`, and ``sequential``)."""
    stages, pipedream, layerpipe = schedule_pipelined(layers, processors, elementwise, time_limit)
    sequential = schedule_sequential(layers, processors, elementwise, time_limit)
    return {"layerpipe": layerpipe, "pipedream": pipedream,
            "pipedream_stages": stages, "sequential": sequential}
