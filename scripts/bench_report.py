"""The report of ``layerpipe bench``: Markdown tables and PNG plots, drawn
from the JSON result alone (``markdown(result)``, ``plots(result, out)``),
so a saved ``bench.json`` can be redrawn without measuring again."""
from pathlib import Path

from layerpipe.hw import strict_json
from layerpipe.hw.errors import LayerPipeError

REFERENCE_NAMES = {"c": "C -O3", "numpy": "NumPy", "torch": "PyTorch"}
MODES = ("layerpipe", "pipedream", "sequential")


def fmt(fig, digits=None):
    """A figure's value for a table: thousands separated, 'n/a' when missing."""
    if fig is None or fig.get("value") is None:
        return "n/a"
    v = fig["value"]
    if isinstance(v, bool) or isinstance(v, str):
        return str(v)
    if digits is None:
        digits = 0 if abs(v) >= 100 else 2 if abs(v) >= 1 else 3
    return f"{v:,.{digits}f}"


def times(fig, digits=2):
    """A ratio figure as '1.23x', or 'n/a'."""
    return "n/a" if fig is None or fig.get("value") is None else f"{fmt(fig, digits)}x"


def _machine(result):
    m, b = result["machine"], result["bench"]
    return (f"Command: `{b['command']}` ({'quick subset' if b['quick'] else 'full run'}), started {b['started']}, "
            f"{b['seconds']:.0f} s. Machine: {m['model']}, {m['logical_cpus']} logical CPUs "
            f"(SIMD: {', '.join(m['simd']) or 'none found'}), {m['compiler']}, Python {m['python']}, "
            f"NumPy {m['numpy']}" + (f", load average {m['load_average'][0]:g} at the start (1 minute)"
                                    if m.get("load_average") else "") + ".")


def board_tables(name, r):
    lines = [f"## {name} ({r['target']}): {r['net']} on {r['dataset']}, {r['samples']} samples", ""]
    refs = [k for k in REFERENCE_NAMES if k in r["cpu"]]
    lines += ["| mode | cycles/sample (RTL) | plan | MAC bound | ratio | device limit | ratio | bit exact "
              "| FPGA samples/s | " + " | ".join(f"vs {REFERENCE_NAMES[k]}" for k in refs) + " |",
              "|---" * (9 + len(refs)) + "|"]
    for mode in MODES:
        t, f = r["rtl"][mode], r["fpga"][mode]
        lines.append(
            f"| {mode} | {fmt(t['cycles_per_sample'], 1)} | {fmt(t['planned_cycles_per_sample'], 0)} "
            f"| {fmt(t['mac_bound_cycles_per_sample'], 1)} | {fmt(t['ratio_to_mac_bound'], 3)} "
            f"| {fmt(t['device_limit_cycles_per_sample'], 1)} | {fmt(t['ratio_to_device_limit'], 2)} "
            f"| {'yes' if t['bit_exact'] else 'NO'} | {fmt(f['samples_per_s'], 0)} | "
            + " | ".join(times(r["fpga_vs_cpu"][mode][k]) for k in refs) + " |")
    s = r["synth"]
    lines += ["", "| LUT4 | FF | DSP | EBR | Fmax (MHz) | of the clock goal | synthesis (s) | critical path |",
              "|---|---|---|---|---|---|---|---|",
              "| " + " | ".join(_used(s.get(k)) for k in ("luts", "ffs", "dsps", "brams"))
              + f" | {fmt(s['fmax_mhz'], 1)} | {times(s['fmax_vs_clock_constraint'])} of "
                f"{fmt(r['clock_constraint_mhz'], 0)} MHz | {fmt(s.get('build_seconds'), 0)} "
                f"| {s.get('critical_path') or ''} |"]
    if s["fmax_mhz"].get("note"):
        lines.append(f"\nSynthesis: {s['fmax_mhz']['note']}.")
    lines += ["", "| CPU reference | samples/s | one run (ms) | what |", "|---|---|---|---|"]
    for k in refs:
        c = r["cpu"][k]
        what = c["description"] if c["samples_per_s"]["value"] else c["samples_per_s"]["note"]
        ms = f"{c['seconds']['value'] * 1e3:.3g}" if c.get("seconds") else "n/a"
        lines.append(f"| {REFERENCE_NAMES[k]} | {fmt(c['samples_per_s'], 0)} | {ms} | {what} |")
    return lines


def _used(fig):
    if not fig or fig["value"] is None:
        return "n/a"
    return f"{fig['value']:,}" + (f" / {fig['of']:,}" if fig.get("of") else "")


