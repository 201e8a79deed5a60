"""The fast bench's hardware: a test wrapper around a generated design that
runs a whole training run inside Verilator, with no Python per cycle.

:class:`FastHarness` (Amaranth) instantiates the design's Verilog module by
name and surrounds it with

- a **stimulus memory** of packed sample-stream payloads, streamed into
  ``samples`` in order; a seeded xorshift generator holds ``valid`` low in a
  cycle with probability ``gap / 65536`` before each transfer (and keeps a
  payload offered until it is taken, as the stream rules ask);
- a **result memory** that captures every transfer of ``results`` with the
  cycle it happened in; a second generator drops ``ready`` in a cycle with
  probability ``backpressure / 65536``;
- ``drain`` raised once the last sample word has been taken;
- a **weight read-back sweep**: once the pipeline is idle, every W_l[row, col]
  and bias (``col == n_{l-1}``) in layer, row, column order into a weight
  memory, one word a cycle;
- a cycle counter.

The three memories are small Verilog modules (:data:`MEMORIES_VERILOG`) that
read and write hex files with ``$readmemh`` / ``$writememh`` on a control
pulse: Amaranth's memories have no file access, and moving millions of words
through VPI one handle at a time would cost more than the simulation. The
stimulus and result memories are circular: the driver refills the half
of the stimulus memory that has just been consumed and empties the result
memory before it wraps, so a run of any length needs memories of a fixed
size (one Verilator model per design, whatever the number of samples).

Everything about the design comes from its manifest (``ports``: payload
layouts, ``widths``) and from the port declarations of its Verilog
(:func:`verilog_ports`), never from assumptions about one value per transfer.

Control ports (driven by ``fast_main.cpp``, through the registers of
:func:`harness_verilog`):

======================  ====  ==============================================
``setup``               in    while high: load the generator seeds, clear counters
``gap_seed``, ``bp_seed``  in  seeds of the two generators (32 bits, any value)
``gap_threshold``,      in    probabilities times 65536 (17 bits)
``bp_threshold``
``total_words``         in    sample transfers in the whole run (32 bits)
``stim_load``           in    pulse: ``$readmemh`` of the stimulus file
``results_dump``        in    pulse: ``$writememh`` of the result memory, words
``dump_first``,         in    ``dump_first`` to ``dump_last`` (only the unread ones: a
``dump_last``                 whole dump would cost more than the run on small nets)
``weights_dump``        in    pulse: ``$writememh`` of the weight memory
``ack``                 in    pulse: clear ``stim_request``
``stim_request``        out   a half of the stimulus memory has been consumed (sticky)
``result_count``        out   result transfers so far (32 bits)
``finished``            out   training drained, pipeline idle, weights read back
``attention``           out   ``stim_request | finished``: the one signal the bench awaits
``cycle``               out   cycles since ``setup`` fell (48 bits)
``idle_cycle``          out   the cycle the pipeline went idle after the last sample
``status``              out   the design's status word
``gap_cycles``          out   cycles a sample word waited, valid held low by the gap generator
``backpressure_cycles`` out   cycles a result word waited, ready held low
======================  ====  ==============================================
"""
import re

from amaranth.hdl import Array, ClockSignal, Const, Instance, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from layerpipe.hw.weight_readback import READBACK_LATENCY

STIMULUS_DEPTH = 1 << 18     # words; halves of 2^17 are refilled while the other streams
RESULT_DEPTH = 1 << 16       # result transfers held before the bench must take them
CYCLE_BITS = 48
FILES = {"stimulus": "stimulus.hex", "results": "results.hex", "weights": "weights.hex"}

MEMORIES_VERILOG = """\
// Written by layerpipe.sim.fast_harness: memories backed by hex files for the fast bench.
module layerpipe_file_rom #(parameter WIDTH = 8, parameter DEPTH = 16, parameter FILE = "rom.hex") (
  input clk, input load, input [$clog2(DEPTH)-1:0] addr, output [WIDTH-1:0] data);
  reg [WIDTH-1:0] mem [0:DEPTH-1];
  always @(posedge clk) if (load) $readmemh(FILE, mem);
  assign data = mem[addr];
endmodule

module layerpipe_file_sink #(parameter WIDTH = 8, parameter DEPTH = 16, parameter FILE = "sink.hex") (
  input clk, input we, input [$clog2(DEPTH)-1:0] addr, input [WIDTH-1:0] wdata, input dump,
  input [$clog2(DEPTH)-1:0] first, input [$clog2(DEPTH)-1:0] last);
  reg [WIDTH-1:0] mem [0:DEPTH-1];
  always @(posedge clk) begin
    if (we) mem[addr] <= wdata;
    if (dump) $writememh(FILE, mem, first, last);
  end
endmodule
"""


