"""Synthesis per board and schedule mode, as one table.

    python -m layerpipe.scripts.synth_report [--boards ulx3s-85f,icebreaker]
        [--modes layerpipe,pipedream,sequential] [--results DIR] [--table-only]

Runs ``layerpipe synth --board B --mode M --json`` for each pair, one at a
time (a place and route of the ECP5-85F takes 10 minutes or more on two
cores), keeps each report as ``DIR/<board>_<mode>.json`` (default
``build/synth/reports``) and prints the Markdown table of every report in
DIR. ``--table-only`` runs no tool and tabulates the reports already there.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

COLUMNS = ("board", "net", "mode", "LUT", "FF", "DSP", "BRAM", "Fmax MHz (constraint)", "critical path",
           "cycles/sample", "samples/s", "build s (yosys+pnr+pack)")


def _used(r, key):
    v = r.get(key)
    return f"{v['used']:,} / {v['total']:,} ({v['percent']:.0f} %)" if v and v.get("total") else "-"


def row(r):
    cp = r["critical_path"]
    return (r["board"], r["net"], r["mode"], _used(r, "luts"), _used(r, "ffs"), _used(r, "dsps"),
            _used(r, "brams") + (f", SPRAM {r['sprams']['used']}" if r.get("sprams") else ""),
            f"{r['fmax_mhz']:.1f} ({r['constraint_mhz']:.0f})",
            f"{cp['from']} → {cp['to']}, {cp['logic_levels']} levels" if cp else "-",
            f"{r['cycles_per_sample']}", f"{r['samples_per_s']:,}",
            " + ".join(f"{s:.0f}" for s in r["build_seconds"].values()))


def table(reports):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(r)) + " |" for r in reports]
    return "\n".join(lines)


def estimates(reports):
    """The plan's estimates beside nextpnr's figures."""
    lines = ["| board | net | mode | DSP est / placed | LUT4 est / synthesised (yosys) / placed cells (nextpnr) "
             "| block RAM est / placed |", "|---|---|---|---|---|---|"]
    for r in reports:
        e = r["expected"]
        lines.append(f"| {r['board']} | {r['net']} | {r['mode']} | {e['dsps']} / {r['dsps']['used']} | "
                     f"{e.get('luts', 0):,} / {r.get('lut4_synthesised', 0):,} / {r['luts']['used']:,} | "
                     f"{e['ebr']} / {r['brams']['used']} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m layerpipe.scripts.synth_report", description=__doc__.split("\n\n")[0])
    p.add_argument("--boards", default="ulx3s-85f,icebreaker")
    p.add_argument("--modes", default="layerpipe,pipedream,sequential")
    p.add_argument("--results", default="build/synth/reports")
    p.add_argument("--table-only", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        for b in args.boards.split(","):
            for mode in args.modes.split(","):
                print(f"synth {b} {mode} ...", file=sys.stderr, flush=True)
                done = subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", "synth", "--board", b,
                                       "--mode", mode, "--json"], stdout=subprocess.PIPE, text=True)
                if done.returncode != 0:
                    print(f"synth {b} {mode} failed (exit {done.returncode})", file=sys.stderr)
                    continue
                (out / f"{b}_{mode}.json").write_text(done.stdout)
    reports = [json.loads(f.read_text()) for f in sorted(out.glob("*.json"))]
    if not reports:
        print(f"no reports in {out}", file=sys.stderr)
        return 1
    print(table(reports))
    print()
    print(estimates(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