def scheduler_table(sched):
    nets = list(sched["model"])
    ps = [row["processors"] for row in sched["model"][nets[0]]]
    lines = ["## LayerPipe / PipeDream speedup (scheduler model, period ratio)", "",
             "| net | " + " | ".join(f"P={p}" for p in ps) + " |", "|---" * (len(ps) + 1) + "|"]
    for net in nets:
        lines.append(f"| {net} | " + " | ".join(fmt(row["speedup"], 2) for row in sched["model"][net]) + " |")
    lines += ["", "| board | net | RTL pipedream / layerpipe (one unit per task) | RTL sequential / layerpipe |",
              "|---|---|---|---|"]
    for name, r in sched["rtl"].items():
        lines.append(f"| {name} | {r['net']} | {fmt(r['dedicated_units_speedup'], 3)} | "
                     f"{fmt(r['sequential_speedup'], 2)} |")
    lines += ["", "### On P equal processors (RTL, Verilator)", "",
              "| net | P | multipliers / processor | cycles/sample LayerPipe | PipeDream | speedup RTL "
              "| model (cycles) | scheduler (MACs) | bit exact |", "|---|---|---|---|---|---|---|---|---|"]
    for q in sched["equal_processors"]:
        c = q["cycles_per_sample"]
        lines.append(f"| {q['net']} | {q['processors']} | {q['lanes']} | {fmt(c['layerpipe'], 1)} | "
                     f"{fmt(c['pipedream'], 1)} | {fmt(q['speedup_rtl'], 3)} | {fmt(q['speedup_model_cycles'], 3)} | "
                     f"{fmt(q['speedup_scheduler'], 3)} | {'yes' if q['bit_exact'] else 'NO'} |")
    return lines


def scaling_tables(scaling):
    """Per board: cycles/sample (multipliers) and estimated samples/s, layers x width."""
    lines = []
    for name, s in scaling.items():
        widths = sorted({row["width"] for row in s["nets"]})
        depths = sorted({row["depth"] for row in s["nets"]})
        cell = {(row["depth"], row["width"]): row for row in s["nets"]}
        head = ["| layers | " + " | ".join(f"W={w}" for w in widths) + " |", "|---" * (len(widths) + 1) + "|"]
        lines += [f"## Scaling on {name} ({s['target']}): design plan of W-...-W-10 nets", "",
                  "Cycles per sample (multipliers); 'no fit': over the device's DSP blocks or memory.", ""] + head
        for d in depths:
            lines.append(f"| {d} | " + " | ".join(
                "no fit" if cell[d, w]["cycles_per_sample"]["value"] is None else
                f"{fmt(cell[d, w]['cycles_per_sample'], 0)} ({fmt(cell[d, w]['multipliers'], 0)})"
                for w in widths) + " |")
        lines += ["", f"Estimated samples/s at {fmt(s['clock_mhz'], 1)} MHz ({s['clock_mhz']['note']}).", ""] + head
        for d in depths:
            lines.append(f"| {d} | " + " | ".join(fmt(cell[d, w]["samples_per_s"], 0) for w in widths) + " |")
        lines.append("")
    return lines


def sim_table(sim):
    lines = ["## Simulation speed and build time (Verilator)", "",
             "| net | simulated cycles/s | Verilator build (s) |", "|---|---|---|"]
    for row in sim["nets"]:
        lines.append(f"| {row['net']} | {fmt(row['sim_cycles_per_s'], 0)} | {fmt(row['build_seconds'], 1)} |")
    if sim.get("note"):
        lines += ["", sim["note"] + "."]
    return lines


def markdown(result):
    lines = ["# LayerPipe benchmark", "", _machine(result), ""]
    for name, r in result["boards"].items():
        lines += board_tables(name, r) + [""]
    lines += scheduler_table(result["scheduler"]) + [""]
    lines += scaling_tables(result["scaling"])
    lines += sim_table(result["sim_scaling"])
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ plots

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _board_panels(result, path, draw):
    """One panel per board, ``draw(ax, name, board_result)`` in each, saved to ``path``."""
    plt = _pyplot()
    boards = list(result["boards"])
    fig, axes = plt.subplots(1, len(boards), figsize=(5 * len(boards), 3.6), squeeze=False)
    for ax, name in zip(axes[0], boards):
        draw(ax, name, result["boards"][name])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _throughput(ax, name, r):
    bars = [("FPGA " + name, r["fpga"]["layerpipe"]["samples_per_s"]["value"])]
    bars += [(REFERENCE_NAMES[k], r["cpu"][k]["samples_per_s"]["value"]) for k in REFERENCE_NAMES if k in r["cpu"]]
    ax.set_yscale("log")
    ax.set_xticks(range(len(bars)), [b[0] for b in bars])
    for i, (_, v) in enumerate(bars):
        if v:
            ax.bar(i, v, color="C3" if i == 0 else "C0")
            ax.text(i, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
        else:      # a missing figure: said, not drawn
            ax.text(i, 0.05, "n/a", ha="center", va="bottom", fontsize=8, transform=ax.get_xaxis_transform())
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi * 4)
    ax.set_xlim(-0.6, len(bars) - 0.4)
    ax.set_title(f"{name}: {r['net']} training, samples/s", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)


