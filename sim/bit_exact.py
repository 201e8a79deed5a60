"""Bit-exact comparison: the one place that decides whether a run matches
its reference and says where it first does not.

Used by ``layerpipe sim`` (every result word and every final weight against
the golden model), by the stream benches and by the tests. Records may be
integers, lists or tuples (fields named ``[i]``) or dicts (fields named by
key), nested; the first difference is reported as one line naming the item
(``sample 12``) and the field (``a[3]``).
"""


def first_field(expected, got, path=""):
    """``(field, expected, got)`` at the first leaf where the two differ, or None."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in list(expected) + [k for k in got if k not in expected]:
            name = f"{path}.{key}" if path else str(key)
            if key not in got or key not in expected:
                return name, expected.get(key, "nothing"), got.get(key, "nothing")
            found = first_field(expected[key], got[key], name)
            if found:
                return found
        return None
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        for i, (e, g) in enumerate(zip(expected, got)):
            found = first_field(e, g, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(got):
            return path or "length", f"{len(expected)} values", f"{len(got)} values"
        return None
    return None if expected == got else (path, expected, got)


def compare(expected, got, item="sample"):
    """Compare two lists of records item by item.

    Returns ``(differing, first)``: the number of items that differ (each
    missing or extra item counts one) and one line naming the first
    differing item and field, ``"sample 3, a[2]: expected 5, got 6"``
    (None when every bit agrees).
    """
    differing, first = 0, None
    for k, (e, g) in enumerate(zip(expected, got)):
        found = first_field(e, g)
        if found:
            differing += 1
            if first is None:
                field, want, have = found
                first = f"{item} {k}{', ' + field if field else ''}: expected {want}, got {have}"
    if len(expected) != len(got):
        differing += abs(len(expected) - len(got))
        first = first or f"{len(got)} {item}s where {len(expected)} were expected"
    return differing, first


def first_difference(expected, got, item="sample"):
    """None if ``got`` equals ``expected`` bit for bit, else the line of :func:`compare`."""
    return compare(expected, got, item)[1]
