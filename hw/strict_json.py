"""The one way a ``--json`` option prints: strict JSON (RFC 8259).

Python's ``json.dumps`` writes ``NaN`` and ``Infinity`` for non-finite floats,
which strict parsers (JavaScript's ``JSON.parse``, ``jq``, ``json.loads`` with
``parse_constant`` raising) reject. A figure that is undefined (cycles per
sample of a run too short for a steady state, a ratio of it) or non-finite (the
loss of a diverged float run) is written as ``null``.
"""
import json
import math


def finite_or_null(value):
    """``value`` with every non-finite float, at any depth, replaced by ``None``.

    Dicts, lists and tuples are copied; NumPy scalars become Python numbers.
    """
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        value = value.item()         # a NumPy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value, **kwargs):
    """``json.dumps`` of :func:`finite_or_null` of ``value``; never writes NaN or Infinity."""
    return json.dumps(finite_or_null(value), allow_nan=False, **kwargs)


def _refuse(constant):
    raise ValueError(f"{constant} is not JSON (RFC 8259): an undefined figure must be null")


def loads(text):
    """Parse ``text`` as strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` raise ``ValueError``."""
    return json.loads(text, parse_constant=_refuse)
