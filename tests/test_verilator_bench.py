"""The cocotb/Verilator harness (sim/verilator.py, sim/stream_bench.py) on a
small stream component: every payload comes out once, in order, transformed,
under random gaps and backpressure; a failing cocotb test reaches the caller;
the build cache skips a second build."""
import random
import re
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.sim import verilator
from layerpipe.sim.stream_bench import first_mismatch, payload_fields

BUILD_DIR = Path(__file__).resolve().parents[1] / "build" / "verilator"
BENCH = Path(__file__).with_name("cocotb_passthrough.py")
WIDTH = 12


def sample_layout(width):
    return data.StructLayout({"value": signed(width), "last": 1})


class AddOne(wiring.Component):
    """``o.value = i.value + 1`` (one bit wider, so exact), ``last`` passed
    through, via a 4-deep SyncFIFOBuffered. Latency: 2 cycles at least."""

    def __init__(self, width):
        self.width = width
        super().__init__({"i": In(stream.Signature(sample_layout(width))),
                          "o": Out(stream.Signature(sample_layout(width + 1)))})

    def elaborate(self, platform):
        m = Module()
        out = sample_layout(self.width + 1)
        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=out.size, depth=4)
        w_data = data.View(out, q.w_data)
        m.d.comb += [
            w_data.value.eq(self.i.payload.value + 1),
            w_data.last.eq(self.i.payload.last),
            q.w_en.eq(self.i.valid),
            self.i.ready.eq(q.w_rdy),
            self.o.payload.eq(q.r_data),
            self.o.valid.eq(q.r_rdy),
            q.r_en.eq(self.o.ready),
        ]
        return m


@pytest.fixture(scope="module")
def verilog_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("add_one") / "add_one.v"
    path.write_text(verilog.convert(AddOne(WIDTH), name="add_one"))
    return path


@pytest.fixture(scope="module")
def model(verilog_file):
    return verilator.build(verilog_file, "add_one", BUILD_DIR)


def test_stream_ports_are_packed_vectors(verilog_file):
    # Amaranth 0.5: <port>__valid/__ready/__payload, the struct packed, first field low.
    top = re.search(r"^module add_one\(.*?^endmodule", verilog_file.read_text(), re.M | re.S)[0]
    ports = set(re.findall(r"^\s*((?:input|output)(?: \[\d+:0\])? \w+);", top, re.M))
    assert ports == {"input clk", "input rst", f"input [{WIDTH}:0] i__payload", "input i__valid",
                     "output i__ready", f"output [{WIDTH + 1}:0] o__payload", "output o__valid",
                     "input o__ready"}
    assert payload_fields(sample_layout(WIDTH)) == {"value": (0, WIDTH, True),
                                                    "last": (WIDTH, 1, False)}


@pytest.mark.parametrize("gap, backpressure", [(0.0, 0.0), (0.5, 0.5), (0.1, 0.8)])
def test_every_sample_comes_out_once_in_order_plus_one(model, gap, backpressure):
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = random.Random(seed)
    lo, hi = -(1 << (WIDTH - 1)), (1 << (WIDTH - 1)) - 1
    values = [lo, hi, -1, 0] + [rng.randint(lo, hi) for _ in range(300)]
    samples = [{"value": v, "last": int(i % 7 == 6)} for i, v in enumerate(values)]
    res = verilator.test(model, BENCH, testcase="passthrough", seed=seed, params={
        "samples": samples, "gap": gap, "backpressure": backpressure, "seed": seed,
        "in_fields": payload_fields(sample_layout(WIDTH)),
        "out_fields": payload_fields(sample_layout(WIDTH + 1)),
    })
    expected = [{"value": s["value"] + 1, "last": s["last"]} for s in samples]
    assert res["sent"] == len(samples)
    assert first_mismatch(expected, res["received"]) is None, \
        f"seed={seed}: {first_mismatch(expected, res['received'])}"
    if gap == backpressure == 0.0:
        assert res["cycles"] <= len(samples) + 4     # full rate: one sample per cycle


def test_failing_cocotb_test_raises_with_its_message(model, tmp_path):
    with pytest.raises(verilator.SimulationError, match="fails_on_purpose: o__valid is low on purpose"):
        verilator.test(model, BENCH, testcase="fails_on_purpose", test_dir=tmp_path)


def test_second_build_of_the_same_design_is_skipped(model, verilog_file):
    again = verilator.build(verilog_file, "add_one", BUILD_DIR)
    assert again.cached and again.path == model.path
    assert again.seconds < 0.5, again.seconds     # a compile takes seconds
    by_key = verilator.build(verilog_file, "add_one", BUILD_DIR, key=model.key)
    assert by_key.cached and by_key.path == model.path and by_key.seconds < 0.5
