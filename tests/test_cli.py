"""The command line as a user runs it: JSON on stdout, one line on stderr for bad input."""
import subprocess
import sys

import pytest

from layerpipe.hw.strict_json import loads as strict_loads


def layerpipe(*args):
    return subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", *args], capture_output=True, text=True)


def test_train_json_reports_the_contract_fields():
    r = layerpipe("train", "--net", "4-8-3", "--dataset", "iris", "--epochs", "3", "--json")
    assert r.returncode == 0, r.stderr
    out = strict_loads(r.stdout)
    for key in ("test_accuracy", "train_accuracy", "final_loss", "delays", "mode", "numbers"):
        assert key in out
    assert out["delays"] == [3, 1] and out["mode"] == "layerpipe"
    assert 0 <= out["test_accuracy"] <= 1


def test_train_saves_weights_and_plots(tmp_path):
    w, png = tmp_path / "w.npz", tmp_path / "curves.png"
    r = layerpipe("train", "--net", "4-8-3", "--dataset", "iris", "--epochs", "2", "--save-weights", str(w),
                  "--plot", str(png))
    assert r.returncode == 0, r.stderr
    import numpy as np
    saved = np.load(w)
    assert saved["w1"].shape == (8, 4) and saved["w2"].shape == (3, 8) and saved["b2"].shape == (3,)
    assert png.stat().st_size > 10_000
    assert "test accuracy" in r.stdout


