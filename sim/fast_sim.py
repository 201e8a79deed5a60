"""Host side of the fast bench: build the harness around a generated design
with the C++ driver ``fast_main.cpp``, run it, and turn the memories it
dumps into the per-sample results, done cycles and weights that
:func:`layerpipe.sim.rtl_sim.simulate` compares with the golden model.

No Python and no cocotb run during the simulation: the driver toggles the
clock and wakes only when the harness asks for attention (a half of the
stimulus memory consumed, the run finished) or every
:data:`PROGRESS_CYCLES`. The per-cycle cocotb bench (:mod:`.rtl_bench`)
gives the same bits (``tests/test_rtl_sim.py``).
"""
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from . import verilator
from .fast_harness import RESULT_DEPTH, STIMULUS_DEPTH, harness_verilog, payload_width
from .stream_bench import field_lanes, group_results, hex_lines, sample_words, to_signed, unpack
from .verilator.cocotb_run import watch_progress
from .verilator.memory_files import memory_files

TOPLEVEL = "layerpipe_fast_bench"
MAIN = Path(__file__).with_name("fast_main.cpp")
PROGRESS_CYCLES = 20_000     # at most this many cycles between progress reports
STALL_CYCLES = 100_000       # no beat and no result for this long (or 100 samples' worth): stalled

# Verilator options for speed, measured on 64-32-10 (README, "Simulation at
# Verilator speed"): -O3 and fast X handling. No --vpi or --public-flat-rw:
# the driver reaches the top's ports as C++ members, so Verilator may
# optimise every internal signal.
SPEED_ARGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast")
# The model's per-cycle C++ at -O2 rather than the wheel's -Os (OPT_FAST);
# the run-once code (initial values: megabytes on large nets) stays at -O0.
MAKE_ARGS = ("OPT_FAST=-O2",)


def build(info, design_path, build_dir, build_args=SPEED_ARGS, make_args=MAKE_ARGS):
    """Verilate the design at ``design_path`` (manifest ``info``) inside the fast
    harness, with the driver ``fast_main.cpp``.

    Memory contents go to ``$readmemh`` files under ``build_dir/fast/memories``
    (:func:`~layerpipe.sim.verilator.memory_files.memory_files`), rewritten on
    every call, so a cached model always finds them.
    Returns the :class:`layerpipe.sim.verilator.Model` (cached per Verilog, options and driver).
    """
    out = Path(build_dir) / "fast"
    out.mkdir(parents=True, exist_ok=True)
    # the initial weights as $readmemh files: on large nets they are most of the C++ to compile
    design = memory_files(Path(design_path).read_text(), out / "memories")
    source = out / f"{info['name']}_{info['digest']}_bench.v"
    source.write_text(design + "\n" + harness_verilog(info, design, TOPLEVEL))
    return verilator.build(source, TOPLEVEL, build_dir, build_args=build_args, main=MAIN, make_args=make_args)


def _threshold(p):
    """A probability as the harness's 16-bit threshold (times 65536)."""
    return min(int(round(p * 65536)), 65536)


def run(model, info, samples, gap=0.0, backpressure=0.0, seed=0, progress=None):
    """Train on ``samples`` (golden-model ``Sample``s) in the fast bench.

    Returns the cycle bench's result shape: ``results`` (per sample: outputs
    and label), ``done_cycles`` (cycle of each sample's last result word),
    ``cycles`` (when the pipeline went idle), ``weights`` (per layer, rows of
    W with the bias last), ``status`` (dict), ``extra_words`` (result words
    past the last sample), ``gap_cycles`` and ``backpressure_cycles`` (cycles
    a word waited on the generators), plus ``seconds`` (the simulator process, start-up
    included), ``run_seconds`` and ``run_cpu_seconds`` (the run itself, set-up
    to dumps, wall and CPU time).
    """
    ports, widths = info["ports"], info["widths"]
    n_out = widths[-1]
    xs = np.array([s.x for s in samples], dtype=np.int64)
    labels = np.array([s.label for s in samples], dtype=np.int64)
    stim = sample_words(ports["samples"], xs, labels)
    result_bits = payload_width(ports["results"])
    per_result = -(-n_out // len(field_lanes(ports["results"], "a")))   # result transfers per sample
    with tempfile.TemporaryDirectory(dir=model.path, prefix="run-") as tmp:
        tmp = Path(tmp)
        (tmp / "all_stimulus.hex").write_text(hex_lines(stim, payload_width(ports["samples"])))
        beats_at, beats_bits, _ = ports["status"]["beats"]
        params = {"stimulus": "all_stimulus.hex", "total": len(stim),
                  "stim_depth": STIMULUS_DEPTH, "result_depth": RESULT_DEPTH,
                  "gap_threshold": _threshold(gap), "bp_threshold": _threshold(backpressure),
                  "gap_seed": seed & 0xFFFFFFFF, "bp_seed": (seed + 1) & 0xFFFFFFFF,
                  "progress_cycles": min(PROGRESS_CYCLES, RESULT_DEPTH // 2),
                  "stall_cycles": max(STALL_CYCLES, 100 * info["cycles_per_sample"]),
                  "beats_offset": beats_at, "beats_width": beats_bits,
                  "progress": "progress", "results": "all_results.hex", "summary": "summary.json"}
        t0 = time.time()
        with watch_progress(tmp / "progress", (lambda k: progress(k // per_result)) if progress else None):
            proc = subprocess.run([str(model.executable), *(f"{k}={v}" for k, v in params.items())],
                                  cwd=tmp, capture_output=True, text=True)
        seconds = time.time() - t0
        if proc.returncode:
            lines = (proc.stderr or proc.stdout or "").strip().splitlines()
            raise verilator.SimulationError(lines[-1] if lines else f"the fast bench exited {proc.returncode}")
        res = json.loads((tmp / "summary.json").read_text())
        res["result_words"] = [int(w, 16) for w in (tmp / "all_results.hex").read_text().split()]
        res["weights"] = [int(w, 16) for w in (tmp / "weights.hex").read_text().split() if not w.startswith("/")]
        res["status"] = int(res["status"], 16)
    mask = (1 << result_bits) - 1
    payloads = [w & mask for w in res["result_words"]]
    stamps = [w >> result_bits for w in res["result_words"]]
    results = group_results(ports["results"], payloads, n_out)
    last_bit = ports["results"]["last"][0]
    done = [c for c, w in zip(stamps, payloads) if (w >> last_bit) & 1]
    weight_bits = info["numbers"]["weight_bits"][0]
    flat = [to_signed(w, weight_bits) for w in res["weights"]]
    weights, k = [], 0
    for n_in, n_o in zip(widths[:-1], widths[1:]):
        weights.append([flat[k + r * (n_in + 1):k + (r + 1) * (n_in + 1)] for r in range(n_o)])
        k += n_o * (n_in + 1)
    status = unpack(ports["status"], res["status"])
    return {"results": [[a, label] for a, label in results], "done_cycles": done, "cycles": res["cycles"],
            "weights": weights, "status": status,
            "extra_words": len(payloads) - len(results) * per_result, "seconds": seconds,
            "gap_cycles": res["gap_cycles"], "backpressure_cycles": res["backpressure_cycles"],
            "run_seconds": res["run_seconds"], "run_cpu_seconds": res["run_cpu_seconds"]}

