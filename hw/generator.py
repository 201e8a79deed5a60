"""From a design plan to hardware: the pipeline component, Verilog and the
manifest (``layerpipe generate``)."""
import os
import sys
from pathlib import Path

from . import strict_json
from .initial_parameters import initial_integer_parameters
from .options import add_config_arguments, add_hardware_arguments, plan_from_args
from .output_paths import check_output
from .progress import Steps

# weights beyond which elaborating takes long enough to say so first
LARGE_DESIGN_WEIGHTS = 100_000


def build(plan):
    """The pipeline component of ``plan``, starting from the seeded initial parameters
    (a multiprocessor plan names its own: ``pipeline_class``)."""
    from .pipeline import Pipeline
    cls = plan.pipeline_class() if hasattr(plan, "pipeline_class") else Pipeline
    return cls(plan, *initial_integer_parameters(plan.config))


def needs(plan):
    """One line: what the design needs (weights, multipliers, DSP blocks, memory)."""
    mem = plan.memory_bits
    return (f"{plan.weight_count:,} weights, {plan.multipliers} multipliers "
            f"({plan.dsp_blocks} {plan.target.dsp_name}), "
            f"{mem['ram'] / 1024:,.0f} kbit of RAM, {mem['registers'] / 1024:,.0f} kbit of registers")


def verilog_text(plan, steps=None):
    """The Verilog of ``plan`` (deterministic: the same plan gives the same bytes).

    ``verilog.convert`` in its long steps, each announced by ``steps``
    (:class:`~layerpipe.hw.progress.Steps`): building the component (initial
    weights), elaboration to RTLIL (grows with the weights held as memory
    contents) and yosys's ``write_verilog``; 784-512-512-10 takes about a minute.
    """
    from amaranth.back import rtlil, verilog
    steps = steps or Steps(plan.name, enabled=False)
    if plan.weight_count > LARGE_DESIGN_WEIGHTS:
        print(f"layerpipe: warning: {plan.name} is large ({needs(plan)}); elaborating it may take minutes",
              file=sys.stderr)
    with steps.step(f"building the pipeline ({plan.config.n_layers} stages, initial weights)"):
        top = build(plan)
    with steps.step("elaborating the pipeline (Amaranth to RTLIL)"):
        text = rtlil.convert(top, name=plan.name, emit_src=False)
    with steps.step(f"converting {len(text) / 1e6:.1f} MB of RTLIL to Verilog (yosys)"):
        return verilog._convert_rtlil_text(text)


def generate(plan, out_dir, steps=None):
    """Write ``out_dir/<name>.v`` and ``out_dir/manifest.json``; return the manifest.

    ``steps`` as for :func:`verilog_text`.
    """
    out = check_output(out_dir, "out", folder=True)
    info = plan.manifest()
    text = verilog_text(plan, steps)
    out.mkdir(parents=True, exist_ok=True)
    # atomically: simulations in other processes may be reading the same design's files
    _write_atomic(out / f"{plan.name}.v", text)
    _write_atomic(out / "manifest.json", strict_json.dumps(info, indent=2))
    return info


def _write_atomic(path, text):
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def add_arguments(p):
    add_config_arguments(p)
    add_hardware_arguments(p)
    p.add_argument("--board", help="plan for a board's device (ulx3s-85f: ecp5-85f, icebreaker: ice40up5k); "
                   "a design over its DSP blocks, memory or LUTs is refused")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")


def run(args):
    plan = plan_from_args(args)
    check_output(args.out, "out", folder=True)
    info = generate(plan, args.out, steps=Steps(f"generate {plan.name}"))
    if args.json:
        print(strict_json.dumps(info))
    else:
        print(f"wrote {Path(args.out) / (plan.name + '.v')} and manifest.json: lanes {info['lanes']}, "
              f"cols {info['cols']}, {info['cycles_per_beat']} cycles per beat, {info['cycles_per_sample']} per sample "
              f"(bound: {info['bound']}), {info['multipliers']} multipliers, {info['dsp_blocks']} DSP blocks")
    return 0
