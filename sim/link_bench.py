"""cocotb side of ``layerpipe sim --serve``: the link top's serial lines
behind a TCP socket.

cocotbext-uart's ``UartSource`` drives ``rx`` with the bytes a client sends,
its ``UartSink`` turns ``tx`` back into bytes for the client, at the bit
timing of the top's baud divisor (clock period 10 ns). The simulation runs
until the client disconnects.

Simulated time only advances while something happens on the chip or the
line: while the top is idle, or waits for the rest of a frame, the bench
blocks on the socket (up to ``stall_s`` of wall time mid-frame, so that a
frame a client really truncated still times out on the chip).

params: ``host``, ``port`` (0: any free port), ``divisor``.
The bench reports the port it listens on through ``put_progress``.
"""
import logging
import select
import socket

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Timer

from layerpipe.hw.link.protocol import TIMEOUT_BYTES
from layerpipe.sim.stream_bench import reset
from layerpipe.sim.verilator import put_progress, put_results, sim_params

PERIOD_NS = 10


@cocotb.test()
async def serve(dut):
    p = sim_params()
    divisor = p["divisor"]
    from cocotbext.uart import UartSink, UartSource
    for name in ("cocotb.rx", "cocotb.tx", f"cocotb.{dut._name}.rx", f"cocotb.{dut._name}.tx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    baud = 1e9 / (PERIOD_NS * divisor)
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rx.value = 1
    await reset(dut.rst, dut.clk)
    source, sink = UartSource(dut.rx, baud=baud), UartSink(dut.tx, baud=baud)
    for u in (source, sink):
        u.log.setLevel(logging.WARNING)

    server = socket.create_server((p["host"], p["port"]))
    put_progress(server.getsockname()[1])
    conn, _ = server.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)    # replies go out in small pieces
    conn.setblocking(False)
    byte_cycles = 10 * divisor
    cycles = bytes_in = bytes_out = 0
    stall_s = p.get("stall_s", 0.5)
    open_ = True
    while open_:
        # what the chip sent goes out at once
        if not sink.empty():
            out = bytes(sink.read_nowait())
            conn.setblocking(True)
            conn.sendall(out)
            conn.setblocking(False)
            bytes_out += len(out)
        quiet = source.idle() and sink.idle() and sink.empty()
        busy = int(dut.running.value) == 1
        waiting = int(dut.receiving.value) == 1
        wait_s = 0 if not quiet or busy else (stall_s if waiting else 0.05)
        ready, _, _ = select.select([conn], [], [], wait_s)
        step = byte_cycles if not quiet else 50 * byte_cycles
        if ready:
            data = conn.recv(65536)
            if not data:
                open_ = False
                break
            source.write_nowait(data)
            bytes_in += len(data)
            step = byte_cycles
        elif quiet and waiting:       # the client stopped mid-frame: let the chip's timeout run
            step = (TIMEOUT_BYTES + 1) * byte_cycles
        await Timer(step * PERIOD_NS, unit="ns")     # one wake-up, not one per clock edge
        cycles += step
    conn.close()
    server.close()
    put_results(cycles=cycles, bytes_in=bytes_in, bytes_out=bytes_out)
