"""What the host link costs: yosys cell counts (``synth_ecp5``/``synth_ice40``,
via :func:`~layerpipe.scripts.synth_cells.synth_cells`) of the link top minus
those of the bare pipeline of the same design. The difference is the UART,
the framing, the executor, the epoch order and counters, and the sample
store (its block RAM: DP16KD on ECP5, SB_RAM40_4K on iCE40).

    python -m layerpipe.scripts.link_cost --net 4-8-3 --store 120 [--family ecp5] [--json]
"""
import argparse
import json
import sys

from layerpipe.hw.config import NetConfig, parse_widths
from layerpipe.hw.errors import LayerPipeError

from layerpipe.hw.plan import plan_design
from layerpipe.hw.target import TARGETS

from .synth_cells import FAMILIES, synth_cells

TARGET_OF = {"ecp5": "ecp5-85f", "ice40": "ice40up5k"}

BRAM = {"ecp5": ("DP16KD",), "ice40": ("SB_RAM40_4K", "SB_SPRAM256KA")}


def link_cost(plan, store, family, divisor=33):
    from layerpipe.hw import generator
    from layerpipe.hw.link.link_top import LinkTop
    bare = synth_cells(generator.build(plan), family)
    top = synth_cells(LinkTop(generator.build(plan), divisor, store), family)

    def bram(r):
        return sum(n for c, n in r["cells"].items() if c.startswith(BRAM[family]))
    kinds = ("lut", "ff", "carry", "dsp")
    return {"family": family, "store": store, "link": {k: top[k] - bare[k] for k in kinds} |
            {"bram": bram(top) - bram(bare)}, "link_top": {k: top[k] for k in kinds} | {"bram": bram(top)},
            "pipeline": {k: bare[k] for k in kinds} | {"bram": bram(bare)},
            "seconds": top["seconds"] + bare["seconds"]}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m layerpipe.scripts.link_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--net", default="4-8-3")
    p.add_argument("--store", type=int, default=120, help="samples the store holds")
    p.add_argument("--family", choices=sorted(FAMILIES), action="append", help="repeatable; default: ecp5")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        plans = {fam: plan_design(NetConfig(parse_widths(args.net)), TARGETS[TARGET_OF[fam]])
                 for fam in args.family or ["ecp5"]}
    except LayerPipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = [link_cost(plan, args.store, fam) for fam, plan in plans.items()]
    if args.json:
        print(json.dumps({"net": args.net, "results": results}))
    else:
        print("| family | net | store | link LUT | link FF | link carry | link block RAM | pipeline LUT |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            k = r["link"]
            print(f"| {r['family']} | {args.net} | {r['store']} | {k['lut']} | {k['ff']} | {k['carry']} | "
                  f"{k['bram']} | {r['pipeline']['lut']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
