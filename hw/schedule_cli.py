"""``layerpipe schedule``: pack a network's training tasks onto P processors.

Prints the period of each scheme (DESIGN.md 3b), the LayerPipe/PipeDream
speedup, the per-layer delays and the processor-to-task map; ``--json``
gives the same as one object (DESIGN.md 3c), ``--sweep A..B`` a speedup
table over P, ``--gantt F.png`` a picture of one period per processor,
``--list`` the zoo with per-layer MACs. Heavy imports (OR-Tools,
matplotlib) happen inside the functions that need them.
"""
import re

from . import strict_json
from .errors import LayerPipeError
from .options import integer
from .output_paths import check_output
from .progress import Steps


def add_arguments(parser):
    parser.add_argument("--net", default="64-32-64-10",
                        help="layer widths like 64-32-10, or a zoo name (see --list)")
    parser.add_argument("--processors", "-p", type=integer("processors"), metavar="P",
                        help="number of identical processors")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--sweep", metavar="A..B", help="table of speedups for P = A..B")
    parser.add_argument("--gantt", metavar="F.png", help="draw one steady-state period per processor")
    parser.add_argument("--list", action="store_true", help="the zoo networks with per-layer MACs")
    parser.add_argument("--elementwise", action="store_true",
                        help="count elementwise work (bias, f, f', B(b)) in the costs")
    parser.add_argument("--lanes", type=integer("lanes"), metavar="N",
                        help="also the period in clock cycles on processors of N multipliers (the RTL's beat, "
                             "`layerpipe sim --processors P --lanes N`); fully connected nets only")
    parser.add_argument("--time-limit", type=float, default=10.0, metavar="S",
                        help="CP-SAT time limit per packing, seconds (default 10)")


def parse_sweep(text):
    """'2..16' -> range(2, 17)."""
    from .schedule import MAX_PROCESSORS
    match = re.fullmatch(r"\s*(\d+)\s*\.\.\s*(\d+)\s*", text or "")
    if not match or not 1 <= int(match[1]) <= int(match[2]) <= MAX_PROCESSORS:
        raise LayerPipeError(f"sweep: {text!r} is not a range A..B with 1 <= A <= B <= {MAX_PROCESSORS}")
    return range(int(match[1]), int(match[2]) + 1)


def cycles(widths, schedules, lanes):
    """The ``cycles`` object: per pipelined scheme that the hardware builds, the period in
    clock cycles of its assignment on processors of ``lanes`` multipliers, and the speedup."""
    from .processor_plan import MODES, scheme_period_cycles
    from .plan import stage_latency
    periods = {s: scheme_period_cycles(widths, schedules[s].assignment, lanes) for s in MODES}
    return {"lanes": lanes, "unit": "clock cycles per sample", "fixed_cycles": stage_latency(), **periods,
            "speedup": round(periods["pipedream"] / periods["layerpipe"], 4)}


def result(net, processors, elementwise=False, time_limit=10.0, lanes=None, widths=None):
    """The JSON object of DESIGN.md 3c for one net and P; with ``lanes`` (and the net's
    ``widths``) also its ``cycles`` (:func:`cycles`)."""
    from .config import pipeline_delays
    from .schedule import schedule_all
    schedules = schedule_all(net.layers, processors, elementwise, time_limit)
    layerpipe = schedules["layerpipe"]
    extra = {"cycles": cycles(widths, schedules, lanes)} if lanes is not None else {}
    return {
        "net": net.name,
        "processors": processors,
        "elementwise": elementwise,
        "unit": "MACs per sample",
        **{name: s.to_dict() for name, s in schedules.items()},
        "speedup": round(schedules["pipedream"].period / layerpipe.period, 4),
        "speedup_vs_stages": round(schedules["pipedream_stages"].period / layerpipe.period, 4),
        "speedup_vs_sequential": round(schedules["sequential"].period / layerpipe.period, 4),
        "delays": list(pipeline_delays(len(net.layers))),
        "layers": [layer.name for layer in net.layers],
        **extra,
    }


