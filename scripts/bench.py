"""``layerpipe bench``: one run that measures the design against its bounds,
PipeDream and the CPU, side by side.

Steps (each announced on stderr while it runs):

1. per board, its default net in every mode, trained in Verilator
   (``layerpipe sim``'s function): cycles per sample beside the MAC bound
   (MACs per sample / the design's multipliers) and the device limit (MACs
   per sample / every multiplier of the device), and the ratios to both;
2. per board, synthesis (``layerpipe synth``'s function): resources and Fmax,
   and ``fpga_samples_per_s`` = Fmax / cycles per sample;
3. per board, the CPU references of :mod:`layerpipe.scripts.cpu_reference`
   training the same net on the same samples, and FPGA / CPU ratios;
4. the scheduler's LayerPipe / PipeDream speedups (model), beside the RTL's;
5. scaling: the design plan of growing nets under each board's budget, and
   simulation speed and build times of growing nets.

Every figure is ``{"value", "unit", "source"}`` (plus ``note`` when it is
missing or qualified, ``formula`` when it is computed from other figures);
``source`` is ``RTL`` (Verilator), ``nextpnr``, ``model`` (design plan or
scheduler), ``CPU`` (timed here) or ``derived``. ``--quick`` runs a subset in
a couple of minutes and no synthesis. Synthesis figures come from the
cached report of the identical design when there is one (a full run's or
``layerpipe synth``'s), else a full run builds it; --quick then gives null
with a note.
``--out DIR`` writes ``bench.json``, ``bench.md`` and the plots.
"""
import json
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from layerpipe.hw import strict_json
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.output_paths import check_output

from . import cpu_reference

SOURCES = ("RTL", "nextpnr", "model", "CPU", "derived")
MODES = ("layerpipe", "pipedream", "sequential")
BENCH_VERSION = 1


# ------------------------------------------------------------------ figures

def figure(value, unit, source, note=None, formula=None):
    """One measured or computed figure; None (never NaN) with a note when undefined."""
    assert source in SOURCES, source
    if isinstance(value, float) and not math.isfinite(value):
        value, note = None, note or "not a finite number"
    if value is None and not note:
        raise ValueError("a missing figure needs a note saying why")
    fig = {"value": value, "unit": unit, "source": source}
    if note:
        fig["note"] = note
    if formula:
        fig["formula"] = formula
    return fig


def missing(unit, source, note):
    return figure(None, unit, source, note)


def quotient(num, den, unit, formula, scale=1.0, note=None):
    """``scale * num / den`` of two figures, derived; None with a note if either is missing."""
    if num["value"] is None or den["value"] is None or den["value"] == 0:
        why = next((f.get("note") for f in (num, den) if f["value"] is None), None) or "division by zero"
        return figure(None, unit, "derived", note=why, formula=formula)
    return figure(scale * num["value"] / den["value"], unit, "derived", note=note, formula=formula)


