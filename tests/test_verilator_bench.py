"""The cocotb/Verilator harness (sim/verilator/, sim/stream_bench.py) on a
small stream component: every payload comes out once, in order, transformed,
under random gaps and backpressure; a failing cocotb test reaches the caller;
the build cache skips a second build; a waveform (FST or VCD) lands at the
path asked for and holds the top-level ports."""
import ctypes
import random
import re
import struct
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.scripts import cli
from layerpipe.hw.errors import LayerPipeError
from layerpipe.sim import rtl_sim, verilator
from layerpipe.hw.payload import payload_fields
from layerpipe.sim.bit_exact import first_difference

BUILD_DIR = Path(__file__).resolve().parents[1] / "build" / "verilator"
BENCH = Path(__file__).with_name("cocotb_passthrough.py")
WIDTH = 12
TOP_PORTS = {"clk", "rst", "i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready"}


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
    first = first_difference(expected, res["received"])
    assert first is None, f"seed={seed}: {first}"
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


def test_a_model_built_for_this_cpu_is_never_reused_on_another_cpu(monkeypatch):
    from layerpipe.sim.verilator import build_cache
    resolved = build_cache.native_target()     # what the compiler makes of -march=native here
    assert re.search(r"-march=(?!native)\w", resolved), resolved
    text, native, portable = "module m(); endmodule", ["OPT_FAST=-O2 -march=native"], ["OPT_FAST=-O2"]
    keys = {}
    for cpu in ("-march=znver3 -mavx512f", "-march=skylake -mno-avx512f"):
        monkeypatch.setattr(build_cache, "native_target", lambda cpu=cpu: cpu)
        keys[cpu] = (build_cache.config_key(text, "m", build_args=native),
                     build_cache.config_key(text, "m", build_args=portable))
    (here_native, here_portable), (there_native, there_portable) = keys.values()
    assert here_native != there_native          # another CPU: another cache directory
    assert here_portable == there_portable      # a portable build is shared


def passthrough_params(samples, gap=0.0, backpressure=0.0, seed=0):
    return {"samples": samples, "gap": gap, "backpressure": backpressure, "seed": seed,
            "in_fields": payload_fields(sample_layout(WIDTH)),
            "out_fields": payload_fields(sample_layout(WIDTH + 1))}


def vcd_var_names(path):
    return set(re.findall(rb"\$var \S+ \d+ \S+ (\S+)", path.read_bytes()))


def fst_var_names(path):
    """Variable names in an FST file's hierarchy block (LZ4, the one kind
    Verilator's writer emits), decompressed with the runtime liblz4 the
    build linked."""
    raw = path.read_bytes()
    assert raw[0] == 0, "an FST file starts with its header block"
    at, hier = 0, None
    while at < len(raw):
        kind, length = raw[at], struct.unpack(">Q", raw[at + 1:at + 9])[0]
        if kind == 6:     # FST_BL_HIER_LZ4: u64 uncompressed size, LZ4 block
            size = struct.unpack(">Q", raw[at + 9:at + 17])[0]
            packed = raw[at + 17:at + 1 + length]
            out = ctypes.create_string_buffer(size)
            lz4 = ctypes.CDLL("liblz4.so.1")
            assert lz4.LZ4_decompress_safe(packed, out, len(packed), size) == size
            hier = out.raw
        at += 1 + length
    assert hier is not None, f"{path} has no LZ4 hierarchy block"

    def cstr(i):
        end = hier.index(b"\0", i)
        return hier[i:end], end + 1

    def leb(i):
        while hier[i] & 0x80:
            i += 1
        return i + 1

    names, i = set(), 0
    while i < len(hier):
        tag = hier[i]
        if tag == 254:            # scope: type, name, component
            _, i = cstr(i + 2)
            _, i = cstr(i)
        elif tag in (253, 255):   # attribute end, upscope
            i += 1
        elif tag == 252:          # attribute: type, subtype, name, value
            _, i = cstr(i + 3)
            i = leb(i)
        else:                     # variable: type, direction, name, width, alias
            name, i = cstr(i + 2)
            names.add(name.split(b" [")[0])     # Verilator names vectors "o__payload [12:0]"
            i = leb(leb(i))
    return names


