"""The multiprocessor design (issue 14): P equal MAC-array processors run the
scheduler's assignment. The model in cycles, the manifest, bad input, and the
RTL against the golden model bit for bit (Amaranth's simulator here; the
wide random set in Verilator is slow-marked)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from layerpipe.hw.config import NetConfig
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.plan import load_manifest, passes_of, stage_latency, words_of
from layerpipe.hw.processor_plan import (MODES, hardware_tasks, plan_processors, processor_shape,
                                         scheme_period_cycles)
from layerpipe.hw.schedule import scheme_tasks
from layerpipe.hw.target import dsp_budget
from layerpipe.hw.zoo import mlp
from test_pipeline import check


def plan_of(widths, mode, processors, lanes, **cfg):
    return plan_processors(NetConfig(tuple(widths), mode=mode, **cfg), dsp_budget(), processors, lanes)


# ---------------------------------------------------------------- the model in cycles

def test_processor_shape_is_the_least_sweep_of_every_shape():
    for n_in in range(1, 13):
        for n_out in range(1, 13):
            for lanes in (1, 2, 3, 4, 6, 7, 16):
                rows, cols = processor_shape(n_in, n_out, lanes)
                assert rows * cols <= lanes and rows <= n_out and cols <= n_in
                best = min(passes_of(n_out, r) * words_of(n_in, c)
                           for r in range(1, n_out + 1) for c in range(1, n_in + 1) if r * c <= lanes)
                assert passes_of(n_out, rows) * words_of(n_in, cols) == best
                assert best >= -(-n_in * n_out // lanes)        # never below ceil(MACs / lanes)


@pytest.mark.parametrize("processors", [1, 2, 5, 6])
def test_period_of_64_32_64_10_is_the_largest_load_plus_the_drain(processors):
    """64-32-64-10 on 16 multipliers: every shape fills the array (c_l / 16 cycles a task), so
    the period is the scheduler's period in MACs / 16 plus one drain, in both modes."""
    widths = (64, 32, 64, 10)
    for mode in MODES:
        plan = plan_of(widths, mode, processors, 16)
        procs = plan.processors
        layers = mlp(widths).layers
        macs = {t.name: t.macs for t in scheme_tasks(layers, mode)}
        assert procs.schedule.period == max(sum(macs[n] for n in names) for names in procs.assignment)
        assert plan.cycles_per_beat == procs.schedule.period // 16 + stage_latency() == procs.ideal_period_cycles
        assert plan.cycles_per_beat == scheme_period_cycles(widths, procs.assignment, 16)
        # the tasks on each processor are the assignment's, BW_l as B_l(a) then W_l
        assert [[t.name for t in ts] for ts in procs.tasks] == \
            [[h for n in names for h in hardware_tasks(n)] for names in procs.assignment]
        assert plan.multipliers == 16 * processors


def test_layerpipe_beats_pipedream_where_the_paper_says():
    """DESIGN.md 3b's worked example, in cycles: equal at P = 2, about 1.52x at 5, 2x at 6."""
    ratio = {p: plan_of((64, 32, 64, 10), "pipedream", p, 16).cycles_per_beat /
             plan_of((64, 32, 64, 10), "layerpipe", p, 16).cycles_per_beat for p in (2, 5, 6)}
    assert ratio[2] == 1
    assert 1.45 < ratio[5] < 1.55 and 1.9 < ratio[6] <= 2


def test_manifest_round_trips_and_shows_the_schedulers_assignment(tmp_path):
    plan = plan_of((64, 32, 64, 10), "layerpipe", 5, 16)
    m = json.loads(json.dumps(plan.manifest()))
    assert load_manifest(m) == plan
    p = m["processors"]
    assert p["count"] == 5 and p["lanes"] == 16 and p["period_cycles"] == m["cycles_per_beat"]
    assert [[t["task"] for t in ts] for ts in p["tasks"]] == p["assignment"]
    for ts in p["tasks"]:
        for t in ts:
            assert t["weight_bases"] == [0, t["weight_words"]]
    r = subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", "schedule", "--net", "64-32-64-10",
                        "--processors", "5", "--lanes", "16", "--json"], capture_output=True, text=True)
    sched = json.loads(r.stdout)
    assert list(sched["layerpipe"]["assignment"].values()) == p["assignment"]
    assert sched["cycles"]["layerpipe"] == m["cycles_per_beat"]
    # an edited assignment is refused, naming the field
    m["processors"]["assignment"][0] = m["processors"]["assignment"][0][:-1]
    with pytest.raises(LayerPipeError, match="processors.assignment"):
        load_manifest(m)