class Progress:
    """Numbered steps on stderr: ``[bench 3/14, 42 s] what runs now``."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.stream, self.t0 = total, 0, stream, time.time()

    def step(self, text):
        self.done += 1
        print(f"[bench {self.done}/{self.total}, {time.time() - self.t0:.0f} s] {text}", file=self.stream, flush=True)

    def note(self, text):
        print(f"    {text}", file=self.stream, flush=True)


# ------------------------------------------------------------------ CPU

def cpu_section(cfg, dataset, samples, quick, progress):
    """The CPU references on ``samples`` updates of ``cfg`` on ``dataset``."""
    task = cpu_reference.training_task(cfg, dataset, samples)
    out = {}
    for name in cpu_reference.REFERENCES:
        r = cpu_reference.measure(cfg, task, name, repeats=2 if quick else 5, min_seconds=0.1 if quick else 1.0)
        if r["samples_per_s"] is None:
            progress.note(f"{name}: {r['note']}")
            out[name] = {"samples_per_s": missing("samples/s", "CPU", r["note"]), "description": r["description"]}
            continue
        progress.note(f"{name}: {r['samples_per_s']:,.0f} samples/s (best of {r['repeats']})")
        out[name] = {
            "samples_per_s": figure(r["samples_per_s"], "samples/s", "CPU",
                                    note=f"best of {r['repeats']} runs of {r['samples']} updates"),
            "seconds": figure(r["seconds"], "s", "CPU", note=f"one run of {r['samples']} updates"),
            "max_abs_diff_vs_golden": figure(r["max_abs_diff"], "weight units", "CPU",
                                             note=f"after {cpu_reference.CHECK_SAMPLES} updates, against the "
                                                  "float golden model (sequential mode)"),
            "description": r["description"],
        }
    return out


# ------------------------------------------------------------------ the command line

def parse_boards(text):
    from layerpipe.boards import BOARDS
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if not names:
        raise LayerPipeError(f"boards: {text!r} names no board; use some of {', '.join(BOARDS)}")
    for n in names:
        if n not in BOARDS:
            raise LayerPipeError(f"boards: {n!r} is not one of {', '.join(BOARDS)}")
    if len(set(names)) != len(names):
        raise LayerPipeError(f"boards: {text!r} names a board twice")
    return names


def check_out(path):
    """Refuse an --out that cannot be a folder before anything runs (the one output check)."""
    return None if path is None else check_output(path, "out", folder=True)


def add_arguments(p):
    from layerpipe.boards import BOARDS
    p.add_argument("--boards", default=",".join(BOARDS),
                   help=f"comma-separated boards (default {','.join(BOARDS)})")
    p.add_argument("--quick", action="store_true",
                   help="a subset in a couple of minutes, no synthesis (cached synthesis figures if any)")
    p.add_argument("--out", metavar="DIR", help="write bench.json, bench.md and the PNG plots into DIR")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout, nothing else")


def run(args):
    boards = parse_boards(args.boards)
    out = check_out(args.out)
    result = bench(boards, quick=args.quick, argv=sys.argv)
    if out is not None:
        from .bench_report import write
        for path in write(result, out):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(strict_json.dumps(result))
    else:
        from .bench_report import markdown
        print(markdown(result))
    return 0


# ------------------------------------------------------------------ where the figures come from
# One small function per upstream piece: the plan (model), the RTL run
# (``layerpipe sim``), synthesis (``layerpipe synth``). Nothing here
# re-derives their figures.

def board_config(board, mode):
    from layerpipe.hw.config import NetConfig, parse_widths
    return NetConfig(parse_widths(board.net), mode=mode)


def design_plan(cfg, target):
    from layerpipe.hw.plan import plan_design
    return plan_design(cfg, target)


def rtl_run(plan, dataset, samples, on_sample=None):
    """``layerpipe sim``'s report for ``plan`` trained on ``samples`` samples of ``dataset``."""
    from layerpipe.sim.rtl_sim import simulate
    return simulate(plan, dataset, samples, progress=(lambda phase, done, total: on_sample(done, total)
                                                     if phase == "train" else None) if on_sample else None)


def synth_run(board, plan, progress=None):
    """``layerpipe synth``'s report for ``plan`` on ``board``."""
    from . import synth
    return synth.build(board, plan, progress=progress)


def device_multipliers(plan):
    """Products per cycle the whole device could run at the plan's operand
    widths: its DSP blocks over the blocks one of the plan's products takes."""
    from layerpipe.hw.target import TARGETS
    device = TARGETS.get(plan.target.name, plan.target)
    return device.dsp_blocks * plan.multipliers // plan.dsp_blocks


# ------------------------------------------------------------------ per board

SYNTH_CACHE = Path("build") / "bench" / "synth"
QUICK_SAMPLES = 150