def test_generate_takes_lanes_or_a_budget(tmp_path):
    """--lanes and --cols fix the shape; otherwise --dsp-budget bounds the multipliers the generator picks."""
    r = layerpipe("generate", "--net", "4-8-3", "--mode", "pipedream", "--lanes", "4,3", "--cols", "1,2",
                  "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    info = strict_loads(r.stdout)
    assert info["lanes"] == [4, 3] and info["cols"] == [1, 2]
    assert info["units"][1] == {"forward": 6, "backward (B then W)": 12}
    assert info["sample_values"] == 1 and set(info["ports"]["samples"]) == {"x[0]", "label", "last"}
    assert strict_loads((tmp_path / "manifest.json").read_text()) == info
    assert (tmp_path / f"{info['name']}.v").stat().st_size > 1000
    small = strict_loads(layerpipe("generate", "--net", "4-8-3", "--dsp-budget", "10", "--out", str(tmp_path),
                                 "--json").stdout)
    assert small["multipliers"] <= 10 < info["multipliers"]


def test_generate_then_sim_reads_the_manifest(tmp_path):
    """The manifest is the hand-off: sim --manifest builds the same design, bit-exact, at the planned cycles."""
    r = layerpipe("generate", "--net", "4-8-3", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    info = strict_loads(r.stdout)
    r = layerpipe("sim", "--manifest", str(tmp_path / "manifest.json"), "--dataset", "iris", "--samples", "30",
                  "--json")
    assert r.returncode == 0, r.stderr
    out = strict_loads(r.stdout)
    assert out["bit_exact"] and out["digest"] == info["digest"] and out["name"] == info["name"]
    assert out["cycles_per_sample"] == pytest.approx(info["cycles_per_sample"], abs=0.5)


def test_a_budget_names_a_different_design(tmp_path):
    names = {}
    for extra in ([], ["--dsp-budget", "40"]):
        r = layerpipe("generate", "--out", str(tmp_path / str(len(extra))), "--json", *extra)
        assert r.returncode == 0, r.stderr
        info = strict_loads(r.stdout)
        names[len(extra)] = (info["name"], info["digest"], tuple(info["lanes"]))
    assert names[0][0] != names[2][0] and names[0][1] != names[2][1] and names[0][2] != names[2][2]


def test_over_budget_lanes_warn_with_the_override(tmp_path):
    r = layerpipe("generate", "--net", "4-8-3", "--lanes", "8,3", "--dsp-budget", "20", "--over-budget",
                  "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().startswith("layerpipe: warning: lanes:") and strict_loads(r.stdout)["over_budget"]


@pytest.mark.parametrize("args, field", [
    (["train", "--net", "64-0-10"], "net"),
    (["train", "--net", "64--32-10"], "net"),
    (["train", "--net", "sixty-four"], "net"),
    (["train", "--net", "64-32-9"], "net"),
    (["train", "--net", "4-8-3", "--dataset", "mnist"], "dataset"),
    (["train", "--mode", "gpipe"], "mode"),
    (["train", "--epochs", "0"], "epochs"),
    (["train", "--epochs", "many"], "epochs"),
    (["train", "--act", "16"], "act"),
    (["train", "--weight", "16.16"], "weight"),
    (["train", "--lr-shift", "-2"], "lr_shift"),
    (["train", "--seed", "x"], "seed"),
    (["train", "--save-weights", "w.txt"], "w.txt"),
    (["train", "--bogus"], "unrecognized"),
    (["schedule", "--net", "64-32-10", "--processors", "0"], "processors"),
    (["schedule", "--net", "64-32-10", "--processors", "-3"], "processors"),
    (["schedule", "--net", "nosuchnet", "--processors", "4"], "net"),
    (["schedule", "--net", "64--10", "--processors", "4"], "net"),
    (["schedule", "--net", "64-32-", "--processors", "4"], "net"),
    (["schedule", "--net", "64", "--processors", "4"], "net"),
    (["schedule", "--net", "64-32-10"], "processors"),
    (["schedule", "--net", "64-32-10", "--sweep", "9..2"], "sweep"),
    (["sim", "--mode", "gpipe"], "mode"),
    (["sim", "--net", "4-8-3", "--dataset", "digits"], "net"),
    (["sim", "--samples", "0"], "samples"),
    (["sim", "--gaps", "1.5"], "gaps"),
    (["sim", "--lanes", "40,5"], "lanes"),           # more lanes than layer 1 has rows
    (["sim", "--lanes", "8"], "lanes"),              # one count for two layers
    (["sim", "--lanes", "8,x"], "lanes"),
    (["sim", "--dsp-budget", "3"], "dsp_budget"),
    (["sim", "--waves", "run.txt"], "waves"),
    (["sim", "--bench", "turbo"], "bench"),
    (["sim", "--net", "4-8-3", "--dataset", "no/such.csv"], "dataset"),
    (["sim", "--simulator", "modelsim"], "--simulator"),
    (["generate", "--lanes", "0,5", "--out", "x"], "lanes"),
    (["generate", "--cols", "65,5", "--out", "x"], "cols"),           # more columns than layer 1 has inputs
    (["generate", "--cols", "4", "--out", "x"], "cols"),
    (["sim", "--cols", "4,0"], "cols"),
    (["generate", "--net", "4-0-3", "--out", "x"], "net"),
    (["run", "--port", "/dev/does-not-exist", "--net", "4-8-3", "--dataset", "iris"], "port"),
    (["run", "--net", "4-8-3", "--dataset", "iris"], "--port"),
    (["run", "--port", "socket://localhost:1", "--net", "4-8-3", "--dataset", "digits"], "net"),
    (["run", "--port", "socket://localhost:1", "--epochs", "0"], "epochs"),
    (["run", "--port", "socket://localhost:1", "--net", "4-8-3", "--dataset", "iris"], "port"),   # nobody there
    (["sim", "--serve", "localhost", "--net", "4-8-3"], "serve"),
    (["sim", "--board", "icebreaker"], "board"),                 # --board only with --serve
    (["run", "--board", "nope", "--port", "x"], "board"),
    (["sim", "--serve", "localhost:4000", "--net", "4-8-3", "--divisor", "2"], "divisor"),
    (["generate", "--lanes", "32,10", "--dsp-budget", "90", "--out", "x"], "lanes"),
    (["generate", "--target", "xc7a35t", "--out", "x"], "target"),
    (["generate", "--net", "1024-1024-10", "--target", "ice40up5k", "--out", "x"], "memory"),
    (["sim", "--manifest", "no/such/manifest.json"], "manifest"),
    (["sim", "--manifest", "manifest.json", "--net", "4-8-3"], "manifest"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_input_is_one_line_and_no_traceback(args, field):
    r = layerpipe(*args)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and field in lines[0]
    assert r.stdout == ""
