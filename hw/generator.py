"""From a NetConfig to a pipeline: lanes per layer under a DSP budget, the
initial parameters of the golden model, Verilog and the manifest."""
import json
from pathlib import Path

from .errors import LayerPipeError

# ULX3S-85F: the LFE5U-85F has 156 MULT18X18D; leave room for the board wrapper.
DEFAULT_DSP_BUDGET = 128


def dsps_per_lane(layer):
    """Multipliers per lane of layer ``layer``: forward and weight_grad, plus act_grad_a past layer 1."""
    return 2 if layer == 1 else 3


def beat_cycles(widths, lanes):
    """Sweep cycles of each stage: ceil(n_l / lanes_l) * n_{l-1}."""
    return [-(-n_out // p) * n_in for n_in, n_out, p in zip(widths[:-1], widths[1:], lanes)]


def choose_lanes(widths, budget=DEFAULT_DSP_BUDGET):
    """Lanes per layer that minimise the slowest stage's sweep under ``budget``
    multipliers: start at one lane each and keep giving the slowest stage the
    fewest lanes that shorten it, while they fit."""
    L = len(widths) - 1
    lanes = [1] * L
    used = sum(dsps_per_lane(l) for l in range(1, L + 1))
    if used > budget:
        raise LayerPipeError(f"dsp_budget: {budget} multipliers cannot hold one lane per task ({used} needed)")
    while True:
        cycles = beat_cycles(widths, lanes)
        slow = max(range(L), key=lambda l: cycles[l])
        n_out, passes = widths[slow + 1], -(-widths[slow + 1] // lanes[slow])
        if passes == 1:
            return tuple(lanes)
        want = -(-n_out // (passes - 1))          # fewest lanes with one pass less
        extra = (want - lanes[slow]) * dsps_per_lane(slow + 1)
        if used + extra > budget:
            return tuple(lanes)
        used += extra
        lanes[slow] = want
