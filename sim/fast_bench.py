"""cocotb side of the fast bench (:mod:`layerpipe.sim.fast_harness`): no
Python per cycle.

The test loads the first two halves of the stimulus memory, sets the seeds,
thresholds and word count, and then sleeps until the harness asks for
attention (a half of the stimulus consumed, or the run finished) or a
progress timer fires; on each wake it refills the free stimulus half, empties
the result memory when it is half full, reports progress, and at the end
dumps the results and the weights. A run of 100,000 cycles wakes Python a
handful of times.

params: ``stimulus`` (path of a (transfers, limbs) uint64 ``.npy`` from
:func:`layerpipe.sim.stream_bench.sample_words`), ``sample_bits``,
``result_bits``, ``transfers_per_result`` (result transfers per sample),
``gap``, ``backpressure``, ``seed``, ``stimulus_depth``, ``result_depth``,
``progress_cycles``, ``beats_field`` (offset and width of ``beats`` in the
status word), ``stall_cycles`` (a run in which no beat starts and no result
leaves for that long fails: the design stalled). results: ``result_words`` (every result transfer,
cycle above the payload, as ints), ``weights`` (read-back words, unsigned),
``cycles`` (when the pipeline went idle), ``status`` (the status word),
``gap_cycles`` and ``backpressure_cycles`` (the harness's stall counters),
``run_seconds`` (wall time from the end of set-up to the dumps: the
simulator's own speed, without its start-up) and ``run_cpu_seconds`` (the
CPU time of that stretch: the speed on a machine shared with other jobs).
"""
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from layerpipe.sim.fast_harness import FILES
from layerpipe.sim.fast_sim import PERIOD_NS
from layerpipe.sim.stream_bench import hex_lines
from layerpipe.sim.verilator import put_progress, put_results, sim_params


def _threshold(p):
    return min(int(round(p * 65536)), 65536)


def _read_hex(path, start, stop, depth):
    """Words ``start..stop-1`` (counting every word ever written) of a circular memory's dump."""
    lines = Path(path).read_text().split()
    return [int(lines[k % depth], 16) for k in range(start, stop)]


@cocotb.test()
async def train(dut):
    p = sim_params()
    stim = np.load(p["stimulus"])
    total, sd, rd = len(stim), p["stimulus_depth"], p["result_depth"]
    half = sd // 2
    # the clock runs inside the model (fast_harness.harness_verilog)
    for name in ("setup", "stim_load", "results_dump", "weights_dump", "ack"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    next_chunk = 0

    def load_next(halves=1):
        """Write the next ``halves`` half-memories of words into the stimulus memory
        (it reads the file at the next rising edge)."""
        nonlocal next_chunk
        words = stim[next_chunk * half:(next_chunk + halves) * half]
        base = (next_chunk % 2) * half
        Path(FILES["stimulus"]).write_text(f"@{base:x}\n" + hex_lines(words, p["sample_bits"]))
        next_chunk += halves
        dut.stim_load.value = 1

    load_next(2)
    await RisingEdge(dut.clk)
    dut.stim_load.value = 0
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    dut.setup.value = 1
    dut.gap_seed.value, dut.bp_seed.value = p["seed"] & 0xFFFFFFFF, (p["seed"] + 1) & 0xFFFFFFFF
    dut.gap_threshold.value, dut.bp_threshold.value = _threshold(p["gap"]), _threshold(p["backpressure"])
    dut.total_words.value = total
    await RisingEdge(dut.clk)
    dut.setup.value = 0
    started, cpu_started = time.perf_counter(), time.process_time()

    words, per_result = [], p["transfers_per_result"]
    progress_timer = p["progress_cycles"] * PERIOD_NS
    beats_at, beats_bits = p["beats_field"]
    seen, moved_at = None, 0      # (beats, results) at the last wake, and the cycle they last moved
    while True:
        if not dut.attention.value:
            await First(RisingEdge(dut.attention), Timer(progress_timer, unit="ns"))
        await FallingEdge(dut.clk)
        count, finished = int(dut.result_count.value), bool(dut.finished.value)
        now = (int(dut.status.value) >> beats_at & ((1 << beats_bits) - 1), count)
        if now != seen:
            seen, moved_at = now, int(dut.cycle.value)
        elif int(dut.cycle.value) - moved_at > p["stall_cycles"]:
            raise AssertionError(f"the design stalled: no beat started and no result left for "
                                 f"{p['stall_cycles']} cycles ({now[0]} beats, {count} result words)")
        if dut.stim_request.value:
            dut.ack.value = 1
            if next_chunk * half < total:
                load_next()
        dump = finished or count - len(words) >= rd // 4
        dut.results_dump.value = int(dump)
        dut.weights_dump.value = int(finished)
        await RisingEdge(dut.clk)
        for name in ("stim_load", "results_dump", "weights_dump", "ack"):
            getattr(dut, name).value = 0
        # a rising edge's callbacks run before the design evaluates it: the dumps
        # of this edge are on disk by the falling edge
        if dump:
            await FallingEdge(dut.clk)
            words += _read_hex(FILES["results"], len(words), count, rd)
        put_progress(count // per_result)
        if finished:
            break
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    weights = [int(w, 16) for w in Path(FILES["weights"]).read_text().split()]
    put_results(result_words=words, weights=weights, cycles=int(dut.idle_cycle.value),
                status=int(dut.status.value),
                gap_cycles=int(dut.gap_cycles.value), backpressure_cycles=int(dut.backpressure_cycles.value),
                run_seconds=seconds, run_cpu_seconds=cpu_seconds)