def sweep_rows(net, processors, elementwise=False, time_limit=10.0, steps=None):
    rows = []
    for p in processors:
        if steps is None:
            r = result(net, p, elementwise, time_limit)
        else:
            with steps.step(f"packing on P = {p} processors"):
                r = result(net, p, elementwise, time_limit)
        rows.append({"processors": p, "speedup": r["speedup"], "speedup_vs_stages": r["speedup_vs_stages"],
                     "optimal": all(r[s]["optimal"] for s in ("layerpipe", "pipedream", "pipedream_stages")),
                     **{f"{s}_period": r[s]["period"] for s in ("layerpipe", "pipedream", "pipedream_stages")}})
    return rows


def _zoo_list():
    """The zoo as one JSON object: per network its layers and MACs per sample."""
    from .zoo import ZOO
    nets = {}
    for name, build in ZOO.items():
        net = build()
        nets[name] = {"macs_per_sample": sum(layer.macs for layer in net.layers), "input_size": net.input_size,
                      "layers": [{"name": layer.name, "kind": layer.kind, "macs": layer.macs,
                                  "shape": str(layer.shape)} for layer in net.layers]}
    return {"zoo": nets, "unit": "MACs per sample"}


def _format_list():
    from .zoo import ZOO
    lines = []
    for name, build in ZOO.items():
        net = build()
        total = sum(layer.macs for layer in net.layers)
        lines.append(f"{name}: {len(net.layers)} layers, {total:,} MACs per sample, input {net.input_size:,} values")
        for l, layer in enumerate(net.layers, 1):
            lines.append(f"  {l:2d} {layer.name:<8} {layer.kind:<4} {layer.macs:>14,}  {layer.shape}")
    lines.append("MLPs: --net 64-32-10 (widths n_0-n_1-...; c_l = n_l * n_{l-1})")
    return "\n".join(lines)


def _format_result(r):
    lines = [f"net {r['net']}, {len(r['layers'])} layers, P = {r['processors']} processors, "
             f"costs in {r['unit']}{' incl. elementwise' if r['elementwise'] else ''}",
             f"{'scheme':<17}{'period':>16}{'lower_bound':>16}{'util':>7}  {'optimal':<12}{'comm (values)':>14}"]
    for name in ("layerpipe", "pipedream", "pipedream_stages", "sequential"):
        s = r[name]
        proof = "yes" if s["optimal"] else f"no, gap {100 * s['gap']:.2g}%"
        lines.append(f"{name:<17}{s['period']:>16,}{s['lower_bound']:>16,}{s['utilization']:>7.1%}  "
                     f"{proof:<12}{s['communication']['total']:>14,}")
    lines.append(f"speedup layerpipe vs pipedream {r['speedup']:.3f}x, vs pipedream_stages "
                 f"{r['speedup_vs_stages']:.3f}x (stages: contiguous, no stage replication), "
                 f"vs sequential {r['speedup_vs_sequential']:.3f}x")
    if "cycles" in r:
        c = r["cycles"]
        lines.append(f"on processors of {c['lanes']} multipliers: layerpipe {c['layerpipe']:,} cycles, pipedream "
                     f"{c['pipedream']:,} cycles per sample ({c['fixed_cycles']} fixed), speedup {c['speedup']:.3f}x")
    lines.append("delays (samples, layer 1..L): " + " ".join(map(str, r["delays"])))
    for name in ("layerpipe", "pipedream"):
        lines.append(f"{name} assignment:")
        for p, tasks in r[name]["assignment"].items():
            lines.append(f"  {p}: {' '.join(tasks) or '-'}")
    return "\n".join(lines)


def _format_sweep(name, rows):
    lines = [f"net {name}: periods in MACs per sample",
             f"{'P':>3}{'layerpipe':>16}{'pipedream':>16}{'stages':>16}{'speedup':>9}{'vs stages':>11}  optimal"]
    for row in rows:
        lines.append(f"{row['processors']:>3}{row['layerpipe_period']:>16,}{row['pipedream_period']:>16,}"
                     f"{row['pipedream_stages_period']:>16,}{row['speedup']:>9.3f}{row['speedup_vs_stages']:>11.3f}  "
                     f"{'yes' if row['optimal'] else 'no'}")
    return "\n".join(lines)


