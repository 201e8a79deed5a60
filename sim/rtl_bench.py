"""cocotb side of ``layerpipe sim``: streams the samples into the generated
pipeline (optionally with seeded gaps), takes the results (optionally with
seeded backpressure), drains, and reads back every weight and bias.

params: ``samples`` ([features, label] pairs, integers in the act format),
``widths``, ``ports`` (the manifest's payload fields), ``sample_values`` and
``result_values`` (values per transfer), ``gap``,
``backpressure``, ``seed``, ``cycles_per_sample``. results: ``results`` (per
sample: outputs and label), ``done_cycles`` (cycle at which each sample's last
result word left), ``cycles``, ``weights`` (per layer, rows of W with the bias
last), ``status``.

``drain`` rises in the cycle after the last input word is taken, whatever the
number of samples (fewer than the pipeline's depth too). A :class:`Watchdog`
gives up when nothing moves: after ``4 * cycles_per_sample + 200`` of the
design's own cycles, or when the bench's gaps and backpressure held it up
longer than random gaps explain (:func:`gap_run_limit`), and says which.
"""
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from layerpipe.hw.plan import words_of
from layerpipe.hw.weight_readback import READBACK_LATENCY
from layerpipe.sim.stream_bench import (StreamDriver, StreamMonitor, Watchdog, gap_run_limit, read_signed, reset,
                                        unpack)
from layerpipe.sim.verilator import put_progress, put_results, sim_params

PERIOD_NS = 10


def now_cycles():
    return round(get_sim_time("ns")) // PERIOD_NS


def sample_transfers(xs, label, values):
    """The sample stream's payloads for one sample: ``values`` inputs per transfer
    (the last one padded with 0), the label on each, ``last`` on the final one."""
    count = words_of(len(xs), values)
    return [{**{f"x[{q}]": xs[k * values + q] if k * values + q < len(xs) else 0 for q in range(values)},
             "label": label, "last": int(k == count - 1)} for k in range(count)]


def result_of(words, n_out, values):
    """[outputs, label] of one result from its transfers (payload dicts), ``values``
    outputs each; a transfer's label or ``last`` out of place, or padding that
    is not 0, shows up as a wrong output (None) so the comparison fails."""
    outputs = [w[f"a[{q}]"] for w in words for q in range(values)]
    frame_ok = all(w["last"] == (k == len(words) - 1) and w["label"] == words[0]["label"]
                   for k, w in enumerate(words)) and not any(outputs[n_out:])
    return [outputs[:n_out] if frame_ok else [None] * n_out, words[0]["label"]]


@cocotb.test()
async def train(dut):
    p = sim_params()
    widths, ports = p["widths"], p["ports"]
    n, n_out = len(p["samples"]), widths[-1]
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    # every input defined from the start: no X enters the design (Icarus models X; Verilator does not)
    dut.drain.value = 0
    dut.readback_layer.value = dut.readback_row.value = dut.readback_col.value = 0
    await reset(dut.rst, dut.clk, cycles=4)   # memories do not reset: 4 cycles let their read data settle
    start = now_cycles()
    driver = StreamDriver(dut, "samples", dut.clk, layout=ports["samples"], gap=p["gap"], seed=p["seed"])
    monitor = StreamMonitor(dut, "results", dut.clk, layout=ports["results"],
                            backpressure=p["backpressure"], seed=p["seed"] + 1)
    V, R = p["sample_values"], p["result_values"]
    transfers = [sample_transfers(xs, label, V) for xs, label in p["samples"]]
    driver.send_all(t for ts in transfers for t in ts)
    per_result = words_of(n_out, R)
    status = {}

    def beats():
        nonlocal status
        status = unpack(ports["status"], dut.status.value.to_unsigned())
        return status["beats"]

    watchdog = Watchdog(dut.clk, limit=4 * p["cycles_per_sample"] + 200,
                        bench_limit=gap_run_limit(max(p["gap"], p["backpressure"])),
                        driver=driver, monitor=monitor, progress=beats,
                        holding=lambda: None if dut.drain.value else "kept drain low with no input left")
    done_cycles = []
    every = max(1, n // 200)
    while len(done_cycles) < n:
        await watchdog.cycle()
        if not driver.pending:
            dut.drain.value = 1      # the pipeline runs empty beats until the last sample is out
        while len(done_cycles) < min(n, len(monitor.received) // per_result):
            done_cycles.append(now_cycles() - start)
            k = len(done_cycles)
            if k % every == 0 or k == n:
                put_progress(k)
    dut.drain.value = 1
    while not status["idle"]:
        await watchdog.cycle()
    cycles = now_cycles() - start
    await ClockCycles(dut.clk, 4)
    extra = len(monitor.received) - n * per_result    # a duplicate would show up here
    weights = []
    for l in range(len(widths) - 1):
        rows = []
        for r in range(widths[l + 1]):
            row = []
            for c in range(widths[l] + 1):
                await RisingEdge(dut.clk)
                dut.readback_layer.value, dut.readback_row.value, dut.readback_col.value = l, r, c
                await ClockCycles(dut.clk, READBACK_LATENCY + 1)
                await FallingEdge(dut.clk)
                row.append(read_signed(dut.readback_data))
            rows.append(row)
        weights.append(rows)
    words = monitor.received
    results = [result_of(words[k * per_result:(k + 1) * per_result], n_out, R)
               for k in range(min(n, len(words) // per_result))]
    put_results(results=results, done_cycles=done_cycles, cycles=cycles, weights=weights, status=status,
                extra_words=extra)
