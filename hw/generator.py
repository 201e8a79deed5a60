"""From a NetConfig to a pipeline: lanes per layer under a DSP budget, the
initial parameters of the golden model, Verilog and the manifest."""
from pathlib import Path

from . import strict_json
from .errors import LayerPipeError
from .output_paths import check_output
from .progress import Steps

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


def unit_lanes(stage):
    """The MAC units of a stage and their lanes (multipliers)."""
    if stage.backward == "b_then_w":
        return {"forward": stage.lanes, "backward (B then W)": stage.cols * stage.lanes}
    units = {"forward": stage.lanes, "weight_grad": stage.lanes}
    if stage.has_act_grad_a:
        units["act_grad_a"] = stage.lanes
    return units


def total_macs(widths):
    """MACs per sample of one training step: F and W on every layer, B(a) past layer 1."""
    c = [a * b for a, b in zip(widths[:-1], widths[1:])]
    return 2 * sum(c) + sum(c[1:])


def build(cfg, lanes=None, budget=DEFAULT_DSP_BUDGET):
    """The pipeline component of ``cfg``, starting from the golden model's initial parameters."""
    from layerpipe.sim.golden import IntegerArithmetic, initial_parameters

    from .pipeline import Pipeline
    lanes = tuple(lanes or cfg.lanes or choose_lanes(cfg.widths, budget))
    weights, biases = IntegerArithmetic(cfg).parameters(*initial_parameters(cfg))
    return Pipeline(cfg, lanes, weights, biases)


def manifest(cfg, top):
    """Everything downstream (simulation, synthesis, host) needs to know of a design."""
    from layerpipe.sim.stream_bench import payload_fields
    lanes = top.lanes
    dsps = sum(sum(unit_lanes(st).values()) for st in top.stages)
    return {
        "name": cfg.name, "digest": cfg.digest(), "config": cfg.to_dict(), "numbers": cfg.numbers,
        "widths": list(cfg.widths), "mode": cfg.mode, "lanes": list(lanes),
        "cycles_per_beat": top.cycles_per_beat,
        "cycles_per_sample": top.cycles_per_beat * (2 * cfg.n_layers if cfg.mode == "sequential" else 1),
        "sweep_cycles": [st.sweep_cycles for st in top.stages],
        "units": [unit_lanes(st) for st in top.stages],
        "macs_per_sample": total_macs(cfg.widths), "multipliers": dsps,
        "mac_bound_cycles_per_sample": total_macs(cfg.widths) / dsps,
        "delays": list(cfg.delays), "expected_resources": {"dsps": dsps},
        "ports": {"samples": payload_fields(top.sample_layout), "results": payload_fields(top.result_layout),
                  "status": payload_fields(top.status_layout)},
    }


def to_verilog(top, name, steps):
    """``verilog.convert(top, name=name, emit_src=False)`` in its two long steps,
    each announced by ``steps`` (:class:`~layerpipe.hw.progress.Steps`):
    elaboration to RTLIL (Python, grows with the weights held as memory
    contents) and yosys's ``write_verilog``."""
    from amaranth.back import rtlil, verilog
    with steps.step("elaborating the pipeline (Amaranth to RTLIL)"):
        text = rtlil.convert(top, name=name, emit_src=False)
    with steps.step(f"converting {len(text) / 1e6:.1f} MB of RTLIL to Verilog (yosys)"):
        return verilog._convert_rtlil_text(text)


def generate(cfg, out_dir, lanes=None, budget=DEFAULT_DSP_BUDGET, steps=None):
    """Write ``out_dir/<name>.v`` and ``out_dir/manifest.json``; return the manifest.

    ``steps`` (:class:`~layerpipe.hw.progress.Steps`) hears what is being
    done; a large net (784-512-512-10) takes about a minute.
    """
    steps = steps or Steps(cfg.name, enabled=False)
    with steps.step(f"building the pipeline ({cfg.n_layers} stages, initial weights)"):
        top = build(cfg, lanes, budget)
        info = manifest(cfg, top)
    text = to_verilog(top, cfg.name, steps)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{cfg.name}.v").write_text(text)
    (out / "manifest.json").write_text(strict_json.dumps(info, indent=2))
    return info


def add_hardware_arguments(p):
    """The options that shape the generated hardware (shared by generate and sim)."""
    from layerpipe.sim.train import _int
    p.add_argument("--lanes", help="MAC lanes per layer, e.g. 32,5 (default: chosen under --dsp-budget)")
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
    check_output(args.out, "out", folder=True)
    info = generate(cfg, args.out, budget=args.dsp_budget, steps=Steps(f"generate {cfg.name}"))
    if args.json:
        print(strict_json.dumps(info))
    else:
        print(f"wrote {Path(args.out) / (cfg.name + '.v')} and manifest.json: lanes {info['lanes']}, "
              f"{info['cycles_per_beat']} cycles per beat, {info['multipliers']} multipliers")
    return 0
