class LayerPipeError(Exception):
    """An input the user can fix: the command line prints its message as one
    line on stderr and exits non-zero. The message names the field, the bad
    value and what is allowed."""


def check_fields(name, d, known, required):
    """Refuse ``d`` (a JSON object read back as ``name``) unless it is a dict
    whose keys are all in ``known`` and include every one of ``required``:
    one LayerPipeError naming ``name.field``."""
    if not isinstance(d, dict):
        raise LayerPipeError(f"{name}: {d!r} is not an object")
    for key in d:
        if key not in known:
            raise LayerPipeError(f"{name}.{key}: unknown field")
    for key in required:
        if key not in d:
            raise LayerPipeError(f"{name}.{key}: missing")
