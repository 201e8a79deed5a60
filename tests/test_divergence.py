"""Training that diverges ends with one line naming the epoch and a non-zero
exit (no NumPy warnings); the integer model reports what it clipped."""
import subprocess
import sys

import numpy as np
import pytest

from layerpipe.hw.config import NetConfig
from layerpipe.hw.fixed_point import Format, round_shift
from layerpipe.hw.strict_json import loads as strict_loads
from layerpipe.sim.golden import IntegerArithmetic


def layerpipe(*args):
    return subprocess.run([sys.executable, "-W", "default", "-m", "layerpipe.scripts.cli", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("numbers", [["--float"], []], ids=["float", "integer"])
def test_a_diverging_run_ends_with_one_line_naming_the_epoch(numbers):
    """lr 2^0: the float model overflows to inf, the integer one's loss explodes (it saturates instead)."""
    r = layerpipe("train", "--net", "4-8-3", "--dataset", "iris", "--lr-shift", "0", *numbers)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("layerpipe: error: training diverged in epoch 1: ") and "try --lr-shift 2" in last, last
    assert "Warning" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_a_diverged_run_with_json_prints_null_for_its_undefined_loss():
    r = layerpipe("train", "--net", "4-8-3", "--dataset", "iris", "--lr-shift", "0", "--float", "--json")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "diverged in epoch 1" in r.stderr
    out = strict_loads(r.stdout)
    assert out["diverged_epoch"] == 1 and out["final_loss"] is None and out["saturation"] is None


def test_saturation_counts_per_quantity_are_reported():
    base = ("train", "--net", "4-8-3", "--dataset", "iris", "--epochs", "3", "--json")
    plain = strict_loads(layerpipe(*base).stdout)["saturation"]
    assert set(plain) == {"act", "grad", "weight"} and all(isinstance(n, int) for n in plain.values())
    narrow_grad = strict_loads(layerpipe(*base, "--grad", "6.5").stdout)["saturation"]
    assert narrow_grad["grad"] > 0
    text = layerpipe(*base[:-1], "--grad", "6.5").stdout
    assert f"grad {narrow_grad['grad']}" in text
    assert strict_loads(layerpipe(*base, "--float").stdout)["saturation"] is None


def test_each_clipped_value_is_counted_once_and_evaluation_is_not():
    rng = np.random.default_rng(4)
    cfg = NetConfig((5, 7, 3), act=Format(8, 4))
    ar = IntegerArithmetic(cfg)
    w = rng.integers(-16000, 16000, size=(7, 5))
    b = rng.integers(-300, 300, size=7)
    a = rng.integers(-128, 128, size=5)
    z = round_shift(a @ w.T + (b << cfg.act.frac), cfg.weight.frac)
    clipped = int(np.sum((z < cfg.act.min) | (z > cfg.act.max)))
    assert clipped > 0
    ar.forward(w, b, a, hidden=True)
    assert ar.saturated == {"act": clipped, "grad": 0, "weight": 0}
    with ar.uncounted():
        ar.forward(w, b, a, hidden=True)
    assert ar.saturated["act"] == clipped
