"""The whole pipeline in Amaranth's simulator against the golden model, bit for
bit: every result word, every final weight and bias, fill and drain, with
random gaps in the sample stream and random backpressure on the results."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from layerpipe.hw.config import NetConfig
from layerpipe.hw.initial_parameters import initial_parameters
from layerpipe.hw.pipeline import Pipeline as HwPipeline
from layerpipe.hw.plan import DesignPlan, choose_lanes, layer_plans, plan_design
from layerpipe.hw.target import dsp_budget
from layerpipe.sim.bit_exact import first_difference
from layerpipe.sim.golden import IntegerArithmetic, Pipeline, Sample


def plan_of(cfg, lanes):
    """The plan of ``cfg`` with ``lanes``, which may exceed a layer's width (idle lanes; NetConfig refuses those)."""
    return DesignPlan(cfg, dsp_budget(), layer_plans(cfg, lanes))


def run_pipeline(cfg, lanes, n, seed, gaps=0.0, backpressure=0.0):
    rng = np.random.default_rng(seed)
    ar = IntegerArithmetic(cfg)
    samples = [Sample(i, ar.input(rng.random(cfg.widths[0])), int(rng.integers(cfg.widths[-1])))
               for i in range(n)]
    gold = Pipeline(cfg, ar)
    expected = [(a.tolist(), label) for rep in gold.run(samples) for _, a, label in rep.results]
    weights, biases = ar.parameters(*initial_parameters(cfg))
    dut = HwPipeline(plan_of(cfg, lanes), weights, biases)
    got, state = [], {}

    async def driver(ctx):
        for s in samples:
            for k, x in enumerate(s.x):
                while rng.random() < gaps:
                    ctx.set(dut.samples.valid, 0)
                    await ctx.tick()
                ctx.set(dut.samples.valid, 1)
                ctx.set(dut.samples.p, {"x": int(x), "label": s.label, "last": k == len(s.x) - 1})
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
                word.append(state["a"])
                if state["last"]:
                    got.append((word, state["label"]))
                    state["done"].append(cycle)
                    word = []
            state.update(valid=ctx.get(dut.results.valid), a=ctx.get(dut.results.p.a),
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
                    await ctx.tick().repeat(2)
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
    print(f"config {cfg.widths} mode {cfg.mode} lanes {lanes} seed {seed} {kw}")
    expected, got, state, gold = run_pipeline(cfg, lanes, n, seed, **kw)
    first = first_difference([{"a": a, "label": label} for a, label in expected],
                             [{"a": a, "label": label} for a, label in got])
    assert first is None, first
    for l in range(cfg.n_layers):
        # row r of W_l with b_l[r] as its last column
        want = np.concatenate([gold.weights[l], gold.biases[l][:, None]], axis=1).tolist()
        first = first_difference(want, state["weights"][l], item=f"layer {l + 1} weight row")
        assert first is None, first
    plan = plan_of(cfg, lanes)
    assert state["status"]["beats"] == n * plan.beats_per_sample + plan.fill_beats
    assert state["status"]["trained"] == n and state["status"]["framing_error"] == 0


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


@pytest.mark.parametrize("widths, lanes", [
    ((4, 4, 40), None),            # wide output: streaming 40 result words bounds the sample
    ((3, 30), None),               # one layer, wide output
    ((40, 4, 3), None),            # wide input
    ((6, 5, 3), (2, 2)),           # the beat bounds it
    ((5, 7, 4, 3), (3, 2, 3)),
])
@pytest.mark.parametrize("mode", ["layerpipe", "pipedream", "sequential"])
def test_cycles_per_sample_match_the_plan(widths, lanes, mode):
    """Steady-state cycles between results, measured, equal the plan's (whatever bounds them)."""
    cfg = NetConfig(widths, mode=mode)
    plan = plan_of(cfg, lanes) if lanes else plan_design(cfg)
    n = 2 * plan.fill_beats + 8
    expected, got, state, _ = run_pipeline(cfg, plan.lanes, n, seed=3)
    assert got == expected
    done = state["done"][plan.fill_beats + 2:]
    measured = (done[-1] - done[0]) / (len(done) - 1)
    assert measured == plan.cycles_per_sample, f"measured {measured}, plan {plan.cycles_per_sample} ({plan.bounds})"


def test_lanes_stop_where_the_beat_no_longer_bounds():
    """4-4-40: 40 result words bound a sample at 41 cycles, so the lanes stop once the beat is within that."""
    plan = plan_design(NetConfig((4, 4, 40)))
    assert plan.bounds["bound"] == "output" and plan.cycles_per_sample == 41
    assert plan.cycles_per_beat <= 41
    fewer = [plan_design(NetConfig((4, 4, 40), lanes=tuple(p if i != l else p - 1 for i, p in enumerate(plan.lanes))))
             for l in range(plan.n_layers) if plan.lanes[l] > 1]
    # one lane less anywhere would lengthen the cycles per sample: every multiplier counts
    assert fewer and all(f.cycles_per_sample > plan.cycles_per_sample for f in fewer)


def test_lanes_balance_the_beat():
    # 64-32-10: 32 lanes sweep layer 1 in 64 cycles, 5 lanes layer 2 in 2 x 32; 2*32 + 3*5 = 79 multipliers
    assert choose_lanes(NetConfig((64, 32, 10))) == (32, 5)
    # 40 multipliers: (16, 2) sweeps in 128 and 160 cycles using 38; one more lane on layer 2
    # (3 lanes, 4 passes = 128 cycles) would need 41
    assert choose_lanes(NetConfig((64, 32, 10)), dsp_budget(40)) == (16, 2)


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
    """One backward unit of 2 x lanes (B then W) where layerpipe has W and B(a) units of lanes each."""
    from layerpipe.hw.generator import build
    info = {}
    for mode in ("layerpipe", "pipedream"):
        plan = plan_design(NetConfig((64, 32, 10), mode=mode))
        top = build(plan)
        info[mode] = plan.manifest()
        assert multipliers_built(top) == info[mode]["multipliers"]
    lp, pd = info["layerpipe"], info["pipedream"]
    assert lp["units"][1] == {"forward": 5, "weight_grad": 5, "act_grad_a": 5}
    assert pd["units"][1] == {"forward": 5, "backward (B then W)": 10}
    assert pd["units"][0] == lp["units"][0] == {"forward": 32, "weight_grad": 32}
    assert pd["multipliers"] == lp["multipliers"]
    assert pd["sweep_cycles"] == lp["sweep_cycles"] == [64, 64]
