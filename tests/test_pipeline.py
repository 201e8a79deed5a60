"""The whole pipeline in Amaranth's simulator against the golden model, bit for
bit: every result word, every final weight and bias, fill and drain, with
random gaps in the sample stream and random backpressure on the results."""
from dataclasses import replace

import numpy as np
import pytest
from amaranth.sim import Simulator

from layerpipe.hw.config import NetConfig
from layerpipe.hw.initial_parameters import initial_parameters
from layerpipe.hw.pipeline import Pipeline as HwPipeline
from layerpipe.hw.plan import DesignPlan, choose_shape, layer_plans, plan_design
from layerpipe.hw.target import dsp_budget
from layerpipe.hw.weight_readback import READBACK_LATENCY
from layerpipe.sim.bit_exact import first_difference
from layerpipe.sim.golden import IntegerArithmetic, Pipeline, Sample
from random_designs import random_config


def plan_of(cfg, lanes, cols=None, target=None):
    """The plan of ``cfg`` with ``lanes`` (which may exceed a layer's width: idle lanes; NetConfig
    refuses those) and ``cols`` (default one per layer), on ``target`` (default: a plain budget)."""
    cols = tuple(cols) if cols is not None else (1,) * cfg.n_layers
    target = target or dsp_budget()
    return DesignPlan(cfg.replace(cols=cols), target, layer_plans(cfg, lanes, cols, target))