def rtl_figures(plan, r, samples):
    """The figures of one RTL run beside the plan's bounds."""
    cycles = figure(r["cycles_per_sample"], "cycles/sample", "RTL",
                    note=f"steady state of {samples} samples in Verilator, "
                         f"{'bit-exact' if r['bit_exact'] else 'NOT bit-exact'} against the golden model")
    mac_bound = figure(plan.mac_bound_cycles_per_sample, "cycles/sample", "model",
                       formula="macs_per_sample / multipliers")
    limit = figure(plan.macs_per_sample / device_multipliers(plan), "cycles/sample", "model",
                   formula="macs_per_sample / device_multipliers")
    return {
        "cycles_per_sample": cycles,
        "planned_cycles_per_sample": figure(plan.cycles_per_sample, "cycles/sample", "model"),
        "mac_bound_cycles_per_sample": mac_bound,
        "device_limit_cycles_per_sample": limit,
        "ratio_to_mac_bound": quotient(cycles, mac_bound, "x", "cycles_per_sample / mac_bound_cycles_per_sample"),
        "ratio_to_device_limit": quotient(cycles, limit, "x", "cycles_per_sample / device_limit_cycles_per_sample"),
        "multipliers": figure(plan.multipliers, "multipliers", "model"),
        "dsp_blocks": figure(plan.dsp_blocks, "DSP blocks", "model"),
        "device_multipliers": figure(device_multipliers(plan), "multipliers", "model",
                                     note=f"every DSP block of the {plan.target.name}"),
        "bit_exact": r["bit_exact"],
        "sim_cycles_per_s": figure(r["sim_cycles_per_s"], "cycles/s", "RTL"),
        "sim_seconds": figure(r["sim_seconds"], "s", "RTL"),
        "build_seconds": build_seconds(r),
    }


def build_seconds(r):
    """The Verilator build time of a ``layerpipe sim`` report; null when the model came from the cache."""
    if r.get("build_cached"):
        return missing("s", "RTL", "the Verilator model was cached by an earlier run; a fresh build folder times it")
    return figure(r["build_seconds"], "s", "RTL", note="Verilator build of the generated Verilog")


SYNTH_FIELDS = (("luts", "LUT4"), ("ffs", "FF"), ("dsps", "DSP blocks"), ("brams", "EBR"), ("sprams", "SPRAM"))


def synth_figures(report, note=None):
    """Figures of one ``layerpipe synth`` report (nextpnr's utilisation and Fmax)."""
    out = {}
    for key, unit in SYNTH_FIELDS:
        if key in report:
            used = report[key]["used"] if isinstance(report[key], dict) else report[key]
            total = report[key].get("total") if isinstance(report[key], dict) else None
            out[key] = figure(used, unit, "nextpnr", note=note)
            if total:
                out[key]["of"] = total
    out["fmax_mhz"] = figure(report.get("fmax_mhz"), "MHz", "nextpnr",
                             note=note if report.get("fmax_mhz") else "nextpnr reported no Fmax")
    if report.get("constraint_mhz"):
        out["fmax_mhz"]["constraint_mhz"] = report["constraint_mhz"]
    seconds = report.get("build_seconds_total")
    out["build_seconds"] = figure(seconds, "s", "nextpnr", note=note) if seconds is not None else \
        missing("s", "nextpnr", "not reported")
    if report.get("critical_path"):
        out["critical_path"] = report["critical_path"].get("text")
    return out


def synth_cache(board, plan, **pnr):
    """Where a full run keeps the synthesis report of ``plan`` on ``board``: named by a hash
    of everything that shapes the bitstream (the accelerator's Verilog, the design clock,
    nextpnr's placer and router (``pnr``: ``placer=``, ``router=``, else
    :data:`~layerpipe.scripts.synth.PNR_DEFAULTS`), the sources of the board wrappers, of
    the host link and of the synthesis flow), so a report never outlives its design."""
    import hashlib

    import layerpipe.boards
    import layerpipe.hw.link
    from layerpipe.hw.generator import verilog_text

    from . import synth
    h = hashlib.sha256(verilog_text(plan).encode())
    pnr = dict(synth.PNR_DEFAULTS, **pnr)
    h.update(f"clock {board.clock_mhz!r} MHz, {pnr['placer']}, {pnr['router']}".encode())
    sources = [Path(pkg.__file__).parent.glob("*.py") for pkg in (layerpipe.boards, layerpipe.hw.link)]
    for source in sorted(p for files in sources for p in files) + [Path(synth.__file__)]:
        h.update(source.read_bytes())
    return SYNTH_CACHE / f"{board.name}-{plan.name}-{h.hexdigest()[:12]}.json"


