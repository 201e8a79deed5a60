"""From a design plan to hardware: the pipeline component, Verilog and the
manifest (``layerpipe generate``)."""
import json
import sys
from pathlib import Path

from .errors import LayerPipeError
from .initial_parameters import initial_integer_parameters
from .options import add_config_arguments, add_hardware_arguments, plan_from_args

# weights beyond which elaborating takes long enough to say so first
LARGE_DESIGN_WEIGHTS = 100_000


def build(plan):
    """The pipeline component of ``plan``, starting from the seeded initial parameters."""
    from .pipeline import Pipeline
    return Pipeline(plan, *initial_integer_parameters(plan.config))


def needs(plan):
    """One line: what the design needs (weights, multipliers, DSP blocks, memory)."""
    mem = plan.memory_bits
    return (f"{plan.weight_count:,} weights, {plan.multipliers} multipliers ({plan.dsp_blocks} {plan.target.dsp_name}), "
            f"{mem['ram'] / 1024:,.0f} kbit of RAM, {mem['registers'] / 1024:,.0f} kbit of registers")


def verilog_text(plan):
    """The Verilog of ``plan`` (deterministic: the same plan gives the same bytes)."""
    from amaranth.back import verilog
    if plan.weight_count > LARGE_DESIGN_WEIGHTS:
        print(f"layerpipe: warning: {plan.name} is large ({needs(plan)}); elaborating it may take minutes",
              file=sys.stderr)
    return verilog.convert(build(plan), name=plan.name, emit_src=False)


def generate(plan, out_dir):
    """Write ``out_dir/<name>.v`` and ``out_dir/manifest.json``; return the manifest."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise LayerPipeError(f"out: {str(out)!r} is a file, not a folder")
    info = plan.manifest()
    text = verilog_text(plan)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{plan.name}.v").write_text(text)
    (out / "manifest.json").write_text(json.dumps(info, indent=2))
    return info


def add_arguments(p):
    add_config_arguments(p)
    add_hardware_arguments(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")


def run(args):
    plan = plan_from_args(args)
    info = generate(plan, args.out)
    if args.json:
        print(json.dumps(info))
    else:
        print(f"wrote {Path(args.out) / (plan.name + '.v')} and manifest.json: lanes {info['lanes']}, "
              f"{info['cycles_per_beat']} cycles per beat, {info['cycles_per_sample']} per sample "
              f"(bound: {info['bound']}), {info['multipliers']} multipliers, {info['dsp_blocks']} DSP blocks")
    return 0
