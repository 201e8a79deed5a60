"""The multiprocessor scheduler (DESIGN.md 3b): optimality against brute
force, the ordering of the schemes on the zoo, the worked example, the CLI."""
import itertools
import random
import subprocess
import sys

import networkx as nx
import pytest

from layerpipe.hw.config import pipeline_delays
from layerpipe.hw.schedule import (
    lower_bound, min_makespan, schedule_all, schedule_layerpipe, schedule_pipedream,
    schedule_pipedream_stages, schedule_sequential, scheme_tasks, task_graph)
from layerpipe.hw.zoo import ZOO, get_net, mlp
from layerpipe.hw.strict_json import loads as strict_loads

SEED = 20240604


def brute_makespan(costs, processors):
    """Every assignment (task 0 pinned to processor 0: processors are identical)."""
    best = sum(costs)
    for rest in itertools.product(range(processors), repeat=len(costs) - 1):
        loads = [0] * processors
        for cost, p in zip(costs, (0,) + rest):
            loads[p] += cost
        best = min(best, max(loads))
    return best


def brute_stages(weights, processors):
    """Every split of the chain into at most P contiguous stages."""
    n, best = len(weights), sum(weights)
    for k in range(0, min(processors, n) - 1 + 1):
        for cuts in itertools.combinations(range(1, n), k):
            bounds = (0,) + cuts + (n,)
            best = min(best, max(sum(weights[a:b]) for a, b in zip(bounds, bounds[1:])))
    return best


def check_assignment(layers, s, scheme, elementwise=False):
    """Each task placed once, and the heaviest processor is the period."""
    tasks = {t.name: t.cost(elementwise) for t in
             scheme_tasks(layers, "pipedream" if scheme == "pipedream_stages" else scheme)}
    placed = [n for names in s.assignment for n in names]
    assert sorted(placed) == sorted(tasks), f"{scheme}: tasks placed {placed}"
    assert len(s.assignment) == s.processors
    loads = [sum(tasks[n] for n in names) for names in s.assignment]
    if scheme != "sequential":
        assert max(loads) == s.period, f"{scheme}: loads {loads} vs period {s.period}"


def test_min_makespan_matches_brute_force():
    rng = random.Random(SEED)
    print(f"seed {SEED}")
    solvers = set()
    for case in range(60):
        n, processors = rng.randint(2, 8), rng.randint(1, 4)
        costs = [rng.randint(1, 30) for _ in range(n)]
        packing = min_makespan(costs, processors, time_limit=5)
        expected = brute_makespan(costs, processors)
        assert packing.period == expected, f"case {case}: costs {costs} P={processors}"
        assert packing.optimal and packing.bound == expected
        loads = [0] * processors
        for cost, p in zip(costs, packing.where):
            loads[p] += cost
        assert max(loads) == packing.period
        solvers.add(packing.solver)
    assert "cp-sat" in solvers, "no case reached the exact solver; the test proves nothing about it"


@pytest.mark.parametrize("elementwise", [False, True])
def test_schemes_match_brute_force_on_random_mlps(elementwise):
    rng = random.Random(SEED + elementwise)
    print(f"seed {SEED + elementwise}")
    for case in range(12):
        widths = [rng.randint(1, 24) for _ in range(rng.randint(2, 4))]
        layers = mlp(widths).layers
        for processors in range(1, 5):
            where = f"case {case}: widths {widths}, P={processors}, elementwise={elementwise}"
            for scheme, run in (("layerpipe", schedule_layerpipe), ("pipedream", schedule_pipedream)):
                costs = [t.cost(elementwise) for t in scheme_tasks(layers, scheme)]
                if processors ** (len(costs) - 1) > 50000:
                    continue
                s = run(layers, processors, elementwise, time_limit=5)
                assert s.period == brute_makespan(costs, processors), f"{scheme} {where}"
                assert s.optimal
                check_assignment(layers, s, scheme, elementwise)
            costs = [t.cost(elementwise) for t in scheme_tasks(layers, "pipedream")]
            weights = [costs[2 * l] + costs[2 * l + 1] for l in range(len(layers))]
            s = schedule_pipedream_stages(layers, processors, elementwise)
            assert s.period == brute_stages(weights, processors), f"stages {where}"
            check_assignment(layers, s, "pipedream_stages", elementwise)


