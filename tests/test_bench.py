"""``layerpipe bench --quick``: the JSON's shape, and every figure positive and
consistent with the figures it is computed from (never their values)."""
import math
import subprocess
import sys

import pytest

from layerpipe.hw import strict_json
from layerpipe.scripts import bench as bench_mod
from layerpipe.scripts.cpu_reference import REFERENCES

MODES = ("layerpipe", "pipedream", "sequential")
# figures that may be zero: a difference, build times, memories a small design does not use
MAY_BE_ZERO = {"max_abs_diff_vs_golden", "build_seconds", "brams", "sprams"}


def layerpipe(*args):
    return subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One quick run on the iCEBreaker's net (small Verilator builds), with --out."""
    out = tmp_path_factory.mktemp("bench")
    r = layerpipe("bench", "--quick", "--boards", "icebreaker", "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[bench 1/" in r.stderr          # progress shown while it runs
    return strict_json.loads(r.stdout), out


def figures(node, path=""):
    """Every figure ({value, unit, source}) in the result, with its path."""
    if isinstance(node, dict):
        if {"value", "unit", "source"} <= set(node):
            yield path, node
            return
        for k, v in node.items():
            yield from figures(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from figures(v, f"{path}[{i}]")


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_quotient(fig, num, den, scale=1.0):
    """``fig`` is scale * num / den when both are there, else null with a note."""
    assert fig["source"] == "derived" and fig.get("formula")
    if num["value"] is None or den["value"] is None:
        assert fig["value"] is None and fig["note"]
    else:
        assert close(fig["value"], scale * num["value"] / den["value"]), (fig, num, den)


def test_every_figure_has_unit_source_and_a_positive_value_or_a_note(quick):
    result, _ = quick
    found = list(figures(result))
    assert len(found) > 100
    for path, fig in found:
        assert fig["source"] in bench_mod.SOURCES, path
        assert isinstance(fig["unit"], str) and fig["unit"], path
        if fig["value"] is None:
            assert fig.get("note"), f"{path}: null without a note"
        else:
            assert isinstance(fig["value"], (int, float)) and math.isfinite(fig["value"]), path
            if path.rsplit(".", 1)[-1] in MAY_BE_ZERO:
                assert fig["value"] >= 0, path
            else:
                assert fig["value"] > 0, path


def test_shape(quick):
    result, _ = quick
    assert result["bench"]["quick"] is True and result["bench"]["boards"] == ["icebreaker"]
    assert result["machine"]["model"] and result["machine"]["logical_cpus"] >= 1
    load = result["machine"]["load_average"]
    assert load is None or (len(load) == 3 and all(x >= 0 for x in load))
    assert set(result["boards"]) == {"icebreaker"}
    r = result["boards"]["icebreaker"]
    assert set(r["rtl"]) == set(MODES) == set(r["fpga"]) == set(r["fpga_vs_cpu"])
    for mode in MODES:
        assert r["rtl"][mode]["bit_exact"] is True
        assert r["rtl"][mode]["cycles_per_sample"]["source"] == "RTL"
        assert r["rtl"][mode]["mac_bound_cycles_per_sample"]["source"] == "model"
        assert set(r["fpga_vs_cpu"][mode]) == set(REFERENCES)
    assert r["synth"]["fmax_mhz"]["source"] == "nextpnr"
    assert set(r["cpu"]) == set(REFERENCES)
    # the compiled loop and NumPy run everywhere; only PyTorch may be skipped
    for ref in ("c", "numpy"):
        assert r["cpu"][ref]["samples_per_s"]["value"] is not None, r["cpu"][ref]
    equal = result["scheduler"]["equal_processors"]
    assert equal and all(q["bit_exact"] is True for q in equal)
    for q in equal:
        assert {f["source"] for f in q["cycles_per_sample"].values()} == {"RTL"}
        assert q["speedup_model_cycles"]["source"] == q["speedup_scheduler"]["source"] == "model"
    rows = result["scaling"]["icebreaker"]["nets"]
    assert len(rows) == len(bench_mod.SCALING_WIDTHS) * len(bench_mod.SCALING_DEPTHS)
    assert any(row["cycles_per_sample"]["value"] is not None for row in rows)


def test_figures_are_consistent(quick):
    result, _ = quick
    for r in result["boards"].values():
        fmax = r["synth"]["fmax_mhz"]
        check_quotient(r["synth"]["fmax_vs_clock_constraint"], fmax, r["clock_constraint_mhz"])
        for mode in MODES:
            t = r["rtl"][mode]
            check_quotient(t["ratio_to_mac_bound"], t["cycles_per_sample"], t["mac_bound_cycles_per_sample"])
            check_quotient(t["ratio_to_device_limit"], t["cycles_per_sample"], t["device_limit_cycles_per_sample"])
            assert close(t["mac_bound_cycles_per_sample"]["value"],
                         r["macs_per_sample"]["value"] / t["multipliers"]["value"])
            assert close(t["device_limit_cycles_per_sample"]["value"],
                         r["macs_per_sample"]["value"] / t["device_multipliers"]["value"])
            if mode == "layerpipe":
                check_quotient(r["fpga"][mode]["samples_per_s"], fmax, t["cycles_per_sample"], scale=1e6)
            for ref in REFERENCES:
                check_quotient(r["fpga_vs_cpu"][mode][ref], r["fpga"][mode]["samples_per_s"],
                               r["cpu"][ref]["samples_per_s"])
        for ref in REFERENCES:
            c = r["cpu"][ref]
            if c["samples_per_s"]["value"] is not None:
                assert close(c["samples_per_s"]["value"], r["samples"] / c["seconds"]["value"])
    for rows in result["scheduler"]["model"].values():
        for row in rows:
            p = row["period"]
            check_quotient(row["speedup"], p["pipedream"], p["layerpipe"])
            check_quotient(row["speedup_vs_stages"], p["pipedream_stages"], p["layerpipe"])
    for q in result["scheduler"]["equal_processors"]:
        c = q["cycles_per_sample"]
        check_quotient(q["speedup_rtl"], c["pipedream"], c["layerpipe"])
    for s in result["scaling"].values():
        for row in s["nets"]:
            if row["cycles_per_sample"]["value"] is not None:
                check_quotient(row["samples_per_s"], s["clock_mhz"], row["cycles_per_sample"], scale=1e6)


def test_out_writes_json_markdown_and_plots(quick):
    result, out = quick
    assert strict_json.loads((out / "bench.json").read_text()) == result
    md = (out / "bench.md").read_text()
    assert "| layerpipe |" in md and "icebreaker" in md
    for name in ("throughput.png", "cycles.png", "scheduler.png", "scaling.png", "sim_scaling.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


@pytest.mark.parametrize("args,field", [
    (("--boards", "nope"), "boards"),
    (("--boards", ""), "boards"),
    (("--boards", "icebreaker,icebreaker"), "boards"),
])
def test_bad_input_is_one_line(args, field):
    r = layerpipe("bench", "--quick", *args, "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"layerpipe: error: {field}: ") and r.stderr.count("\n") == 1, r.stderr


def test_out_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = layerpipe("bench", "--quick", "--out", str(f))
    assert r.returncode == 2 and r.stderr.startswith("layerpipe: error: out: ") and r.stderr.count("\n") == 1


def test_figure_refuses_nan_and_a_silent_null():
    assert bench_mod.figure(float("nan"), "x", "model")["value"] is None
    with pytest.raises(ValueError):
        bench_mod.figure(None, "x", "model")
