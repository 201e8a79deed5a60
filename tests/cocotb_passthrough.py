"""cocotb side of tests/test_verilator_bench.py: feeds the ``AddOne`` stream
component through ``StreamDriver``/``StreamMonitor`` and reports what came out.

params (from ``verilator.test``): ``samples`` (payload dicts), ``in_fields`` /
``out_fields`` (``payload_fields`` of the layouts), ``gap``, ``backpressure``,
``seed``, ``stall_after`` (hold reset from then on: a design that stops).
results: ``received`` (payload dicts), ``sent``, ``cycles``.
"""
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge
from cocotb.utils import get_sim_time

from layerpipe.sim.stream_bench import StreamDriver, StreamMonitor, Watchdog, gap_run_limit, reset
from layerpipe.sim.verilator import put_results, sim_params

PERIOD_NS = 10


@cocotb.test()
async def passthrough(dut):
    p = sim_params()
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    await reset(dut.rst, dut.clk)
    start = get_sim_time("ns")
    driver = StreamDriver(dut, "i", dut.clk, layout=p["in_fields"], gap=p["gap"], seed=p["seed"])
    monitor = StreamMonitor(dut, "o", dut.clk, layout=p["out_fields"],
                            backpressure=p["backpressure"], seed=p["seed"] + 1)
    driver.send_all(p["samples"])
    n = len(p["samples"])
    if p.get("stall_after") is not None:
        cocotb.start_soon(hold_reset_after(dut, p["stall_after"]))
    # AddOne passes a payload on within a few cycles of taking it
    watchdog = Watchdog(dut.clk, limit=20, bench_limit=gap_run_limit(max(p["gap"], p["backpressure"])),
                        driver=driver, monitor=monitor)
    await monitor.wait_for(n, watchdog)
    cycles = round(get_sim_time("ns") - start) // PERIOD_NS
    await ClockCycles(dut.clk, 20)     # anything extra (a duplicate) would show up now
    put_results(received=monitor.received, sent=driver.sent, cycles=cycles)


@cocotb.test()
async def fails_on_purpose(dut):
    """Run only by the test that checks failures reach the caller."""
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    await ClockCycles(dut.clk, 2)
    assert int(dut.o__valid.value) == 1, "o__valid is low on purpose"


async def hold_reset_after(dut, count):
    """Once ``count`` payloads have gone in, hold AddOne in reset: nothing
    comes out any more, as from a hung design."""
    taken = 0
    while taken < count:
        await FallingEdge(dut.clk)
        taken += int(dut.i__valid.value) & int(dut.i__ready.value)
    dut.rst.value = 1
