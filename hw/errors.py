class LayerPipeError(Exception):
    """An input the user can fix: the command line prints its message as one
    line on stderr and exits non-zero. The message names the field, the bad
    value and what is allowed."""