def verilog_ports(text, module):
    """``{port: (direction, width)}`` of ``module`` in Amaranth-written Verilog ``text``.

    Raises ``ValueError`` if the module is not in the text.
    """
    start = re.search(rf"^module {re.escape(module)}\s*\(", text, re.M)
    if start is None:
        raise ValueError(f"module {module} is not in the Verilog")
    end = text.index("\nendmodule", start.end())
    ports = {}
    for m in re.finditer(r"^\s*(input|output)\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s*)?\\?([\w$.]+)\s*;",
                         text[start.end():end], re.M):
        direction, hi, lo, name = m.groups()
        ports[name] = (direction, int(hi) - int(lo) + 1 if hi is not None else 1)
    return ports


def payload_width(fields):
    """Bits of a packed payload from the manifest's ``{field: [offset, width, signed]}``."""
    return max(offset + width for offset, width, _ in fields.values())


def _xorshift32(state):
    """Marsaglia's xorshift32 step (never reaches 0 from a non-zero state)."""
    s1 = state ^ (state << 13)[:32]
    s2 = s1 ^ (s1 >> 17)
    return s2 ^ (s2 << 5)[:32]


class FastHarness(wiring.Component):
    """The test wrapper of the module above, for the design whose manifest is ``manifest``
    and whose Verilog ports are ``ports`` (:func:`verilog_ports`)."""

    def __init__(self, manifest, ports, stimulus_depth=STIMULUS_DEPTH, result_depth=RESULT_DEPTH):
        self.manifest, self.design_ports = manifest, ports
        self.stimulus_depth, self.result_depth = stimulus_depth, result_depth
        self.sample_bits = payload_width(manifest["ports"]["samples"])
        self.result_bits = payload_width(manifest["ports"]["results"])
        self.status_bits = ports["status"][1]
        widths = manifest["widths"]
        self.weight_words = sum(n_out * (n_in + 1) for n_in, n_out in zip(widths[:-1], widths[1:]))
        for name, want in (("samples__payload", self.sample_bits), ("results__payload", self.result_bits)):
            if ports[name][1] != want:
                raise ValueError(f"{name} is {ports[name][1]} bits in the Verilog, {want} in the manifest")
        super().__init__({
            "setup": In(1), "gap_seed": In(32), "bp_seed": In(32),
            "gap_threshold": In(17), "bp_threshold": In(17), "total_words": In(32),
            "stim_load": In(1), "results_dump": In(1), "weights_dump": In(1), "ack": In(1),
            "dump_first": In(result_depth.bit_length() - 1), "dump_last": In(result_depth.bit_length() - 1),
            "stim_request": Out(1), "result_count": Out(32), "finished": Out(1), "attention": Out(1),
            "cycle": Out(CYCLE_BITS), "idle_cycle": Out(CYCLE_BITS), "status": Out(self.status_bits),
            "gap_cycles": Out(32), "backpressure_cycles": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        man, ports = self.manifest, self.design_ports
        widths = man["widths"]
        L = len(widths) - 1
        dut = {name: Signal(width, name=f"dut_{name}") for name, (_, width) in ports.items()
               if name not in ("clk", "rst")}
        m.submodules.dut = Instance(
            man["name"], i_clk=ClockSignal(), i_rst=ResetSignal(),
            **{("i_" if ports[name][0] == "input" else "o_") + name: sig for name, sig in dut.items()})
        m.d.comb += self.status.eq(dut["status"])

        # -- seeded generators for gaps and backpressure
        gap_rng, bp_rng = Signal(32), Signal(32)
        with m.If(self.setup):
            m.d.sync += [gap_rng.eq(self.gap_seed ^ 0x9E3779B9), bp_rng.eq(self.bp_seed ^ 0x7F4A7C15)]
            with m.If((self.gap_seed ^ 0x9E3779B9) == 0):
                m.d.sync += gap_rng.eq(1)
            with m.If((self.bp_seed ^ 0x7F4A7C15) == 0):
                m.d.sync += bp_rng.eq(1)
        with m.Else():
            m.d.sync += [gap_rng.eq(_xorshift32(gap_rng)), bp_rng.eq(_xorshift32(bp_rng))]

        cycle, running = Signal(CYCLE_BITS), Signal()
        with m.If(self.setup):
            m.d.sync += [cycle.eq(0), running.eq(1)]
        with m.Elif(running):
            m.d.sync += cycle.eq(cycle + 1)
        m.d.comb += self.cycle.eq(cycle)

        # -- stimulus: circular memory, one payload per transfer, gaps before each
        sd = self.stimulus_depth
        sent = Signal(32)
        stim_data = Signal(self.sample_bits)
        m.submodules.stimulus = Instance(
            "layerpipe_file_rom", p_WIDTH=self.sample_bits, p_DEPTH=sd, p_FILE=FILES["stimulus"],
            i_clk=ClockSignal(), i_load=self.stim_load, i_addr=sent[:sd.bit_length() - 1], o_data=stim_data)
        have = Signal()
        offered = Signal()          # valid was high and not taken: it must stay high
        m.d.comb += have.eq(running & ~self.setup & (sent < self.total_words))
        valid = Signal()
        m.d.comb += valid.eq(have & (offered | (gap_rng[:16] >= self.gap_threshold)))
        m.d.comb += [dut["samples__valid"].eq(valid), dut["samples__payload"].eq(stim_data)]
        take = valid & dut["samples__ready"]
        m.d.sync += offered.eq(valid & ~dut["samples__ready"])
        all_sent = Signal()
        m.d.comb += all_sent.eq(running & ~self.setup & (sent == self.total_words))
        m.d.comb += dut["drain"].eq(all_sent)
        half = sd // 2
        with m.If(self.setup):
            m.d.sync += [sent.eq(0), self.stim_request.eq(0)]
        with m.Else():
            with m.If(self.ack):
                m.d.sync += self.stim_request.eq(0)
            with m.If(take):
                m.d.sync += sent.eq(sent + 1)
                # the last word of a half has gone: that half may be refilled
                with m.If(sent[:half.bit_length() - 1] == half - 1):
                    m.d.sync += self.stim_request.eq(1)

        # -- results: every transfer with its cycle, into a circular memory
        rd = self.result_depth
        bp_ready = Signal()
        m.d.comb += bp_ready.eq(running & ~self.setup & (bp_rng[:16] >= self.bp_threshold))
        m.d.comb += dut["results__ready"].eq(bp_ready)
        got = Signal(32)
        got_now = dut["results__valid"] & bp_ready
        m.submodules.results = Instance(
            "layerpipe_file_sink", p_WIDTH=CYCLE_BITS + self.result_bits, p_DEPTH=rd, p_FILE=FILES["results"],
            i_clk=ClockSignal(), i_we=got_now, i_addr=got[:rd.bit_length() - 1],
            i_wdata=(cycle << self.result_bits) | dut["results__payload"], i_dump=self.results_dump,
            i_first=self.dump_first, i_last=self.dump_last)
        with m.If(self.setup):
            m.d.sync += [got.eq(0), self.gap_cycles.eq(0), self.backpressure_cycles.eq(0)]
        with m.Else():
            with m.If(got_now):
                m.d.sync += got.eq(got + 1)
            with m.If(have & ~valid):
                m.d.sync += self.gap_cycles.eq(self.gap_cycles + 1)
            with m.If(dut["results__valid"] & ~bp_ready):
                m.d.sync += self.backpressure_cycles.eq(self.backpressure_cycles + 1)
        m.d.comb += self.result_count.eq(got)

        # -- when the last sample has drained: read back every weight and bias
        idle_bit = man["ports"]["status"]["idle"][0]
        trained = Signal()
        m.d.comb += trained.eq(all_sent & dut["status"][idle_bit] & ~dut["results__valid"])
        layer = Signal(range(max(L, 2)))
        row = Signal(max(widths[1:]).bit_length() + 1)
        col = Signal(max(widths[:-1]).bit_length() + 1)
        n_out = Array(Const(n) for n in widths[1:])
        n_in = Array(Const(n) for n in widths[:-1])
        sweeping, swept = Signal(), Signal()
        valid_pipe = Signal(READBACK_LATENCY)
        widx = Signal(range(self.weight_words + 1))
        aw = max(self.weight_words - 1, 1).bit_length()     # $clog2(DEPTH) of the weight memory
        m.submodules.weights = Instance(
            "layerpipe_file_sink", p_WIDTH=ports["readback_data"][1], p_DEPTH=self.weight_words,
            p_FILE=FILES["weights"], i_clk=ClockSignal(), i_we=valid_pipe[-1],
            i_addr=widx[:aw],
            i_wdata=dut["readback_data"], i_dump=self.weights_dump,
            i_first=Const(0, aw), i_last=Const(self.weight_words - 1, aw))
        m.d.comb += [dut["readback_layer"].eq(layer), dut["readback_row"].eq(row), dut["readback_col"].eq(col)]
        m.d.sync += valid_pipe.eq((valid_pipe << 1) | sweeping)
        with m.If(valid_pipe[-1]):
            m.d.sync += widx.eq(widx + 1)
        with m.If(self.setup):
            m.d.sync += [sweeping.eq(0), swept.eq(0), layer.eq(0), row.eq(0), col.eq(0), widx.eq(0),
                         valid_pipe.eq(0), self.idle_cycle.eq(0)]
        with m.Elif(trained & ~sweeping & ~swept):
            m.d.sync += [sweeping.eq(1), self.idle_cycle.eq(cycle)]
        with m.Elif(sweeping):
            with m.If(col == n_in[layer]):
                m.d.sync += col.eq(0)
                with m.If(row == n_out[layer] - 1):
                    m.d.sync += row.eq(0)
                    with m.If(layer == L - 1):
                        m.d.sync += [sweeping.eq(0), swept.eq(1)]
                    with m.Else():
                        m.d.sync += layer.eq(layer + 1)
                with m.Else():
                    m.d.sync += row.eq(row + 1)
            with m.Else():
                m.d.sync += col.eq(col + 1)
        m.d.comb += self.finished.eq(swept & ~valid_pipe.any())
        m.d.comb += self.attention.eq(self.stim_request | self.finished)
        return m


def harness_verilog(manifest, design_verilog, name="layerpipe_fast_bench"):
    """The Verilog of the bench's top module ``name``, to be compiled together
    with ``design_verilog`` and driven by ``fast_main.cpp``.

    The top holds the :class:`FastHarness` (module ``<name>_harness``) and a
    register on each of its inputs but ``clk``: no logic then depends on a
    top-level input directly, so Verilator's input-combinational phase, which
    it runs at every ``eval()`` whether an input changed or not, is empty
    (on 64-32-10 it took a quarter of the time, the design's logic that hangs
    off ``samples.valid``). A pulse set on an input reaches the harness one
    cycle later.
    """
    from amaranth.back import verilog
    ports = verilog_ports(design_verilog, manifest["name"])
    inner = f"{name}_harness"
    text = verilog.convert(FastHarness(manifest, ports), name=inner, emit_src=False)
    outer = [(d, w, p) for p, (d, w) in verilog_ports(text, inner).items() if p != "clk"]
    decl = "".join(f"  {d} {f'[{w - 1}:0] ' if w > 1 else ''}{p};\n" for d, w, p in outer)
    held = "".join(f"  reg {f'[{w - 1}:0] ' if w > 1 else ''}{p}_q = 0;\n  always @(posedge clk) {p}_q <= {p};\n"
                   for d, w, p in outer if d == "input")
    conns = ", ".join([".clk(clk)"] + [f".{p}({p}_q)" if d == "input" else f".{p}({p})" for d, _, p in outer])
    top = (f"module {name}(clk, {', '.join(p for _, _, p in outer)});\n  input clk;\n{decl}{held}"
           f"  {inner} harness({conns});\nendmodule\n")
    return text + "\n" + MEMORIES_VERILOG + "\n" + top
