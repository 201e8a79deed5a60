"""cocotb on Icarus Verilog, the second simulator (``layerpipe sim --simulator icarus``).

Icarus is Debian's ``iverilog`` (``apt install iverilog``), not a PyPI
package, so it is optional: :func:`require` refuses in one line when it is
absent, before any tool runs. Builds and runs go through the same
:func:`~.build_cache.build` and :func:`~.cocotb_run.test` as Verilator's, with
``simulator="icarus"``; this module holds what differs:

- cocotb's Icarus runner compiles with ``-g2012`` (SystemVerilog), where Icarus
  does not evaluate Amaranth's ``always @*`` blocks at time 0, so
  combinational outputs stay X until an input changes; the generated Verilog
  is Verilog-2005 and is compiled with ``-g2005`` (:func:`runner`).
- The runner's waveform module is SystemVerilog too, so a Verilog-2005 one
  (:func:`dump_module`) writes VCD or FST to the file named by the plusarg
  ``+layerpipe_dumpfile=PATH`` (:func:`dump_plusargs`).
- Without a ``timescale`` Icarus counts in seconds; builds use 1 ns / 1 ps
  (:data:`TIMESCALE`), which the benches' 10 ns clock needs.
"""
import shutil
import subprocess
from pathlib import Path

from layerpipe.hw.errors import LayerPipeError

from .wheel import SimulationError

TIMESCALE = ("1ns", "1ps")
DUMP_TOP = "layerpipe_dump"
DUMPFILE_PLUSARG = "layerpipe_dumpfile"


def require():
    """The path of ``iverilog``; one line naming what to install when it or ``vvp`` is absent."""
    path = shutil.which("iverilog")
    if path is None or shutil.which("vvp") is None:
        raise LayerPipeError("simulator: icarus needs Icarus Verilog's iverilog and vvp on PATH "
                             "(Debian/Ubuntu: apt install iverilog)")
    return path


def version():
    """``iverilog -V``'s first line, e.g. ``Icarus Verilog version 11.0 (stable) ()``."""
    out = subprocess.run([require(), "-V"], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else "unknown"


def dump_module(toplevel):
    """A Verilog-2005 top that dumps every signal of ``toplevel`` when the run
    is given ``+layerpipe_dumpfile=PATH`` (the format is vvp's ``-vcd``/``-fst``)."""
    return f"""// Written by layerpipe.sim.verilator.icarus: the waveform of {toplevel}, in Verilog-2005.
module {DUMP_TOP};
    reg [8*4096-1:0] path;
    initial begin
        if ($value$plusargs("{DUMPFILE_PLUSARG}=%s", path)) begin
            $dumpfile(path);
            $dumpvars(0, {toplevel});
        end
    end
endmodule
"""


def dump_plusargs(path):
    """The plusargs that make a model built with waves write its waveform to ``path`` (none for ``None``)."""
    return [] if path is None else [f"+{DUMPFILE_PLUSARG}={Path(path).resolve()}"]


def runner(wave_format=None):
    """cocotb's Icarus runner compiling Verilog-2005; ``wave_format`` (``"vcd"``,
    ``"fst"`` or ``None``) is the dump format of its ``test``."""
    from cocotb_tools.runner import Icarus

    class Icarus2005(Icarus):
        def _build_command(self):
            return [["-g2005" if arg == "-g2012" else arg for arg in cmd] for cmd in super()._build_command()]

        def _test_command(self):
            # the runner ends the command with -none (no dump) unless waves=True, which means
            # its own SystemVerilog dump module; ours needs the format flag instead
            cmds = super()._test_command()
            if wave_format is None:
                return cmds
            return [[f"-{wave_format}" if arg == "-none" else arg for arg in cmd] for cmd in cmds]

    return Icarus2005()


def compile(source, toplevel, out, waves, build_args, log_file):
    """Compile ``source`` (top ``toplevel``) into ``out/sim.vvp``; with ``waves``
    the dump module goes in too. Raises :class:`SimulationError` with the log's tail."""
    require()
    sources = [source]
    args = list(build_args)
    if waves:
        dump = out / f"{DUMP_TOP}.v"
        dump.write_text(dump_module(toplevel))
        sources.append(dump)
        args += ["-s", DUMP_TOP]
    try:
        runner().build(sources=sources, hdl_toplevel=toplevel, build_dir=out, build_args=args,
                       timescale=TIMESCALE, always=True, log_file=log_file)
    except (RuntimeError, SystemExit) as e:
        log = Path(log_file)
        tail = log.read_text()[-3000:] if log.is_file() else ""
        raise SimulationError(f"Icarus build of {toplevel} failed ({e}); log {log}:\n{tail}") from None
