"""The generated Verilog in Verilator (cocotb), bit for bit against the golden model."""
import pytest

from layerpipe.hw import generator
from layerpipe.hw.config import NetConfig
from layerpipe.hw.plan import plan_design
from layerpipe.hw.target import dsp_budget
from layerpipe.sim.bit_exact import first_difference
from layerpipe.sim.rtl_sim import BUILD_DIR, prepare, run_bench, simulate
from random_designs import random_config


def assert_exact(r):
    assert r["first_mismatch"] is None, r["first_mismatch"]
    assert r["bit_exact"] and r["mismatches"] == 0 and r["weights_bit_exact"]


MODES = ["layerpipe", "pipedream", "sequential"]


@pytest.mark.parametrize("mode", MODES)
def test_iris_trains_bit_exact(mode):
    events = []
    plan = plan_design(NetConfig((4, 8, 3), mode=mode))
    r = simulate(plan, "iris", n=30, progress=lambda *e: events.append(e))
    assert_exact(r)
    # the progress callback hears of the build, then of samples done, up to all of them
    assert events[0] == ("build", 0, 30) and events[-1] == ("train", 30, 30)
    done = [d for phase, d, _ in events[1:] if phase == "train"]
    assert len(done) == len(events) - 1 and done == sorted(done)
    assert r["samples"] == 30 and r["status"]["trained"] == 30
    assert r["accuracy"] == r["golden_accuracy"]
    assert r["cycles_per_sample"] == pytest.approx(plan.cycles_per_sample, abs=0.5)


@pytest.mark.parametrize("mode", MODES)
def test_gaps_and_backpressure_in_verilator(mode):
    """The models of test_iris_trains_bit_exact, fed with gaps and drained with backpressure."""
    r = simulate(plan_design(NetConfig((4, 8, 3), mode=mode)), "iris", n=25, seed=3, gap=0.3, backpressure=0.5)
    assert_exact(r)
    assert r["samples"] == 25 and r["status"]["trained"] == 25 and r["bench"] == "fast"


@pytest.mark.parametrize("mode", MODES)
def test_fast_and_cycle_benches_give_the_same_bits(mode):
    """The same run (iris, gaps and backpressure) through the fast bench and the
    per-cycle cocotb bench: every result word and every final weight and bias
    agree, and both agree with the golden model."""
    plan = plan_design(NetConfig((4, 8, 3), mode=mode))
    _, _, samples, _, expected = prepare(plan.config, "iris", 40, 5)
    out = BUILD_DIR / "generated" / plan.digest
    info = generator.generate(plan, out)
    runs = {bench: run_bench(bench, info, out / f"{plan.name}.v", samples, gap=0.7, backpressure=0.7, seed=5)
            for bench in ("fast", "cycle")}
    fast, cycle = runs["fast"], runs["cycle"]
    assert len(fast["results"]) == 40 and fast["extra_words"] == cycle["extra_words"] == 0
    for key in ("results", "weights"):
        assert first_difference(cycle[key], fast[key], item=key) is None, first_difference(cycle[key], fast[key])
    assert first_difference([list(e) for e in expected], fast["results"]) is None
    # the gaps and the backpressure happened (the cycle bench's drivers make them by construction)
    assert fast["gap_cycles"] > 20 and fast["backpressure_cycles"] > 20
    for run in runs.values():
        assert run["status"]["trained"] == 40 and run["cycles"] >= 40 * info["cycles_per_sample"]