def record_synth(cache, report):
    """Keep ``report`` (``layerpipe synth``'s) in the cache file ``cache``, stamped with the time.
    ``cache`` is :func:`synth_cache`'s name for the design, taken before the build started:
    taken after, it would name the sources as they are then, which may have changed meanwhile."""
    report = dict(report, _when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(strict_json.dumps(report, indent=1))
    return report


def synth_section(board, plan, quick, progress):
    """Synthesis of ``plan`` on ``board``: the cached report of the identical design (a full run's
    or ``layerpipe synth``'s: the cache is named by the design's Verilog and the flow's sources),
    else a build in a full run (then cached); --quick builds nothing."""
    cache = synth_cache(board, plan)
    if cache.exists():
        cached = json.loads(cache.read_text())
        progress.note(f"synthesis: cached report of {cached['_when']}")
        return synth_figures(cached, note=f"cached report of the same design, built {cached['_when']}")
    if quick:
        why = f"--quick runs no synthesis and no build of {plan.name} on {board.name} is cached"
        return {"fmax_mhz": missing("MHz", "nextpnr", why)}
    progress.step(f"{board.name}: synthesis of {plan.name} (yosys + nextpnr, minutes)")
    tty, shown = sys.stderr.isatty(), []

    def show(tool, seconds):
        if tty:
            print(f"\r    {tool} running, {seconds:5.0f} s", end="", file=sys.stderr, flush=True)
        elif tool not in shown:      # a log file gets one line per tool
            shown.append(tool)
            progress.note(f"{tool} running (from {seconds:.0f} s)")
    try:
        report = synth_run(board, plan, progress=show)
    except LayerPipeError as e:
        return {"fmax_mhz": missing("MHz", "nextpnr", f"synthesis failed: {e}")}
    finally:
        if tty:
            print(file=sys.stderr)
    return synth_figures(record_synth(cache, report))


def board_section(board, quick, progress):
    from layerpipe.sim import datasets
    target = board.target
    cfg = board_config(board, "layerpipe")
    epoch = len(datasets.load(board.dataset, cfg.widths, cfg.seed).x_train)
    samples = min(epoch, QUICK_SAMPLES) if quick else epoch
    out = {"board": board.name, "target": target.name, "net": board.net, "dataset": board.dataset,
           "samples": samples, "clock_constraint_mhz": figure(board.clock_mhz, "MHz", "model",
                                                              note="the clock the board's PLL makes"),
           "rtl": {}, "fpga": {}}
    plans = {}
    for mode in MODES:
        plan = plans[mode] = design_plan(board_config(board, mode), target)
        progress.step(f"{board.name}: {board.net} {mode} in Verilator, {samples} samples of {board.dataset}")
        bar = _bar(samples)
        try:
            r = rtl_run(plan, board.dataset, samples, on_sample=bar.update_to)
        finally:
            bar.close()
        out["rtl"][mode] = rtl_figures(plan, r, samples)
        if not r["bit_exact"]:
            progress.note(f"NOT bit-exact: {r.get('first_mismatch')}")
    out["macs_per_sample"] = figure(plans["layerpipe"].macs_per_sample, "MACs/sample", "model")
    out["synth"] = synth_section(board, plans["layerpipe"], quick, progress)
    fmax = out["synth"]["fmax_mhz"]
    out["synth"]["fmax_vs_clock_constraint"] = quotient(fmax, out["clock_constraint_mhz"], "x",
                                                        "fmax_mhz / clock_constraint_mhz")
    for mode in MODES:
        cycles = out["rtl"][mode]["cycles_per_sample"]
        if mode == "layerpipe":
            on_chip = quotient(fmax, cycles, "samples/s", "fmax_mhz * 1e6 / cycles_per_sample", scale=1e6)
        else:
            on_chip = missing("samples/s", "derived", f"only the layerpipe design is synthesised; "
                                                      f"`layerpipe synth --board {board.name} --mode {mode}` "
                                                      f"gives this design's Fmax")
        out["fpga"][mode] = {"samples_per_s": on_chip, "link_samples_per_s": link_bound(board, plans[mode])}
    progress.step(f"{board.name}: CPU references training {board.net} on {samples} samples of {board.dataset}")
    out["cpu"] = cpu_section(cfg, board.dataset, samples, quick, progress)
    out["fpga_vs_cpu"] = {
        mode: {ref: quotient(out["fpga"][mode]["samples_per_s"], out["cpu"][ref]["samples_per_s"], "x",
                             f"fpga.{mode}.samples_per_s / cpu.{ref}.samples_per_s")
               for ref in cpu_reference.REFERENCES}
        for mode in MODES}
    return out


def link_bound(board, plan):
    """Samples/s the host link carries when it streams samples: the UART at the
    host's default rate (8N1) over one sample record (the link's own formula)."""
    from layerpipe.hw.link.protocol import DEFAULT_BAUD, SampleFormat
    fmt = SampleFormat.of(plan.config)
    return figure(fmt.baud_limit_samples_per_s(DEFAULT_BAUD), "samples/s", "model",
                  note=f"UART at {DEFAULT_BAUD:,} baud, {fmt.sample_bytes}-byte sample records, frame overhead "
                       f"not counted; the board keeps the training set on chip to run at the on-chip rate")


class _NoBar:
    def update_to(self, done, total):
        pass

    def close(self):
        pass


def _bar(total):
    """A tqdm bar of samples done on stderr (none when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm
    bar = tqdm(total=total, unit="sample", file=sys.stderr, leave=False)
    bar.update_to = lambda done, _total: bar.update(done - bar.n)
    return bar


# ------------------------------------------------------------------ scheduler: model and RTL

def scheduler_section(boards, results, quick, progress):
    """LayerPipe / PipeDream speedups: the scheduler's model on P processors
    (each board's net, and in a full run the zoo), and what the RTL shows."""
    from layerpipe.hw.zoo import ZOO

    from .speedup_report import sweep
    processors = range(2, 9) if quick else range(2, 17)
    nets = list(dict.fromkeys(b.net for b in boards)) + ([] if quick else list(ZOO))
    progress.step(f"scheduler model: {', '.join(nets)} on P = {processors.start}..{processors.stop - 1}")
    model = {}
    for net, rows in sweep(nets, processors).items():
        model[net] = []
        for row in rows:
            periods = {s: figure(row[s], "MACs/period", "model") for s in ("layerpipe", "pipedream",
                                                                            "pipedream_stages", "sequential")}
            model[net].append({
                "processors": row["processors"], "optimal": row["optimal"], "period": periods,
                "speedup": quotient(periods["pipedream"], periods["layerpipe"], "x",
                                    "period.pipedream / period.layerpipe"),
                "speedup_vs_stages": quotient(periods["pipedream_stages"], periods["layerpipe"], "x",
                                              "period.pipedream_stages / period.layerpipe")})
    rtl = {}
    for name, r in results.items():
        cyc = {m: r["rtl"][m]["cycles_per_sample"] for m in MODES}
        rtl[name] = {
            "net": r["net"],
            "dedicated_units_speedup": quotient(
                cyc["pipedream"], cyc["layerpipe"], "x", "rtl.pipedream.cycles_per_sample / "
                "rtl.layerpipe.cycles_per_sample (one unit per task, equal multipliers: DESIGN.md 3b)"),
            "sequential_speedup": quotient(cyc["sequential"], cyc["layerpipe"], "x",
                                           "rtl.sequential.cycles_per_sample / rtl.layerpipe.cycles_per_sample"),
        }
    return {"model": model, "rtl": rtl, "equal_processors": equal_processors_section(boards, quick, progress)}


# (processor counts, data set, samples, lanes) per net, measured in RTL on P equal processors: a full run
# measures issue 14's points (processor_speedup.QUICK: 64-32-64-10 at P = 2, 5, 6); --quick one small
# design, enough to check the figures' shape and consistency
QUICK_PROCESSORS = ((2,), 40, 4)


def equal_processor_runs(boards, quick):
    from . import processor_speedup
    if quick:
        ps, samples, lanes = QUICK_PROCESSORS
        return {boards[0].net: (ps, boards[0].dataset, samples, lanes)}
    return {net: (ps, dataset, samples, processor_speedup.LANES)
            for net, (ps, dataset, samples) in processor_speedup.QUICK.items()}


def equal_processors_section(boards, quick, progress):
    """LayerPipe vs PipeDream on P equal MAC-array processors of ``lanes`` multipliers each, both
    trained in Verilator (``layerpipe sim --processors P --lanes N``, held to the golden model),
    beside the scheduler's ratio in MACs and the plan's in cycles (issue 14;
    :mod:`layerpipe.scripts.processor_speedup` measures the wider table)."""
    from . import processor_speedup
    runs = equal_processor_runs(boards, quick)
    progress.step("P equal processors in Verilator: " + "; ".join(
        f"{net} at P = {', '.join(map(str, ps))}" for net, (ps, _, _, _) in runs.items()))
    measured = [processor_speedup.measure(net, p, mode, lanes, dataset, samples)
                for net, (ps, dataset, samples, lanes) in runs.items() for p in ps
                for mode in ("layerpipe", "pipedream")]
    rows = []
    for q in processor_speedup.pairs(measured):
        cyc = {m: figure(q[m]["rtl_cycles_per_sample"], "cycles/sample", "RTL") for m in ("layerpipe", "pipedream")}
        rows.append({
            "net": q["net"], "processors": q["processors"], "lanes": q["layerpipe"]["lanes"],
            "samples": q["layerpipe"]["samples"], "dataset": q["layerpipe"]["dataset"],
            "bit_exact": q["layerpipe"]["bit_exact"] and q["pipedream"]["bit_exact"],
            "cycles_per_sample": cyc,
            "speedup_rtl": quotient(cyc["pipedream"], cyc["layerpipe"], "x",
                                    "cycles_per_sample.pipedream / cycles_per_sample.layerpipe"),
            "speedup_model_cycles": figure(q["speedup_model_cycles"], "x", "model",
                                           note="the plan's period in cycles for these lanes"),
            "speedup_scheduler": figure(q["speedup_model_macs"], "x", "model", note="period in MACs"),
        })
    return rows


# ------------------------------------------------------------------ scaling

SCALING_WIDTHS = (16, 32, 64, 128, 256, 512)
SCALING_DEPTHS = (2, 3, 4, 5, 6, 7, 8)
SCALING_OUTPUTS = 10


def scaling_net(width, depth):
    """``depth`` layers: ``width`` inputs, ``depth - 1`` hidden layers of ``width``, 10 outputs."""
    return (width,) * depth + (SCALING_OUTPUTS,)


def scaling_section(boards, results, progress):
    """The design plan of growing nets under each board's budget (no RTL: the
    plan's figures), with samples/s estimated at the board's clock."""
    from layerpipe.hw.config import NetConfig
    progress.step(f"scaling (design plan): widths {SCALING_WIDTHS[0]}..{SCALING_WIDTHS[-1]}, "
                  f"depths {SCALING_DEPTHS[0]}..{SCALING_DEPTHS[-1]} on {', '.join(b.name for b in boards)}")
    out = {}
    for board in boards:
        r = results[board.name]
        clock = r["synth"]["fmax_mhz"]
        if clock["value"] is None:
            clock = dict(r["clock_constraint_mhz"], note="the board's clock constraint: no measured Fmax in this run")
        else:
            clock = dict(clock, note=f"measured Fmax of {board.net}, assumed for every net")
        rows = []
        for depth in SCALING_DEPTHS:
            for width in SCALING_WIDTHS:
                widths = scaling_net(width, depth)
                row = {"net": "-".join(map(str, widths)), "width": width, "depth": depth}
                try:
                    plan = design_plan(NetConfig(widths), board.target)
                except LayerPipeError as e:
                    why = f"does not fit: {e}"
                    row.update(cycles_per_sample=missing("cycles/sample", "model", why),
                               multipliers=missing("multipliers", "model", why),
                               samples_per_s=missing("samples/s", "model", why))
                    rows.append(row)
                    continue
                cycles = figure(plan.cycles_per_sample, "cycles/sample", "model")
                row.update(cycles_per_sample=cycles,
                           mac_bound_cycles_per_sample=figure(plan.mac_bound_cycles_per_sample, "cycles/sample",
                                                              "model", formula="macs_per_sample / multipliers"),
                           bound=plan.bounds["bound"],
                           multipliers=figure(plan.multipliers, "multipliers", "model"),
                           dsp_blocks=figure(plan.dsp_blocks, "DSP blocks", "model"),
                           samples_per_s=quotient(clock, cycles, "samples/s", "clock_mhz * 1e6 / cycles_per_sample",
                                                  scale=1e6, note="estimate: the plan's cycles at clock_mhz"))
                rows.append(row)
        out[board.name] = {"target": board.target.name, "clock_mhz": clock, "nets": rows}
    return out


SIM_SCALING_NETS = ("64-32-10", "128-64-10", "256-128-10", "64-64-64-64-64-64-64-64-10")
SIM_SCALING_SAMPLES = 400


def sim_scaling_section(boards, results, quick, progress):
    """Simulation speed and build times as the net grows: the board runs
    above, and in a full run :data:`SIM_SCALING_NETS` (layerpipe mode,
    synthetic data, planned under the first board's budget)."""
    from layerpipe.hw.config import NetConfig, parse_widths
    rows = []
    for name, r in results.items():
        f = r["rtl"]["layerpipe"]
        rows.append({"net": r["net"], "source_run": f"boards.{name}.rtl.layerpipe",
                     "sim_cycles_per_s": f["sim_cycles_per_s"], "build_seconds": f["build_seconds"]})
    if quick:
        return {"nets": rows, "note": "--quick: only the board runs; a full run adds " + ", ".join(SIM_SCALING_NETS)}
    target = boards[0].target
    for net in SIM_SCALING_NETS:
        if any(row["net"] == net for row in rows):
            continue
        progress.step(f"simulation scaling: {net} in Verilator, {SIM_SCALING_SAMPLES} samples")
        try:
            plan = design_plan(NetConfig(parse_widths(net)), target)
            r = rtl_run(plan, "synthetic", SIM_SCALING_SAMPLES)
        except LayerPipeError as e:
            rows.append({"net": net, "sim_cycles_per_s": missing("cycles/s", "RTL", str(e)),
                         "build_seconds": missing("s", "RTL", str(e))})
            continue
        rows.append({"net": net, "cycles_per_sample": figure(r["cycles_per_sample"], "cycles/sample", "RTL"),
                     "sim_cycles_per_s": figure(r["sim_cycles_per_s"], "cycles/s", "RTL"),
                     "generate_seconds": figure(r["generate_seconds"], "s", "RTL",
                                                note="Amaranth elaboration and Verilog conversion"),
                     "build_seconds": build_seconds(r)})
    return {"nets": rows}


# ------------------------------------------------------------------ the run

def bench(board_names, quick=False, argv=None):
    """Every figure of issue 16 for ``board_names``, as one JSON-able dict."""
    from layerpipe.boards import board as get_board
    boards = [get_board(n) for n in board_names]
    per_board = len(MODES) + 1 + (0 if quick else 1)
    extra_sims = [] if quick else [n for n in SIM_SCALING_NETS if n not in {b.net for b in boards}]
    total = len(boards) * per_board + 3 + len(extra_sims)
    progress = Progress(total)
    t0 = time.time()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    machine = cpu_reference.cpu_info()            # taken first: its load average is other jobs', not the bench's
    results = {}
    for b in boards:
        results[b.name] = board_section(b, quick, progress)
    out = {
        "bench": {"version": BENCH_VERSION, "quick": quick, "boards": list(board_names), "started": started,
                  "command": " ".join(["layerpipe", *argv[1:]]) if argv else "layerpipe bench"},
        "machine": machine,
        "boards": results,
        "scheduler": scheduler_section(boards, results, quick, progress),
        "scaling": scaling_section(boards, results, progress),
        "sim_scaling": sim_scaling_section(boards, results, quick, progress),
    }
    out["bench"]["seconds"] = round(time.time() - t0, 1)
    progress.note(f"done in {out['bench']['seconds']:.0f} s")
    return out