def run_pipeline(cfg, lanes, n, seed, gaps=0.0, backpressure=0.0, cols=None, plan=None):
    """Train the design of ``plan`` (default: ``plan_of(cfg, lanes, cols)``) and the golden model on
    ``n`` seeded random samples; (expected results, RTL results, RTL state, golden model)."""
    rng = np.random.default_rng(seed)
    ar = IntegerArithmetic(cfg)
    samples = [Sample(i, ar.input(rng.random(cfg.widths[0])), int(rng.integers(cfg.widths[-1])))
               for i in range(n)]
    gold = Pipeline(cfg, ar)
    expected = [(a.tolist(), label) for rep in gold.run(samples) for _, a, label in rep.results]
    weights, biases = ar.parameters(*initial_parameters(cfg))
    plan = plan or plan_of(cfg, lanes, cols)
    dut = (plan.pipeline_class() if hasattr(plan, "pipeline_class") else HwPipeline)(plan, weights, biases)
    V, R, n_out = dut.sample_values, dut.result_values, cfg.widths[-1]
    got, state = [], {}

    async def driver(ctx):
        for s in samples:
            words = -(-len(s.x) // V)
            for k in range(words):
                while rng.random() < gaps:
                    ctx.set(dut.samples.valid, 0)
                    await ctx.tick()
                # inputs past n_0 in the last transfer are garbage the pipeline must ignore
                x = [int(s.x[k * V + q]) if k * V + q < len(s.x) else int(rng.integers(-99, 99)) for q in range(V)]
                ctx.set(dut.samples.valid, 1)
                ctx.set(dut.samples.p, {"x": x, "label": s.label, "last": k == words - 1})
                await ctx.tick().until(dut.samples.ready)
        ctx.set(dut.samples.valid, 0)
        ctx.set(dut.drain, 1)

    async def monitor(ctx):
        word = []
        state["done"] = []               # cycle in which each sample's last result word left
        for cycle in range(200_000):
            ready = int(rng.random() >= backpressure)
            ctx.set(dut.results.ready, ready)
            await ctx.tick()
            # a transfer happened at that edge if valid and ready were both high before it
            if state.get("valid") and ready:
                word.extend(state["a"])
                if state["last"]:
                    assert len(word) == -(-n_out // R) * R and not any(word[n_out:]), "padding of the last transfer"
                    got.append((word[:n_out], state["label"]))
                    state["done"].append(cycle)
                    word = []
            a = ctx.get(dut.results.p.a)
            state.update(valid=ctx.get(dut.results.valid), a=[int(a[q]) for q in range(R)],
                         last=ctx.get(dut.results.p.last), label=ctx.get(dut.results.p.label))
            if len(got) == n and ctx.get(dut.status.idle):
                break
        state["status"] = {k: ctx.get(getattr(dut.status, k)) for k in ("beats", "trained", "framing_error")}
        back = []
        for l in range(cfg.n_layers):
            rows = []
            for r in range(cfg.widths[l + 1]):
                row = []
                for c in range(cfg.widths[l] + 1):
                    ctx.set(dut.readback_layer, l)
                    ctx.set(dut.readback_row, r)
                    ctx.set(dut.readback_col, c)
                    await ctx.tick().repeat(READBACK_LATENCY)
                    row.append(ctx.get(dut.readback_data))
                rows.append(row)
            back.append(rows)
        state["weights"] = back

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(driver, background=True)
    sim.add_testbench(monitor)
    sim.run()
    return expected, got, state, gold


def check(cfg, lanes, n, seed, **kw):
    print(f"config {cfg.widths} mode {cfg.mode} lanes {lanes} seed {seed} "
          f"{ {k: v for k, v in kw.items() if k != 'plan'} } {getattr(kw.get('plan'), 'name', '')}")
    plan = kw.get("plan") or plan_of(cfg, lanes)
    expected, got, state, gold = run_pipeline(cfg, lanes, n, seed, **kw)
    first = first_difference([{"a": a, "label": label} for a, label in expected],
                             [{"a": a, "label": label} for a, label in got])
    assert first is None, first
    for l in range(cfg.n_layers):
        # row r of W_l with b_l[r] as its last column
        want = np.concatenate([gold.weights[l], gold.biases[l][:, None]], axis=1).tolist()
        first = first_difference(want, state["weights"][l], item=f"layer {l + 1} weight row")
        assert first is None, first
    assert state["status"]["beats"] == n * plan.beats_per_sample + plan.fill_beats
    assert state["status"]["trained"] == n and state["status"]["framing_error"] == 0
    return state


@pytest.mark.parametrize("widths, lanes, mode", [
    ((6, 5, 3), (2, 2), "layerpipe"),          # lanes that do not divide the widths
    ((5, 7, 4, 3), (3, 2, 4), "layerpipe"),
    ((5, 7, 4, 3), (3, 2, 4), "sequential"),
    ((5, 7, 4, 3), (3, 2, 4), "pipedream"),    # B then W on 4, 8 lanes: odd and even passes
    ((6, 5, 3), (2, 2), "pipedream"),
    ((4, 8, 3), (8, 3), "layerpipe"),          # more outputs than inputs
    ((3, 2), (1,), "layerpipe"),               # one layer
])
def test_pipeline_is_bit_exact_with_the_golden_model(widths, lanes, mode):
    check(NetConfig(widths, mode=mode), lanes, n=7, seed=sum(widths))


@pytest.mark.parametrize("mode", ["layerpipe", "pipedream"])
def test_gaps_and_backpressure_lose_and_repeat_nothing(mode):
    check(NetConfig((5, 6, 3), mode=mode), (3, 2), n=8, seed=11, gaps=0.4, backpressure=0.6)


def test_narrow_formats_saturate_identically():
    from layerpipe.hw.fixed_point import Format
    cfg = NetConfig((5, 6, 3), act=Format(8, 4), weight=Format(8, 5), grad=Format(6, 4), lr_shift=0)
    check(cfg, (4, 3), n=8, seed=5)


@pytest.mark.parametrize("widths, lanes, cols, mode", [
    ((6, 5, 3), (2, 2), (3, 2), "layerpipe"),         # columns that do not divide the inputs
    ((5, 7, 4, 3), (3, 2, 4), (2, 3, 2), "pipedream"),  # B then W on 2 x cols, FIFO words of lcm(3, 6)
    ((5, 7, 4, 3), (3, 2, 4), (5, 4, 3), "sequential"),
    ((7, 8, 3), (8, 3), (4, 5), "pipedream"),
    ((2, 3, 12), (3, 12), (2, 3), "layerpipe"),       # a 4-cycle beat: 3 outputs per result transfer
])
def test_columns_per_cycle_are_bit_exact(widths, lanes, cols, mode):
    check(NetConfig(widths, mode=mode), lanes, n=7, seed=sum(widths) + 1, cols=cols)


def test_several_values_per_transfer_with_gaps_and_backpressure():
    check(NetConfig((7, 6, 3), mode="pipedream"), (3, 2), n=8, seed=12, gaps=0.4, backpressure=0.6, cols=(3, 2))
    check(NetConfig((2, 3, 12)), (3, 12), n=8, seed=13, gaps=0.3, backpressure=0.5, cols=(2, 3))


def shape_cost(cfg, lanes, cols, target):
    """(slowest sweep, DSP blocks) of ``cfg`` with these lanes and cols."""
    layers = layer_plans(cfg, lanes, cols, target)
    return max(p.sweep_cycles for p in layers), sum(p.dsp_blocks for p in layers)


def exhaustive(cfg, target):
    """(least slowest sweep, fewest DSP blocks for it) over every (lanes, cols) of every layer."""
    from itertools import product
    w = cfg.widths
    shapes = [[(p, c) for p in range(1, w[l] + 1) for c in range(1, w[l - 1] + 1)] for l in range(1, len(w))]
    best = None
    for pick in product(*shapes):
        T, blocks = shape_cost(cfg, [p for p, _ in pick], [c for _, c in pick], target)
        if blocks <= target.dsp_blocks:
            best = min(best or (T, blocks), (T, blocks))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_the_chosen_shape_is_as_fast_as_an_exhaustive_search(seed):
    """On small nets the plan's (lanes, cols) reach the least beat any shape
    under the budget reaches, with no more DSP blocks than the cheapest such shape."""
    rng = np.random.default_rng(seed)
    print(f"seed={seed}")
    for _ in range(3):
        count = int(rng.integers(2, 5))        # 1 to 3 layers, narrower the more there are
        widths = tuple(int(w) for w in rng.integers(1, (9, 7, 5)[count - 2], size=count))
        cfg = NetConfig(widths, mode=("layerpipe", "pipedream", "sequential")[int(rng.integers(3))])
        L = len(widths) - 1
        target = dsp_budget(int(rng.integers(3 * L, 6 * L * 7)))
        lanes, cols = choose_shape(cfg, target)
        assert shape_cost(cfg, lanes, cols, target) == exhaustive(cfg, target), \
            f"{widths} {cfg.mode} {target.dsp_blocks} blocks: lanes {lanes} cols {cols}"


@pytest.mark.parametrize("mode", ["layerpipe", "pipedream"])
def test_64_32_10_reaches_its_budget(mode):
    """The shapes the issue found by exhaustive search: a 40-cycle sweep under 128 multipliers, 32 under 160;
    the sample and result streams never bound the beat."""
    for budget, sweep in ((128, 40), (160, 32)):
        plan = plan_design(NetConfig((64, 32, 10), mode=mode), dsp_budget(budget))
        assert max(p.sweep_cycles for p in plan.layers) == sweep and plan.dsp_blocks <= budget
        assert plan.bounds["bound"] == "beat"


@pytest.mark.parametrize("widths, lanes", [
    ((4, 4, 40), None),            # wide output: several outputs per result transfer keep up
    ((3, 30), None),               # one layer, wide output
    ((40, 4, 3), None),            # wide input: several inputs per sample transfer
    ((6, 5, 3), (2, 2)),           # the beat bounds it
    ((5, 7, 4, 3), (3, 2, 3)),
])
@pytest.mark.parametrize("mode", ["layerpipe", "pipedream", "sequential"])
def test_cycles_per_sample_match_the_plan(widths, lanes, mode):
    """Steady-state cycles between results, measured, equal the plan's (whatever bounds them)."""
    cfg = NetConfig(widths, mode=mode)
    plan = plan_of(cfg, lanes) if lanes else plan_design(cfg)
    n = 2 * plan.fill_beats + 8
    expected, got, state, _ = run_pipeline(cfg, plan.lanes, n, seed=3, cols=plan.cols)
    assert got == expected
    done = state["done"][plan.fill_beats + 2:]
    measured = (done[-1] - done[0]) / (len(done) - 1)
    assert measured == plan.cycles_per_sample, f"measured {measured}, plan {plan.cycles_per_sample} ({plan.bounds})"


def multipliers_built(top):
    """Lanes of every MacArray in the elaborated design: the multipliers yosys will map."""
    from amaranth.hdl import Fragment

    from layerpipe.hw.mac_array import MacArray

    def walk(fragment):
        origin = fragment.origins[0] if getattr(fragment, "origins", None) else None
        own = origin.lanes if isinstance(origin, MacArray) else 0
        return own + sum(walk(sub) for sub, *_ in fragment.subfragments)
    return walk(Fragment.get(top, None))


def test_pipedream_uses_the_same_multipliers_and_beat_as_layerpipe():
    """One backward unit of lanes x 2 cols (B then W) where layerpipe has W and B(a) units of lanes x cols."""
    from layerpipe.hw.generator import build
    info = {}
    for mode in ("layerpipe", "pipedream"):
        plan = plan_design(NetConfig((64, 32, 10), mode=mode))
        top = build(plan)
        info[mode] = plan.manifest()
        assert multipliers_built(top) == info[mode]["multipliers"]
    lp, pd = info["layerpipe"], info["pipedream"]
    assert lp["lanes"] == pd["lanes"] and lp["cols"] == pd["cols"]
    n1, n2 = (p * c for p, c in zip(lp["lanes"], lp["cols"]))
    assert lp["units"][1] == {"forward": n2, "weight_grad": n2, "act_grad_a": n2}
    assert pd["units"][1] == {"forward": n2, "backward (B then W)": 2 * n2}
    assert pd["units"][0] == lp["units"][0] == {"forward": n1, "weight_grad": n1}
    assert pd["multipliers"] == lp["multipliers"] == 2 * n1 + 3 * n2 <= 128
    assert pd["sweep_cycles"] == lp["sweep_cycles"] and max(lp["sweep_cycles"]) == 40


@pytest.mark.parametrize("seed", range(100, 106))
def test_random_configurations_are_bit_exact(seed):
    cfg, gaps, backpressure = random_config(seed, max_width=12)
    check(cfg, cfg.lanes, n=6, seed=seed, gaps=gaps, backpressure=backpressure, cols=cfg.cols)


@pytest.mark.parametrize("seed,stages,family", [(110, 0, "ice40"), (111, 0, "ice40"), (112, 0, "ice40"),
                                                 (113, 0, "ice40"), (114, 2, "ecp5"), (115, 2, "ecp5"),
                                                 (116, 2, "ecp5")])
def test_random_configurations_with_other_operand_registers_are_bit_exact(seed, stages, family):
    """The iCE40's MAC arrays (no operand registers: 3 fixed cycles a beat, one less) and the
    ECP5-85F's (two stages: 5 fixed cycles, one more)."""
    cfg, gaps, backpressure = random_config(seed, max_width=12)
    target = replace(dsp_budget(10**6, family=family), operand_registers=stages)
    plan = plan_of(cfg, cfg.lanes, cfg.cols, target)
    assert plan.cycles_per_beat == max(p.sweep_cycles for p in plan.layers) + 3 + stages
    check(cfg, cfg.lanes, n=6, seed=seed, gaps=gaps, backpressure=backpressure, plan=plan)


@pytest.mark.parametrize("mode", ["layerpipe", "pipedream"])
def test_the_icebreaker_design_keeps_the_plans_cycles(mode):
    """4-8-3 on the iCE40UP5K (the iCEBreaker's default net) planned as the board builds it."""
    from layerpipe.hw.target import TARGETS
    cfg = NetConfig((4, 8, 3), mode=mode)
    plan = plan_design(cfg, TARGETS["ice40up5k"])
    assert not any(p.operand_registers for p in plan.layers)
    n = 2 * plan.fill_beats + 8
    expected, got, state, _ = run_pipeline(cfg, plan.lanes, n, seed=5, plan=plan)
    assert got == expected
    done = state["done"][plan.fill_beats + 2:]
    assert (done[-1] - done[0]) / (len(done) - 1) == plan.cycles_per_sample


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(200, 216))
def test_random_wide_configurations_are_bit_exact(seed):
    cfg, gaps, backpressure = random_config(seed)
    check(cfg, cfg.lanes, n=6, seed=seed, gaps=gaps, backpressure=backpressure, cols=cfg.cols)


def test_the_handover_bypass_is_where_the_plan_puts_it():
    """2-3-12 with lanes 3, 12 and cols 2, 3: layer 1's one pass ends the 1-cycle sweep, so its
    outputs reach layer 2's delay FIFO in the cycle layer 2's first read is addressed. The plan
    gives that FIFO the bypass (and layer 1's none); without it the results differ."""
    cfg = NetConfig((2, 3, 12))
    plan = plan_of(cfg, (3, 12), (2, 3))
    assert [p.handover_bypass for p in plan.layers] == [False, True]
    check(cfg, (3, 12), n=6, seed=4, plan=plan)
    without = replace(plan, layers=tuple(replace(p, handover_bypass=False) for p in plan.layers))
    expected, got, _, _ = run_pipeline(cfg, (3, 12), 6, 4, plan=without)
    assert got != expected