def test_sim_takes_a_csv(tmp_path):
    """``--dataset PATH`` in Verilator: iris from a CSV, on the model of test_iris_trains_bit_exact."""
    from sklearn import datasets as sk
    d = sk.load_iris()
    path = tmp_path / "iris.csv"
    path.write_text("".join(",".join(map(str, [*row, t])) + "\n" for row, t in zip(d.data, d.target)))
    r = simulate(plan_design(NetConfig((4, 8, 3))), str(path), n=30)
    assert_exact(r)
    assert r["accuracy"] == simulate(plan_design(NetConfig((4, 8, 3))), "iris", n=30)["accuracy"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_fewer_samples_than_the_pipeline_is_deep_fill_drain_and_compare(mode, n):
    """4-8-3 is 2L - 1 = 3 beats deep: fewer samples must still drain and be compared."""
    r = simulate(plan_design(NetConfig((4, 8, 3), mode=mode)), "iris", n=n)
    assert_exact(r)
    assert r["samples"] == n and r["status"]["trained"] == n and r["status"]["idle"] == 1


@pytest.mark.parametrize("gap, backpressure", [(0.95, 0.0), (0.0, 0.95), (0.8, 0.8)])
def test_heavy_gaps_are_slow_not_a_timeout(gap, backpressure):
    """The bench's timeout counts the design's own cycles, so a bench that
    offers input one cycle in twenty only makes the run longer than the same
    run without gaps or backpressure (whatever the beat's length)."""
    plan = plan_design(NetConfig((4, 8, 3)))
    r = simulate(plan, "iris", n=8, seed=5, gap=gap, backpressure=backpressure)
    assert_exact(r)
    free = simulate(plan, "iris", n=8, seed=5)
    assert r["samples"] == 8 and r["cycles"] > free["cycles"]


NETS_1_TO_5_LAYERS = [(4, 3), (4, 8, 3), (4, 6, 5, 3), (4, 6, 5, 4, 3), (4, 6, 5, 4, 5, 3)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("widths", NETS_1_TO_5_LAYERS, ids=lambda w: "-".join(map(str, w)))
def test_one_and_two_samples_bit_exact_for_1_to_5_layers(widths, mode):
    for n in (1, 2):
        r = simulate(plan_design(NetConfig(widths, mode=mode)), "iris", n=n)
        assert_exact(r)
        assert r["samples"] == n and r["status"]["trained"] == n


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_digits_300_samples_bit_exact(mode):
    plan = plan_design(NetConfig((64, 32, 10), mode=mode))
    r = simulate(plan, "digits", n=300)
    assert_exact(r)
    assert r["cycles_per_sample"] == pytest.approx(plan.cycles_per_sample, abs=0.5)
    if mode != "sequential":
        assert r["mac_bound_ratio"] <= 1.15, r["mac_bound_ratio"]


def check_random(seed):
    cfg, gaps, backpressure = random_config(seed)
    print(f"seed {seed}: {cfg} gaps {gaps} backpressure {backpressure}")
    # random lanes and cols may need more DSP blocks than any device has: the test is about the bits
    plan = plan_design(cfg, dsp_budget(10**6))
    r = simulate(plan, "synthetic", n=24, seed=seed, gap=gaps, backpressure=backpressure)
    assert_exact(r)
    if gaps == backpressure == 0:
        assert r["cycles_per_sample"] == pytest.approx(plan.cycles_per_sample, abs=0.5)
    assert r["lanes"] == list(cfg.lanes) and r["cols"] == list(cfg.cols)


@pytest.mark.parametrize("seed", [11, 14])   # a layerpipe and a pipedream design, quick to build
def test_random_configurations_bit_exact_on_synthetic(seed):
    check_random(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20, 32))
def test_more_random_configurations_bit_exact_on_synthetic(seed):
    check_random(seed)


@pytest.mark.slow
@pytest.mark.parametrize("name, widths", [("wine", (13, 8, 3)), ("breast_cancer", (30, 8, 2))])
@pytest.mark.parametrize("mode", MODES)
def test_new_data_sets_in_verilator(name, widths, mode):
    assert_exact(simulate(plan_design(NetConfig(widths, mode=mode)), name, n=60))


def test_fast_bench_reports_a_stall():
    """Input held back for ever (every cycle a gap): no beat starts, and the fast
    bench stops with one line after its stall limit instead of running on."""
    from layerpipe.sim import fast_sim, verilator
    plan = plan_design(NetConfig((4, 8, 3)))
    _, _, samples, _, _ = prepare(plan.config, "iris", 5, 0)
    out = BUILD_DIR / "generated" / plan.digest
    info = generator.generate(plan, out)
    model = fast_sim.build(info, out / f"{plan.name}.v", BUILD_DIR / "verilator")
    with pytest.raises(verilator.SimulationError, match=r"^the design stalled: no beat started and no result left "
                       r"for 100000 cycles \(0 beats, 0 result words\)$"):
        fast_sim.run(model, info, samples, gap=1.0)
