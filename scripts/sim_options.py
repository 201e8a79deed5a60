"""Which Verilator and C++ options make the fast bench fast: one design built
with each set of options and trained on the same samples, every run's result
words and final weights compared with the default build's (which
:func:`layerpipe.sim.rtl_sim.simulate` holds to the golden model).

``python -m layerpipe.scripts.sim_options [--net 64-32-10] [--dataset digits] [--samples 1437] [--repeat 3] [--json]``

Each variant is built from scratch in a temporary folder; each run is
repeated and the fastest kept (the machine is shared: the CPU-time figure
carries over, the wall-clock one depends on the load). A benchmark, not a test.
"""
import argparse
import json
import os
import tempfile
from pathlib import Path

from layerpipe.hw import generator
from layerpipe.hw.config import NetConfig, parse_widths
from layerpipe.hw.plan import plan_design
from layerpipe.sim import fast_sim
from layerpipe.sim.bit_exact import first_difference
from layerpipe.sim.rtl_sim import prepare, simulate

# name -> (Verilator options, make variables of the model's C++)
VARIANTS = {
    "default": (fast_sim.SPEED_ARGS, fast_sim.MAKE_ARGS),
    "C++ at the wheel's -Os": (fast_sim.SPEED_ARGS, ("OPT_FAST=-Os",)),
    "C++ at -O3": (fast_sim.SPEED_ARGS, ("OPT_FAST=-O3",)),
    "no -O3 --x-assign fast --x-initial fast": ((), fast_sim.MAKE_ARGS),
    "--threads 2": (fast_sim.SPEED_ARGS + ("--threads", "2"), fast_sim.MAKE_ARGS),
}


def measure(net, dataset, samples, repeat, variants=VARIANTS):
    """One row per variant: build seconds, best cycles per CPU second and per
    wall second over ``repeat`` runs, and whether its bits equal the default's."""
    plan = plan_design(NetConfig(parse_widths(net)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="layerpipe-options-") as tmp:
        checked = simulate(plan, dataset, samples, build_dir=tmp)     # the default build, against the golden model
        _, _, stream, _, _ = prepare(plan.config, dataset, samples, plan.config.seed)
        out = Path(tmp) / "generated" / plan.digest
        info = generator.generate(plan, out)
        reference = None
        for name, (build_args, make_args) in variants.items():
            model = fast_sim.build(info, out / f"{plan.name}.v", Path(tmp) / name.replace(" ", "_"),
                                   build_args=build_args, make_args=make_args)
            runs = [fast_sim.run(model, info, stream) for _ in range(repeat)]
            if reference is None:
                reference = runs[0]
            same = all(first_difference(reference[k], r[k], item=k) is None for r in runs
                       for k in ("results", "weights"))
            rows.append({"variant": name, "verilator_args": list(build_args), "make_args": list(make_args),
                         "build_seconds": model.seconds, "cycles": runs[0]["cycles"],
                         "cycles_per_cpu_s": max(r["cycles"] / r["run_cpu_seconds"] for r in runs),
                         "cycles_per_s": max(r["cycles"] / r["run_seconds"] for r in runs),
                         "same_bits": same})
    return {"net": net, "dataset": dataset, "samples": samples, "repeat": repeat,
            "bit_exact": checked["bit_exact"], "load_average": os.getloadavg(), "rows": rows}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", default="64-32-10")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--samples", type=int, default=1437)
    p.add_argument("--repeat", type=int, default=3, help="runs per variant, the fastest kept (default 3)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    args = p.parse_args(argv)
    r = measure(args.net, args.dataset, args.samples, args.repeat)
    if args.json:
        print(json.dumps(r))
        return
    print(f"{r['net']} on {r['samples']} {r['dataset']} samples; default build bit-exact against the golden model: "
          f"{'yes' if r['bit_exact'] else 'NO'}; load average {r['load_average'][0]:.1f}")
    print("| variant | build s | sim cycles per CPU s | sim cycles/s (wall) | same bits |")
    print("|---|---|---|---|---|")
    for row in r["rows"]:
        print(f"| {row['variant']} | {row['build_seconds']:.0f} | {row['cycles_per_cpu_s']:,.0f} | "
              f"{row['cycles_per_s']:,.0f} | {'yes' if row['same_bits'] else 'NO'} |")


if __name__ == "__main__":
    main()
