"""The CPU references of ``layerpipe bench`` train exactly what the float golden model trains."""
import numpy as np
import pytest

from layerpipe.hw.config import NetConfig
from layerpipe.scripts import cpu_reference as cpu

NETS = [((64, 32, 10), "digits"), ((6, 12, 9, 5), "synthetic")]


def available(name):
    if name == "torch":
        pytest.importorskip("torch")
    why = cpu.unavailable(name)
    if why:
        pytest.skip(why)


@pytest.mark.parametrize("name", cpu.REFERENCES)
@pytest.mark.parametrize("widths,dataset", NETS)
def test_reference_trains_like_the_golden_model(name, widths, dataset):
    """Every weight and bias after 40 per-sample updates, against float64 golden
    sequential mode (plain SGD); the tolerance covers float32 only."""
    available(name)
    cfg = NetConfig(widths, seed=3)
    task = cpu.training_task(cfg, dataset, 40)
    got = cpu.RUNNERS[name](task, 1)
    want_w, want_b = cpu.golden_weights(cfg, task)
    for l, (g, w) in enumerate(zip(got.weights + got.biases, want_w + want_b)):
        assert g.shape == w.shape, f"parameter {l}: shape {g.shape} != {w.shape}"
        diff = np.abs(np.asarray(g, dtype=np.float64) - w)
        assert diff.max() <= cpu.CHECK_TOLERANCE, \
            f"{name}: parameter {l} entry {np.unravel_index(diff.argmax(), diff.shape)} differs by {diff.max():.3g}"
    # the updates moved the weights far beyond the tolerance, so the comparison can tell
    moved = max(float(np.max(np.abs(w - np.asarray(w0, dtype=np.float64))))
                for w, w0 in zip(want_w, task.weights))
    assert moved > 100 * cpu.CHECK_TOLERANCE


def test_check_catches_a_different_training():
    """A reference trained with another learning rate fails the check."""
    cfg = NetConfig((64, 32, 10))
    task = cpu.training_task(cfg, "digits", cpu.CHECK_SAMPLES)
    assert cpu.check(cfg, task, "numpy") <= cpu.CHECK_TOLERANCE
    assert cpu.check(cfg.replace(lr_shift=cfg.lr_shift + 1), task, "numpy") > cpu.CHECK_TOLERANCE


def test_measure_reports_samples_per_second():
    cfg = NetConfig((4, 8, 3))
    task = cpu.training_task(cfg, "iris", 120)
    r = cpu.measure(cfg, task, "numpy", repeats=2, min_seconds=0.0)
    assert r["verified"] and r["repeats"] == 2 and r["samples"] == 120
    assert r["samples_per_s"] == pytest.approx(120 / r["seconds"])


def test_cpu_info_names_the_processor():
    info = cpu.cpu_info()
    assert info["model"] and info["logical_cpus"] >= 1
