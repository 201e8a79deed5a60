"""Seeded random designs shared by the Amaranth and the Verilator tests."""
import numpy as np

from layerpipe.hw.config import NetConfig


def random_config(seed, max_width=40, max_unit=64):
    """A seeded random design: 2 to 5 layers of widths 1..max_width, random lanes and
    cols per layer (at most ``max_unit`` multipliers a unit, so that the Verilator
    builds stay short), formats, mode, gaps and backpressure."""
    from layerpipe.hw.fixed_point import Format
    rng = np.random.default_rng(seed)
    layers = int(rng.integers(2, 6))
    widths = tuple(int(w) for w in rng.integers(1, max_width + 1, size=layers + 1))
    act_w = int(rng.integers(10, 17))
    lanes = tuple(int(rng.integers(1, min(n, max_unit) + 1)) for n in widths[1:])
    cfg = NetConfig(widths, act=Format(act_w, act_w - 6), weight=Format(16, int(rng.integers(10, 14))),
                    grad=Format(16, 12), lr_shift=int(rng.integers(4, 8)), seed=seed,
                    mode=("layerpipe", "pipedream", "sequential")[int(rng.integers(3))],
                    lanes=lanes, cols=tuple(int(rng.integers(1, min(n, max_unit // p) + 1))
                                            for n, p in zip(widths[:-1], lanes)))
    gaps, backpressure = float(rng.choice([0.0, 0.3])), float(rng.choice([0.0, 0.5]))
    return cfg, gaps, backpressure