def draw_gantt(r, path):
    """One steady-state period per processor, the schemes side by side."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .schedule import scheme_tasks
    from .zoo import get_net
    schemes = ("layerpipe", "pipedream", "pipedream_stages")
    costs = {}
    for scheme in schemes:
        for task in scheme_tasks(get_net(r["net"]).layers, scheme):
            costs[task.name] = task.cost(r["elementwise"])
    colours = {"F": "tab:blue", "W": "tab:orange", "B": "tab:green"}
    fig, axes = plt.subplots(1, len(schemes), figsize=(5 * len(schemes), 0.5 * r["processors"] + 1.8),
                             sharey=True, sharex=True)
    for ax, scheme in zip(axes, schemes):
        s = r[scheme]
        for p, tasks in enumerate(s["assignment"].values()):
            start = 0
            for name in tasks:
                colour = "tab:purple" if name.startswith("BW") else colours[name[0]]
                ax.barh(p, costs[name], left=start, color=colour, edgecolor="white")
                if costs[name] > 0.06 * s["period"]:
                    ax.text(start + costs[name] / 2, p, name, ha="center", va="center", fontsize=7, color="white")
                start += costs[name]
        ax.axvline(s["period"], color="black", lw=1)
        ax.set_title(f"{scheme}: period {s['period']:,}", fontsize=9)
        ax.set_xlabel("MACs per sample")
    axes[0].set_yticks(range(r["processors"]), [f"p{p}" for p in range(r["processors"])])
    axes[0].invert_yaxis()
    fig.suptitle(f"{r['net']} on {r['processors']} processors: LayerPipe {r['speedup']:.2f}x PipeDream, "
                 f"{r['speedup_vs_stages']:.2f}x PipeDream stages")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise LayerPipeError(f"gantt: cannot write {path!r}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def run(args):
    from .zoo import get_net
    if args.list:
        print(strict_json.dumps(_zoo_list()) if args.json else _format_list())
        return 0
    if not args.time_limit > 0:
        raise LayerPipeError(f"time-limit: {args.time_limit} must be a positive number of seconds")
    net = get_net(args.net)
    widths = None
    if args.lanes is not None:
        from .config import parse_widths
        if args.lanes < 1:
            raise LayerPipeError(f"lanes: {args.lanes} must be a whole number >= 1 (multipliers per processor)")
        try:
            widths = parse_widths(args.net)
        except LayerPipeError:
            raise LayerPipeError(f"lanes: cycles are modelled for fully connected nets given as widths "
                                 f"(--net 64-32-10), not {args.net!r}") from None
    if args.gantt:
        check_output(args.gantt, "gantt", suffixes=(".png",))
    if args.sweep:
        rows = sweep_rows(net, parse_sweep(args.sweep), args.elementwise, args.time_limit,
                          steps=Steps(f"schedule {net.name}"))
        print(strict_json.dumps({"net": net.name, "sweep": rows}) if args.json else _format_sweep(net.name, rows))
        return 0
    if args.processors is None:
        raise LayerPipeError("processors: missing; give --processors P with P >= 1 (or --sweep A..B, --list)")
    from .schedule import MAX_PROCESSORS
    if not 1 <= args.processors <= MAX_PROCESSORS:
        raise LayerPipeError(f"processors: {args.processors} is out of range 1..{MAX_PROCESSORS}")
    with Steps(f"schedule {net.name}").step(f"packing the tasks on P = {args.processors} processors"
                                            f" (CP-SAT, at most {args.time_limit:g} s a scheme)"):
        r = result(net, args.processors, args.elementwise, args.time_limit, args.lanes, widths)
    if args.gantt:
        draw_gantt(r, args.gantt)
    print(strict_json.dumps(r) if args.json else _format_result(r))
    return 0
