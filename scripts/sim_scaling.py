"""How simulation scales with the net: generate seconds, Verilog size,
Verilator build seconds, simulated cycles per second and samples per second
of the fast bench, each run bit-exact against the golden model.

``python -m layerpipe.scripts.sim_scaling [--samples N] [--nets A,B,...] [--json]``
builds every net from scratch in a temporary folder (so the build time is
real, not a cache hit) and trains it on ``synthetic`` data. A benchmark, not a
test: a large net takes minutes.
"""
import argparse
import json
import tempfile

from layerpipe.hw.config import NetConfig, parse_widths
from layerpipe.hw.plan import plan_design
from layerpipe.sim.rtl_sim import simulate

NETS = ("64-32-10", "256-128-10", "784-128-10", "64-64-64-64-64-64-64-64-10")


def measure(net, samples, mode="layerpipe"):
    """One row of the table for ``net`` (text such as ``64-32-10``)."""
    plan = plan_design(NetConfig(parse_widths(net), mode=mode))
    with tempfile.TemporaryDirectory(prefix="layerpipe-scaling-") as build_dir:
        r = simulate(plan, "synthetic", samples, build_dir=build_dir)
    return {"net": net, "layers": len(plan.config.widths) - 1, "weights": plan.weight_count,
            "lanes": r["lanes"], "samples": r["samples"], "bit_exact": r["bit_exact"],
            "cycles_per_sample": r["cycles_per_sample"], "generate_seconds": r["generate_seconds"],
            "verilog_mb": r["verilog_bytes"] / 1e6, "build_seconds": r["build_seconds"],
            "sim_cycles_per_s": r["sim_cycles_per_s"], "sim_cycles_per_cpu_s": r["sim_cycles_per_cpu_s"],
            "samples_per_s": r["samples"] * r["sim_cycles_per_s"] / r["cycles"],
            "sim_seconds": r["sim_seconds"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=2000, help="training samples per net (default 2000)")
    p.add_argument("--nets", default=",".join(NETS), help="comma-separated nets (default: the README's four)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    args = p.parse_args(argv)
    rows = []
    for net in args.nets.split(","):
        rows.append(measure(net, args.samples))
        if not args.json:
            r = rows[-1]
            if len(rows) == 1:
                print("| net | weights | lanes | cycles / sample | generate s | Verilog MB | build s "
                      "| sim cycles/s | cycles per CPU s | samples/s | bit exact |")
                print("|---|---|---|---|---|---|---|---|---|---|---|")
            print(f"| {r['net']} | {r['weights']:,} | {','.join(map(str, r['lanes']))} | "
                  f"{r['cycles_per_sample']:.1f} | {r['generate_seconds']:.1f} | {r['verilog_mb']:.2f} | "
                  f"{r['build_seconds']:.0f} | {r['sim_cycles_per_s']:,.0f} | {r['sim_cycles_per_cpu_s']:,.0f} | "
                  f"{r['samples_per_s']:,.0f} | {'yes' if r['bit_exact'] else 'NO'} |", flush=True)
    if args.json:
        print(json.dumps({"samples": args.samples, "rows": rows}))


if __name__ == "__main__":
    main()
