"""LayerPipe vs PipeDream on P equal MAC-array processors, measured in RTL
(issue 14): for each net and P both schemes are generated with
``--processors P --lanes N``, trained in Verilator (the fast bench) and held
to the golden model bit for bit; cycles per sample in steady state are set
beside the scheduler's model (in MACs, and in cycles for those lanes).

    python -m layerpipe.scripts.processor_speedup --out report/processors

writes ``processor_speedup.json`` (every row), ``processor_speedup.md`` (the
table) and ``processor_speedup.png`` (cycles per sample and speedup over P,
model lines and RTL points, both schemes). ``--quick`` runs P = 2, 5, 6 of
64-32-64-10 only, ``--only NET`` one net; ``--render DIR [DIR ...]`` makes
the table and plot in ``--out`` from the JSON rows earlier runs left in
those folders. Build directories are cached per design under ``build/``.
"""
import argparse
import sys
from pathlib import Path

from layerpipe.hw import strict_json
from layerpipe.hw.config import NetConfig, parse_widths
from layerpipe.hw.output_paths import check_output
from layerpipe.hw.processor_plan import MODES, plan_processors
from layerpipe.hw.target import dsp_budget

# net -> (processor counts, data set, samples)
NETS = {"64-32-64-10": (range(1, 7), "digits", 300),
        "16-48-32-16-8-4": (range(2, 9), "synthetic", 200)}
QUICK = {"64-32-64-10": ((2, 5, 6), "digits", 300)}
LANES = 16
# the bar: RTL speedup within 10 % of the scheduler's
TOLERANCE = 0.10


def measure(net, processors, mode, lanes, dataset, samples):
    """One design in RTL: its plan's figures and what Verilator measured."""
    from layerpipe.sim.rtl_sim import simulate
    plan = plan_processors(NetConfig(parse_widths(net), mode=mode), dsp_budget(), processors, lanes)
    print(f"{plan.name}: {dataset}, {samples} samples", file=sys.stderr, flush=True)
    r = simulate(plan, dataset, samples, 0)
    return {"net": net, "processors": processors, "mode": mode, "lanes": lanes, "name": plan.name,
            "rtl_cycles_per_sample": r["cycles_per_sample"], "bit_exact": r["bit_exact"],
            "mismatches": r["mismatches"], "samples": r["samples"], "dataset": dataset,
            "accuracy": r["accuracy"], "multipliers": plan.multipliers, **model_figures(plan)}


def model_figures(plan):
    """What the plan and the scheduler say of a design: assignment, periods, communication."""
    procs = plan.processors
    return {"assignment": [list(a) for a in procs.assignment], "model_period_macs": procs.schedule.period,
            "model_cycles_per_sample": plan.cycles_per_sample, "ideal_cycles_per_sample": procs.ideal_period_cycles,
            "communication": procs.crossings(plan.widths),
            "model_communication": {"activations": procs.schedule.communication.activations,
                                    "gradients": procs.schedule.communication.gradients,
                                    "total": procs.schedule.communication.total}}


def pairs(rows):
    """Per (net, P): both schemes and their speedups (PipeDream over LayerPipe)."""
    out = []
    by = {(r["net"], r["processors"], r["mode"]): r for r in rows}
    for (net, p, mode), lp in by.items():
        if mode != "layerpipe" or (net, p, "pipedream") not in by:
            continue
        pd = by[(net, p, "pipedream")]
        rtl = None if None in (lp["rtl_cycles_per_sample"], pd["rtl_cycles_per_sample"]) else \
            pd["rtl_cycles_per_sample"] / lp["rtl_cycles_per_sample"]
        macs = pd["model_period_macs"] / lp["model_period_macs"]
        out.append({"net": net, "processors": p, "layerpipe": lp, "pipedream": pd, "speedup_model_macs": macs,
                    "speedup_model_cycles": pd["model_cycles_per_sample"] / lp["model_cycles_per_sample"],
                    "speedup_rtl": rtl, "within_tolerance": None if rtl is None else abs(rtl / macs - 1) <= TOLERANCE})
    nets = list(dict.fromkeys(r["net"] for r in rows))
    return sorted(out, key=lambda q: (nets.index(q["net"]), q["processors"]))


