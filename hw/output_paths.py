"""The one check of every path a command will write (``--save-weights``,
``--plot``, ``--gantt``, ``--waves``, ``--out``), made before any training,
generation or simulation starts, so a long run never ends in a failed write.

Writability is tried, not inferred from permission bits (which ``root`` and
read-only file systems make meaningless): a file is opened for appending
(nothing is truncated), a folder gets a temporary file that is removed again.
"""
import tempfile
from pathlib import Path

from .errors import LayerPipeError


def _try_write_in(folder):
    """``None`` if a file can be created in ``folder``, else the reason."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".layerpipe-write-test-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def check_output(path, field, *, folder=False, suffixes=()):
    """Refuse ``path`` as an output of the option ``field`` unless it can be written.

    A file (``folder=False``) must end in one of ``suffixes`` (if given), must
    not be a folder, and must lie in an existing folder where it can be
    created (or be an existing file that can be written). A folder
    (``folder=True``) may be missing, and is created with its parents later,
    but no part of it may be a file and the nearest existing folder must take
    new files. Returns ``path`` as a :class:`~pathlib.Path`; raises
    :class:`LayerPipeError` with one line naming ``field`` and the path.
    """
    p = Path(path)
    where = f"{field}: {str(path)!r}"
    if not folder:
        if suffixes and p.suffix.lower() not in suffixes:
            raise LayerPipeError(f"{where}: the file name must end in {' or '.join(suffixes)}")
        if p.is_dir():
            raise LayerPipeError(f"{where} is a folder; give a file name")
        parent = p.parent
        if not parent.is_dir():
            what = "is a file, not a folder" if parent.exists() else "does not exist"
            raise LayerPipeError(f"{where}: the folder {str(parent)!r} {what}")
        if p.exists():
            try:
                with open(p, "ab"):
                    pass
            except OSError as exc:
                raise LayerPipeError(f"{where} cannot be written: {exc.strerror or exc}") from None
        elif why := _try_write_in(parent):
            raise LayerPipeError(f"{where} cannot be written in {str(parent)!r}: {why}")
        return p
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise LayerPipeError(f"{where}: {str(existing)!r} is a file, not a folder")
    if why := _try_write_in(existing):
        raise LayerPipeError(f"{where} cannot be written in {str(existing)!r}: {why}")
    return p

