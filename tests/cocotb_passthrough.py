"""cocotb side of tests/test_verilator_bench.py: feeds the ``AddOne`` stream
component through ``StreamDriver``/``StreamMonitor`` and reports what came out.

params (from ``verilator.test``): ``samples`` (payload dicts), ``in_fields`` /
``out_fields`` (``payload_fields`` of the layouts), ``gap``, ``backpressure``,
``seed``. results: ``received`` (payload dicts), ``sent``, ``cycles``.
"""
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles
from cocotb.utils import get_sim_time

from layerpipe.sim.stream_bench import StreamDriver, StreamMonitor, reset
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
    await monitor.wait_for(n, timeout_cycles=20 * n + 100)
    cycles = round(get_sim_time("ns") - start) // PERIOD_NS
    await ClockCycles(dut.clk, 20)     # anything extra (a duplicate) would show up now
    put_results(received=monitor.received, sent=driver.sent, cycles=cycles)


@cocotb.test()
async def fails_on_purpose(dut):
    """Run only by the test that checks failures reach the caller."""
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    await ClockCycles(dut.clk, 2)
    assert int(dut.o__valid.value) == 1, "o__valid is low on purpose"