def table(pairs_):
    lines = ["| net | P | LayerPipe cycles/sample: model / RTL | PipeDream: model / RTL | speedup: scheduler (MACs) "
             "| model (cycles) | RTL | RTL within 10 % | bit exact | values crossing processors / sample, LayerPipe, "
             "PipeDream: RTL data paths (+ input loader; scheduler) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for q in pairs_:
        lp, pd = q["layerpipe"], q["pipedream"]

        def cyc(r):
            return f"{r['model_cycles_per_sample']} / " + \
                ("n/a" if r["rtl_cycles_per_sample"] is None else f"{r['rtl_cycles_per_sample']:.1f}")

        def comm(r):
            c = r["communication"]
            return f"{c['total']} (+{c['input']}; {r['model_communication']['total']})"
        rtl = "n/a" if q["speedup_rtl"] is None else f"{q['speedup_rtl']:.3f}x"
        lines.append(f"| {q['net']} | {q['processors']} | {cyc(lp)} | {cyc(pd)} | {q['speedup_model_macs']:.3f}x | "
                     f"{q['speedup_model_cycles']:.3f}x | {rtl} | {'yes' if q['within_tolerance'] else 'no'} | "
                     f"{'yes' if lp['bit_exact'] and pd['bit_exact'] else 'NO'} | {comm(lp)}, {comm(pd)} |")
    return "\n".join(lines)


def plot(pairs_, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    nets = list(dict.fromkeys(q["net"] for q in pairs_))
    fig, axes = plt.subplots(2, len(nets), figsize=(5.5 * len(nets), 7), squeeze=False)
    for k, net in enumerate(nets):
        qs = [q for q in pairs_ if q["net"] == net]
        ps = [q["processors"] for q in qs]
        ax = axes[0][k]
        for mode, colour in zip(MODES, ("tab:blue", "tab:red")):
            ax.plot(ps, [q[mode]["model_cycles_per_sample"] for q in qs], "-", color=colour, label=f"{mode} model")
            ax.plot(ps, [q[mode]["rtl_cycles_per_sample"] for q in qs], "o", color=colour, label=f"{mode} RTL")
        ax.set_yscale("log")
        ax.set_title(f"{net}, {qs[0]['layerpipe']['lanes']} multipliers per processor", fontsize=9)
        ax.set_ylabel("cycles per sample")
        ax.legend(fontsize=7)
        ax = axes[1][k]
        ax.plot(ps, [q["speedup_model_macs"] for q in qs], "-", color="grey", label="scheduler (MACs)")
        ax.plot(ps, [q["speedup_model_cycles"] for q in qs], "--", color="black", label="model (cycles)")
        ax.plot(ps, [q["speedup_rtl"] for q in qs], "o", color="tab:green", label="RTL (Verilator)")
        ax.set_xlabel("processors P")
        ax.set_ylabel("PipeDream / LayerPipe cycles per sample")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quick", action="store_true", help="64-32-64-10 at P = 2, 5, 6 only")
    p.add_argument("--lanes", type=int, default=LANES, help=f"multipliers per processor (default {LANES})")
    p.add_argument("--only", choices=tuple(NETS), help="measure this net only")
    p.add_argument("--processors", help="these processor counts only, in this order, e.g. 8,7")
    p.add_argument("--render", nargs="+", metavar="DIR", help="no runs: tabulate the rows of these folders")
    args = p.parse_args(argv)
    out = check_output(args.out, "out", folder=True)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    nets = QUICK if args.quick else {k: v for k, v in NETS.items() if args.only in (None, k)}
    if args.render:
        nets = {}
        for folder in args.render:
            rows += strict_json.loads((Path(folder) / "processor_speedup.json").read_text())["rows"]
        for r in rows:      # the model's figures as this version of the scheduler gives them
            plan = plan_processors(NetConfig(parse_widths(r["net"]), mode=r["mode"]), dsp_budget(),
                                   r["processors"], r["lanes"], assignment=r["assignment"])
            r.update(model_figures(plan))
    for net, (ps, dataset, samples) in nets.items():
        for processors in ([int(x) for x in args.processors.split(",")] if args.processors else ps):
            for mode in MODES:
                rows.append(measure(net, processors, mode, args.lanes, dataset, samples))
                # keep what is measured so far: the full run takes a while on a shared machine
                (out / "processor_speedup.json").write_text(strict_json.dumps({"rows": rows}, indent=1))
    ps_ = pairs(rows)
    (out / "processor_speedup.json").write_text(strict_json.dumps({"rows": rows, "pairs": [
        {k: v for k, v in q.items() if k not in MODES} for q in ps_]}, indent=1))
    text = table(ps_)
    (out / "processor_speedup.md").write_text(text + "\n")
    plot(ps_, out / "processor_speedup.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