def plot_throughput(result, path):
    """Samples/s of the FPGA (layerpipe, on chip) and of each CPU reference, per board (log scale)."""
    _board_panels(result, path, _throughput)


def _cycles(ax, name, r):
    x = range(len(MODES))
    for k, (key, label) in enumerate((("cycles_per_sample", "RTL"), ("mac_bound_cycles_per_sample", "MAC bound"),
                                      ("device_limit_cycles_per_sample", "device limit"))):
        ax.bar([i + 0.27 * (k - 1) for i in x], [r["rtl"][m][key]["value"] or 0 for m in MODES], 0.27, label=label)
    ax.set_xticks(list(x), MODES)
    ax.set_ylabel("cycles / sample")
    ax.set_title(f"{name}: {r['net']}", fontsize=9)
    ax.legend(fontsize=7)


def plot_cycles(result, path):
    """RTL cycles per sample per mode beside the MAC bound and the device limit."""
    _board_panels(result, path, _cycles)


def plot_scheduler(result, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for net, rows in result["scheduler"]["model"].items():
        ax.plot([r["processors"] for r in rows], [r["speedup"]["value"] for r in rows], marker="o", ms=3, label=net)
    equal = result["scheduler"]["equal_processors"]
    for net in dict.fromkeys(q["net"] for q in equal):
        qs = [q for q in equal if q["net"] == net]
        ax.plot([q["processors"] for q in qs], [q["speedup_rtl"]["value"] for q in qs], "s", ms=6, mfc="none",
                label=f"{net} RTL, {qs[0]['lanes']} multipliers / processor")
    ax.axhline(1.25, color="k", ls="--", lw=1, label="paper mean 1.25x")
    ax.set_xlabel("processors P")
    ax.set_ylabel("PipeDream period / LayerPipe period")
    ax.set_title("LayerPipe vs PipeDream: scheduler model (lines), RTL at equal P (squares)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(result, path):
    """Per board: cycles/sample, multipliers and estimated samples/s against the width, one line per depth."""
    plt = _pyplot()
    boards = list(result["scaling"])
    keys = (("cycles_per_sample", "cycles / sample"), ("multipliers", "multipliers"),
            ("samples_per_s", "samples/s (estimate)"))
    fig, axes = plt.subplots(len(keys), len(boards), figsize=(5 * len(boards), 9), squeeze=False)
    for col, name in enumerate(boards):
        rows = result["scaling"][name]["nets"]
        for row_i, (key, label) in enumerate(keys):
            ax = axes[row_i][col]
            for depth in sorted({r["depth"] for r in rows}):
                pts = [(r["width"], r[key]["value"]) for r in rows if r["depth"] == depth and r[key]["value"]]
                if pts:
                    ax.plot(*zip(*pts), marker="o", ms=3, label=f"{depth} layers")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_ylabel(label)
            if row_i == 0:
                ax.set_title(f"{name} ({result['scaling'][name]['target']}), W-...-W-10", fontsize=9)
            if row_i == len(keys) - 1:
                ax.set_xlabel("width W")
        axes[0][col].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sim(result, path):
    plt = _pyplot()
    rows = [r for r in result["sim_scaling"]["nets"] if r["sim_cycles_per_s"]["value"]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    names = [r["net"] for r in rows]
    axes[0].bar(names, [r["sim_cycles_per_s"]["value"] for r in rows])
    axes[0].set_ylabel("simulated cycles / s")
    axes[1].bar(names, [r["build_seconds"]["value"] or 0 for r in rows], color="C1")
    axes[1].set_ylabel("Verilator build (s)")
    for ax in axes:
        ax.tick_params(axis="x", labelsize=7, rotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = {"throughput.png": plot_throughput, "cycles.png": plot_cycles, "scheduler.png": plot_scheduler,
         "scaling.png": plot_scaling, "sim_scaling.png": plot_sim}


def write(result, out):
    """``out/bench.json``, ``out/bench.md`` and the PNGs; the paths written."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LayerPipeError(f"out: cannot create {str(out)!r}: {e.strerror or e}") from None
    paths = [out / "bench.json", out / "bench.md"]
    paths[0].write_text(strict_json.dumps(result, indent=1) + "\n")
    paths[1].write_text(markdown(result))
    for name, draw in PLOTS.items():
        draw(result, out / name)
        paths.append(out / name)
    return paths
