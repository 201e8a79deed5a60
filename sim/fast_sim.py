"""Host side of the fast bench: build the harness around a generated design,
run :mod:`layerpipe.sim.fast_bench` in Verilator, and turn the memories it
dumps into the per-sample results, done cycles and weights that
:func:`layerpipe.sim.rtl_sim.simulate` compares with the golden model."""
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from . import verilator
from .fast_harness import RESULT_DEPTH, STIMULUS_DEPTH, harness_verilog, payload_width
from .stream_bench import field_lanes, group_results, sample_words, to_signed, unpack

TOPLEVEL = "layerpipe_fast_bench"
PERIOD_NS = 10
PROGRESS_CYCLES = 20_000     # at most this many cycles between progress reports
STALL_CYCLES = 100_000       # no beat and no result for this long (or 100 samples' worth): stalled

# Verilator options for speed, measured on 64-32-10 (README, "Simulation speed"):
# -O3 and fast X handling, and no VPI access to internal signals: cocotb's
# runner asks for --public-flat-rw, which registers every signal with VPI (a
# symbol table that takes longer to compile than the design) and keeps
# Verilator from optimising them away; the bench touches only the harness's
# ports, made public by a control file (PUBLIC_PORTS).
#
# The clock runs inside the model (--timing), so no callback reaches cocotb
# on its edges; the wheel's verilated.mk was configured without the flags
# that C++20 coroutines need (CFG_CXXFLAGS_COROUTINES is empty), hence -CFLAGS.
SPEED_ARGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--no-public-flat-rw", "--timing",
              "--timescale", "1ns/1ps", "-CFLAGS", "-std=c++20 -fcoroutines")
# The model's per-cycle code at -O2 rather than the wheel's -Os (OPT_FAST);
# the run-once code (initial values: megabytes on large nets) stays at -O0.
MAKE_VARIABLES = "OPT_FAST=-O2"
PUBLIC_PORTS = '`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'


def build(info, design_path, build_dir, build_args=SPEED_ARGS):
    """Verilate the design at ``design_path`` (manifest ``info``) inside the fast harness.

    Returns the :class:`layerpipe.sim.verilator.Model` (cached per Verilog and options).
    """
    design = Path(design_path).read_text()
    out = Path(build_dir) / "fast"
    out.mkdir(parents=True, exist_ok=True)
    source = out / f"{info['name']}_{info['digest']}_bench.v"
    # the make variables are named in the source, so the cache key covers them
    source.write_text(design + "\n" + harness_verilog(info, design, TOPLEVEL, PERIOD_NS)
                      + f"// built by layerpipe.sim.fast_sim with make {MAKE_VARIABLES}\n")
    control = out / f"{TOPLEVEL}.vlt"
    control.write_text(PUBLIC_PORTS.format(top=TOPLEVEL))
    saved = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved, MAKE_VARIABLES]))
    try:
        return verilator.build(source, TOPLEVEL, build_dir, build_args=(*build_args, str(control.resolve())))
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved


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
    with tempfile.TemporaryDirectory(dir=model.path) as tmp:
        np.save(Path(tmp) / "stimulus.npy", stim)
        params = {"stimulus": str(Path(tmp) / "stimulus.npy"), "sample_bits": payload_width(ports["samples"]),
                  "result_bits": result_bits, "transfers_per_result": per_result,
                  "gap": gap, "backpressure": backpressure, "seed": seed,
                  "stimulus_depth": STIMULUS_DEPTH, "result_depth": RESULT_DEPTH,
                  "progress_cycles": min(PROGRESS_CYCLES, RESULT_DEPTH // 2),
                  "beats_field": ports["status"]["beats"][:2],
                  "stall_cycles": max(STALL_CYCLES, 100 * info["cycles_per_sample"])}
        t0 = time.time()
        res = verilator.test(model, "layerpipe.sim.fast_bench", params=params, progress=progress)
        seconds = time.time() - t0
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