@pytest.mark.parametrize("args, field", [
    (["--processors", "0"], "processors"),
    (["--processors", "9"], "processors"),                      # 64-32-10 has 5 layerpipe tasks
    (["--processors", "5", "--mode", "pipedream"], "processors"),   # and 4 pipedream tasks
    (["--processors", "2", "--lanes", "0"], "lanes"),
    (["--processors", "2", "--lanes", "4,2"], "lanes"),
    (["--processors", "2", "--cols", "4,2"], "cols"),
    (["--processors", "2", "--mode", "sequential"], "mode"),
    (["--processors", "4", "--lanes", "64"], "processors"),     # 256 multipliers, budget 128
])
def test_bad_processor_options_are_one_line(args, field, tmp_path):
    for command in (["generate", "--out", str(tmp_path)], ["sim"]):
        r = subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", *command, "--net", "64-32-10", *args],
                           capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert lines[0].startswith(f"layerpipe: error: {field}"), lines[0]
        assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- the RTL, bit for bit

def multiproc_check(widths, mode, processors, lanes, n=6, seed=0, **kw):
    """Bit-exact against the golden model (every result word, every final weight and bias), and
    every result one period after the one before: the model's cycles per sample."""
    plan = plan_of(widths, mode, processors, lanes, seed=seed)
    print(f"{plan.name}: assignment {plan.processors.assignment}, period {plan.cycles_per_beat} cycles")
    state = check(plan.config, plan.lanes, n=n, seed=seed, plan=plan, **kw)
    if not kw:      # no gaps, no backpressure: a result every period
        steps = set(np.diff(state["done"]).tolist())
        assert steps == {plan.cycles_per_sample}, (steps, plan.cycles_per_sample)


@pytest.mark.parametrize("widths, processors, lanes", [
    ((5, 7, 4, 3), 3, 4),
    ((6, 5, 3), 3, 2),
    ((3, 2), 2, 1),             # one layer: F1 and W1 on two processors
    ((4, 8, 3), 1, 8),          # everything on one processor
])
@pytest.mark.parametrize("mode", MODES)
def test_processors_are_bit_exact_with_the_golden_model(widths, processors, lanes, mode):
    if processors > len(scheme_tasks(mlp(widths).layers, mode)):
        pytest.skip("more processors than tasks")
    multiproc_check(widths, mode, processors, lanes, n=7, seed=sum(widths))


def test_gaps_and_backpressure_with_processors():
    multiproc_check((5, 6, 3), "layerpipe", 3, 3, n=8, seed=11, gaps=0.4, backpressure=0.6)


def random_multiproc(seed, max_width):
    """A seeded random multiprocessor design: 2 to 5 layers of widths 2..max_width, a mode,
    P = 1..8 (at most the mode's tasks) and 1..16 multipliers per processor."""
    rng = np.random.default_rng(seed)
    widths = tuple(int(w) for w in rng.integers(2, max_width + 1, size=int(rng.integers(3, 7))))
    mode = MODES[int(rng.integers(2))]
    processors = int(rng.integers(1, min(8, len(scheme_tasks(mlp(widths).layers, mode))) + 1))
    return widths, mode, processors, int(rng.integers(1, 17))


@pytest.mark.parametrize("seed", range(300, 306))
def test_random_processor_designs_are_bit_exact(seed):
    widths, mode, processors, lanes = random_multiproc(seed, max_width=10)
    print(f"seed {seed}: {widths} {mode} P={processors} lanes={lanes}")
    multiproc_check(widths, mode, processors, lanes, n=5, seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(400, 410))
def test_random_wide_processor_designs_are_bit_exact_in_verilator(seed, tmp_path):
    """Widths 2..40 in Verilator (the fast bench) on the synthetic data set, in both modes."""
    from layerpipe.sim.rtl_sim import simulate
    widths, _, processors, lanes = random_multiproc(seed, max_width=40)
    for mode in MODES:
        p = min(processors, len(scheme_tasks(mlp(widths).layers, mode)))
        plan = plan_of(widths, mode, p, max(lanes, 4), seed=seed)
        print(f"seed {seed}: {plan.name} {plan.processors.assignment}")
        r = simulate(plan, "synthetic", 40, seed)
        assert r["bit_exact"], r["first_mismatch"]
        assert r["cycles_per_sample"] == plan.cycles_per_sample


@pytest.mark.parametrize("widths", [(64, 32, 64, 10), (5, 7, 4, 3)])
def test_values_crossing_processors_match_the_schedulers_communication(widths):
    """The gateware's data paths (counted by ``crossings``) against the scheduler's task graph:
    the same activations and gradients, except a_0, which the input loader writes into layer 1's
    delay FIFO for F_1 and W_1 (the scheduler keeps it where F_1 runs and counts it if W_1 is elsewhere)."""
    for mode in MODES:
        for processors in range(1, len(scheme_tasks(mlp(widths).layers, mode)) + 1):
            procs = plan_of(widths, mode, processors, 4).processors
            where = {t.name: p for p, ts in enumerate(procs.tasks) for t in ts}
            split = where["F1"] != where["W1"]
            c, s = procs.crossings(widths), procs.schedule.communication
            assert c["gradients"] == s.gradients
            assert c["activations"] + (widths[0] if split else 0) == s.activations
            assert c["input"] == widths[0] * (2 if split else 1)