def test_worked_example():
    """DESIGN.md 3b: 64-32-64-10, c = 2048, 2048, 640."""
    layers = get_net("64-32-64-10").layers
    assert [layer.macs for layer in layers] == [2048, 2048, 640]
    p6 = schedule_all(layers, 6)
    assert (p6["layerpipe"].period, p6["pipedream"].period) == (2048, 4096)
    p5 = schedule_all(layers, 5)
    assert (p5["layerpipe"].period, p5["pipedream"].period) == (2688, 4096)
    assert round(p5["pipedream"].period / p5["layerpipe"].period, 2) == 1.52
    assert p5["layerpipe"].lower_bound == 2432  # 12160 / 5
    # one layer per stage at P = 3: a1, g1 (32 each) and a2, g2 (64 each) cross
    p3 = schedule_pipedream_stages(layers, 3)
    assert p3.period == 6144
    assert (p3.communication.activations, p3.communication.gradients) == (96, 96)


def test_two_layer_mlp_gains_nothing_but_stages_lose_2x():
    layers = get_net("64-32-10").layers
    for processors in range(1, 9):
        r = schedule_all(layers, processors)
        assert r["layerpipe"].period == r["pipedream"].period, f"P={processors}"
        if processors >= 4:
            assert r["pipedream_stages"].period == 2 * r["layerpipe"].period


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_ordering_and_bounds(name):
    layers = get_net(name).layers
    for processors in (2, 5, 8, 13):
        r = schedule_all(layers, processors, time_limit=3)
        lp, pd, st = r["layerpipe"], r["pipedream"], r["pipedream_stages"]
        where = f"{name} P={processors}"
        assert lp.lower_bound <= lp.bound <= lp.period <= pd.period <= st.period, where
        assert pd.lower_bound <= pd.period, where
        for scheme, s in r.items():
            check_assignment(layers, s, scheme)
            assert 0 < s.utilization <= 1, f"{scheme} {where}"


def test_elementwise_adds_one_op_per_output_twice_per_layer():
    net = get_net("lenet5")
    plain, extra = (schedule_layerpipe(net.layers, 3, elementwise=e) for e in (False, True))
    assert extra.work - plain.work == sum(2 * layer.n_out for layer in net.layers)
    assert extra.period >= plain.period


def test_sequential_is_critical_path_or_serial():
    layers = get_net("64-32-64-10").layers
    graph = task_graph(layers)
    total = sum(graph.nodes[n]["task"].macs for n in graph)
    for u, v in list(graph.edges):
        graph.edges[u, v]["cost"] = graph.nodes[u]["task"].macs
    for n in list(graph):  # an end node, so every task's own cost is on its path
        graph.add_edge(n, "end", cost=graph.nodes[n]["task"].macs)
    critical = nx.dag_longest_path_length(graph, weight="cost")
    assert critical == 2048 + 2048 + 640 + 640 + 2048 + 2048  # F1 F2 F3 B3(a) B2(a) W1
    assert schedule_sequential(layers, 1).period == total
    for processors in (2, 3, 6):
        s = schedule_sequential(layers, processors)
        assert s.period == critical and s.optimal
        check_assignment(layers, s, "sequential")
    assert schedule_layerpipe(layers, 1).period == total


def test_single_processor_has_no_communication():
    layers = get_net("alexnet").layers
    for s in schedule_all(layers, 1).values():
        assert s.communication.total == 0


def test_lower_bound():
    assert lower_bound([5, 1, 1], 2) == 5
    assert lower_bound([3, 3, 3], 2) == 5  # ceil(9 / 2)


# ---------------------------------------------------------------- command line

def layerpipe(*args):
    return subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", "schedule", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_json():
    done = layerpipe("--net", "vgg16", "--processors", "8", "--json")
    assert done.returncode == 0, done.stderr
    r = strict_loads(done.stdout)
    for scheme in ("layerpipe", "pipedream", "pipedream_stages", "sequential"):
        for key in ("period", "lower_bound", "utilization", "assignment", "communication"):
            assert key in r[scheme], f"{scheme}.{key}"
    assert r["speedup"] == round(r["pipedream"]["period"] / r["layerpipe"]["period"], 4)
    assert r["speedup_vs_stages"] >= r["speedup"]
    assert r["delays"] == list(pipeline_delays(16))
    assert (r["processors"], r["net"]) == (8, "vgg16")


def test_cli_sweep_list_and_gantt(tmp_path):
    done = layerpipe("--net", "64-32-64-10", "--sweep", "5..6", "--json")
    assert done.returncode == 0, done.stderr
    rows = strict_loads(done.stdout)["sweep"]
    assert [(row["processors"], row["speedup"]) for row in rows] == [(5, 1.5238), (6, 2.0)]
    listing = layerpipe("--list")
    assert listing.returncode == 0 and all(name in listing.stdout for name in ZOO)
    png = tmp_path / "gantt.png"
    done = layerpipe("--net", "lenet5", "-p", "4", "--gantt", str(png))
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