@pytest.mark.parametrize("fmt", verilator.WAVE_FORMATS)
def test_waveform_lands_at_the_given_path_with_the_top_level_ports(verilog_file, tmp_path, fmt):
    model = verilator.build(verilog_file, "add_one", BUILD_DIR, waves=fmt)
    assert model.waves == fmt
    wave_file = tmp_path / f"add_one.{fmt}"
    samples = [{"value": v, "last": int(v % 4 == 3)} for v in range(16)]
    res = verilator.test(model, BENCH, testcase="passthrough", params=passthrough_params(samples),
                         wave_file=wave_file)
    assert res["sent"] == len(samples)
    names = {n.decode() for n in (fst_var_names if fmt == "fst" else vcd_var_names)(wave_file)}
    assert TOP_PORTS <= names, f"missing from {wave_file}: {TOP_PORTS - names}"
    other = "vcd" if fmt == "fst" else "fst"
    with pytest.raises(verilator.SimulationError, match=rf"must end in \.{fmt}"):
        verilator.test(model, BENCH, testcase="passthrough", wave_file=tmp_path / f"x.{other}")


def sim_error(wave_file, monkeypatch, capsys):
    """``layerpipe sim ... --waves wave_file``'s stderr, checking it exits 2 before any tool runs."""
    def no_tools(*args, **kwargs):
        raise AssertionError("a tool ran")
    monkeypatch.setattr(verilator, "build", no_tools)
    monkeypatch.setattr(rtl_sim.generator, "generate", no_tools)
    assert cli.main(["sim", "--net", "4-8-3", "--dataset", "iris", "--samples", "5",
                     "--waves", str(wave_file)]) == 2
    assert not wave_file.exists()
    return capsys.readouterr().err


@pytest.mark.parametrize("name", ["run.gtkw", "run", "run.fst.txt"])
def test_sim_refuses_a_wave_file_of_unknown_format_before_any_tool_runs(tmp_path, monkeypatch, capsys, name):
    wave_file = tmp_path / name
    assert sim_error(wave_file, monkeypatch, capsys) == \
        f"layerpipe: error: waves: {str(wave_file)!r} must end in .fst or .vcd (the extension picks the format)\n"
    with pytest.raises(LayerPipeError, match="does not exist"):
        rtl_sim.wave_format(tmp_path / "no-such-folder" / "run.vcd")


def test_sim_without_lz4_refuses_fst_in_one_line_before_any_tool_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(verilator.fst, "_lz4_from", lambda shim: None)     # where FST finds lz4
    assert sim_error(tmp_path / "run.fst", monkeypatch, capsys) == \
        "layerpipe: error: waves: FST needs lz4 and zlib, which the C++ compiler does not find " \
        "(apt install liblz4-dev zlib1g-dev), or write VCD\n"
    assert rtl_sim.wave_format(tmp_path / "run.vcd") == "vcd"


@pytest.mark.parametrize("gap, backpressure", [(0.95, 0.0), (0.0, 0.95), (0.9, 0.9)])
def test_heavy_gaps_and_backpressure_do_not_trip_the_watchdog(model, gap, backpressure):
    """A bench that holds the design up most of the time is slow, not stalled:
    its timeout counts only the design's own cycles."""
    samples = [{"value": v, "last": int(v % 5 == 4)} for v in range(-20, 20)]
    res = verilator.test(model, BENCH, testcase="passthrough",
                         params=passthrough_params(samples, gap, backpressure, seed=7))
    assert [r["value"] for r in res["received"]] == [s["value"] + 1 for s in samples]


def test_a_design_that_stops_is_named_as_the_design(model):
    samples = [{"value": v, "last": 0} for v in range(30)]
    with pytest.raises(verilator.SimulationError, match="the design stalled: nothing moved for 21 cycles"):
        verilator.test(model, BENCH, testcase="passthrough",
                       params={**passthrough_params(samples), "stall_after": 10})


def test_a_bench_that_stops_taking_results_is_named_as_the_bench(model):
    samples = [{"value": v, "last": 0} for v in range(30)]
    with pytest.raises(verilator.SimulationError, match=r"the bench stalled: .*held back a result \(backpressure\)"):
        verilator.test(model, BENCH, testcase="passthrough", params=passthrough_params(samples, 0.0, 1.0))


def test_sim_on_icarus_without_iverilog_is_one_line_before_any_tool_runs(monkeypatch, capsys):
    import shutil
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name in ("iverilog", "vvp") else
                        real_which(name, *a, **k))

    def no_tools(*args, **kwargs):
        raise AssertionError("a tool ran")
    monkeypatch.setattr(verilator, "build", no_tools)
    monkeypatch.setattr(rtl_sim.generator, "generate", no_tools)
    assert cli.main(["sim", "--net", "4-8-3", "--dataset", "iris", "--samples", "5", "--simulator", "icarus"]) == 2
    assert capsys.readouterr().err == ("layerpipe: error: simulator: icarus needs Icarus Verilog's iverilog and vvp "
                                       "on PATH (Debian/Ubuntu: apt install iverilog)\n")
