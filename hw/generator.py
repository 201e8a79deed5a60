"""From a NetConfig to a pipeline: lanes per layer under a DSP budget, the
initial parameters of the golden model, Verilog and the manifest."""
import json
from pathlib import Path

from .errors import LayerPipeError

# ULX3S-85F: the LFE5U-85F has 156 MULT18X18D; leave room for the board wrapper.
DEFAULT_DSP_BUDGET = 128


def layer_multipliers(layer, lanes, cols):
    """Multipliers of layer ``layer``'s units, each ``lanes x cols``: forward and
    weight_grad, plus act_grad_a past layer 1 (``pipedream``: forward and one
    backward unit of ``lanes x 2 cols``, the same count)."""
    return (2 if layer == 1 else 3) * lanes * cols


def backward_of(mode, layer):
    """The backward organisation of layer ``layer``'s stage in ``mode``."""
    return "b_then_w" if mode == "pipedream" and layer > 1 else "lockstep"


def _fewest_cols(n_in, n_out, lanes, cycles, backward):
    """The fewest columns per cycle with which ``lanes`` lanes sweep the layer in at
    most ``cycles`` cycles (:func:`~layerpipe.hw.stage.sweep_cycles`), or None."""
    passes = -(-n_out // lanes)
    per_pass = cycles // passes                        # forward: ceil(n_in / cols) <= per_pass
    if per_pass < 1:
        return None
    cols = -(-n_in // per_pass)
    if backward == "b_then_w":                         # and 2 * ceil(n_in / (2 cols)) <= per_pass
        half = cycles // (2 * passes)
        if half < 1:
            return None
        cols = max(cols, -(-n_in // (2 * half)))
    return cols


def choose_shape(widths, mode="layerpipe", budget=DEFAULT_DSP_BUDGET, lanes=None, cols=None):
    """(lanes, cols) per layer that minimise the slowest stage's sweep (so the
    beat and the cycles per sample) under ``budget`` multipliers.

    For a sweep bound T every layer independently needs, per lane count, the
    fewest columns that meet T; T is the least bound whose cheapest layers fit
    the budget (binary search: the cheapest cost only falls as T grows). At
    that T each layer takes its fewest multipliers, ties going to the squarer
    unit (smaller max(lanes, cols)), then fewer lanes. ``lanes`` or ``cols``
    (per layer) fix that side. Input and result transfers never bound the beat
    (the input loader takes stage 1's columns per transfer, the result buffer
    as many as a beat needs), so the sweep is the whole story.

    Raises LayerPipeError (field dsp_budget) if not even T = the one-lane,
    one-column sweep fits.
    """
    from .stage import sweep_cycles
    L = len(widths) - 1

    def cheapest(T):
        picks = []
        for l in range(1, L + 1):
            n_in, n_out, backward = widths[l - 1], widths[l], backward_of(mode, l)
            best = None
            for p in ([lanes[l - 1]] if lanes else range(1, n_out + 1)):
                if cols:
                    c = cols[l - 1] if sweep_cycles(n_in, n_out, p, cols[l - 1], backward) <= T else None
                else:
                    c = _fewest_cols(n_in, n_out, p, T, backward)
                if c is None:
                    continue
                key = (layer_multipliers(l, p, c), max(p, c), p)
                if best is None or key < best[0]:
                    best = (key, (p, c))
            if best is None:
                return None, None
            picks.append(best[1])
        return picks, sum(layer_multipliers(l, p, c) for l, (p, c) in enumerate(picks, 1))

    hi = max(sweep_cycles(widths[l - 1], widths[l], lanes[l - 1] if lanes else 1, cols[l - 1] if cols else 1,
                          backward_of(mode, l)) for l in range(1, L + 1))
    picks, used = cheapest(hi)
    if lanes and cols:
        return tuple(lanes), tuple(cols)
    if used > budget:
        raise LayerPipeError(f"dsp_budget: {budget} multipliers cannot hold the smallest units "
                             f"({used} needed for lanes {[p for p, _ in picks]}, cols {[c for _, c in picks]})")
    lo = 1
    while lo < hi:
        mid = (lo + hi) // 2
        picks, used = cheapest(mid)
        if picks is not None and used <= budget:
            hi = mid
        else:
            lo = mid + 1
    picks, _ = cheapest(lo)
    return tuple(p for p, _ in picks), tuple(c for _, c in picks)


def unit_lanes(stage):
    """The MAC units of a stage and their multipliers."""
    n = stage.lanes * stage.cols
    if stage.backward == "b_then_w":
        return {"forward": n, "backward (B then W)": 2 * n}
    units = {"forward": n, "weight_grad": n}
    if stage.has_act_grad_a:
        units["act_grad_a"] = n
    return units


def total_macs(widths):
    """MACs per sample of one training step: F and W on every layer, B(a) past layer 1."""
    c = [a * b for a, b in zip(widths[:-1], widths[1:])]
    return 2 * sum(c) + sum(c[1:])


def build(cfg, lanes=None, budget=DEFAULT_DSP_BUDGET):
    """The pipeline component of ``cfg``, starting from the golden model's initial parameters."""
    from layerpipe.sim.golden import IntegerArithmetic, initial_parameters

    from .pipeline import Pipeline
    lanes, cols = choose_shape(cfg.widths, cfg.mode, budget, lanes or cfg.lanes, cfg.cols)
    weights, biases = IntegerArithmetic(cfg).parameters(*initial_parameters(cfg))
    return Pipeline(cfg, lanes, weights, biases, cols=cols)


def manifest(cfg, top, budget=DEFAULT_DSP_BUDGET):
    """Everything downstream (simulation, synthesis, host) needs to know of a design."""
    from layerpipe.sim.stream_bench import payload_fields
    lanes = top.lanes
    dsps = sum(sum(unit_lanes(st).values()) for st in top.stages)
    sweeps = [st.sweep_cycles for st in top.stages]
    return {
        "name": cfg.name, "digest": cfg.digest(), "config": cfg.to_dict(), "numbers": cfg.numbers,
        "widths": list(cfg.widths), "mode": cfg.mode, "lanes": list(lanes), "cols": list(top.cols),
        "dsp_budget": budget, "budget_used": dsps / budget,
        "beat_bound": f"the sweep of layer {sweeps.index(max(sweeps)) + 1} "
                      f"({max(sweeps)} cycles) plus {top.cycles_per_beat - max(sweeps)} fixed cycles",
        "cycles_per_beat": top.cycles_per_beat,
        "cycles_per_sample": top.cycles_per_beat * (2 * cfg.n_layers if cfg.mode == "sequential" else 1),
        "sweep_cycles": [st.sweep_cycles for st in top.stages],
        "units": [unit_lanes(st) for st in top.stages],
        "macs_per_sample": total_macs(cfg.widths), "multipliers": dsps,
        "mac_bound_cycles_per_sample": total_macs(cfg.widths) / dsps,
        "delays": list(cfg.delays), "expected_resources": {"dsps": dsps},
        "beat_to_mac_bound": top.cycles_per_beat / (total_macs(cfg.widths) / dsps),
        # the stream ports: payload fields {name: [offset, width, signed]}, and values per transfer
        # (samples: stage 1's columns, so loading never starves a beat; results: enough to leave in a beat)
        "ports": {"samples": payload_fields(top.sample_layout), "results": payload_fields(top.result_layout),
                  "status": payload_fields(top.status_layout),
                  "sample_values": top.sample_values, "result_values": top.result_values},
    }


def generate(cfg, out_dir, lanes=None, budget=DEFAULT_DSP_BUDGET):
    """Write ``out_dir/<name>.v`` and ``out_dir/manifest.json``; return the manifest."""
    from amaranth.back import verilog
    top = build(cfg, lanes, budget)
    info = manifest(cfg, top, budget)
    text = verilog.convert(top, name=cfg.name, emit_src=False)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{cfg.name}.v").write_text(text)
    (out / "manifest.json").write_text(json.dumps(info, indent=2))
    return info


def add_hardware_arguments(p):
    """The options that shape the generated hardware (shared by generate and sim)."""
    from layerpipe.sim.train import _int
    p.add_argument("--lanes", help="MAC lanes (rows at once) per layer, e.g. 4,1 (default: chosen under --dsp-budget)")
    p.add_argument("--cols", help="columns per cycle per layer, e.g. 13,8 (default: chosen under --dsp-budget)")
    p.add_argument("--dsp-budget", default=DEFAULT_DSP_BUDGET, type=_int("dsp-budget"),
                   help=f"multipliers the lanes may use (default {DEFAULT_DSP_BUDGET}, ULX3S-85F with margin)")


def add_arguments(p):
    from layerpipe.sim.train import add_config_arguments
    add_config_arguments(p)
    add_hardware_arguments(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")


def run(args):
    from layerpipe.sim.train import config_from_args
    cfg = config_from_args(args)
    info = generate(cfg, args.out, budget=args.dsp_budget)
    if args.json:
        print(json.dumps(info))
    else:
        print(f"wrote {Path(args.out) / (cfg.name + '.v')} and manifest.json: lanes {info['lanes']}, "
              f"cols {info['cols']}, {info['cycles_per_beat']} cycles per beat, "
              f"{info['multipliers']} of {info['dsp_budget']} multipliers")
    return 0
