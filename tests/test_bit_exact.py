"""The one bit-exact comparison: what it counts and how it names the first difference."""
from layerpipe.sim.bit_exact import compare, first_difference


def test_equal_runs_agree():
    runs = [{"a": [1, -2, 3], "label": 0}, {"a": [0, 0, 7], "label": 2}]
    assert compare(runs, [dict(r) for r in runs]) == (0, None)


def test_the_first_differing_sample_and_field_are_named():
    want = [{"a": [1, -2, 3], "label": 0}, {"a": [0, 0, 7], "label": 2}, {"a": [5, 5, 5], "label": 1}]
    got = [{"a": [1, -2, 3], "label": 0}, {"a": [0, 1, 7], "label": 2}, {"a": [5, 5, 5], "label": 0}]
    assert compare(want, got) == (2, "sample 1, a[1]: expected 0, got 1")


def test_rows_missing_items_and_extra_fields():
    assert first_difference([[1, 2], [3, 4]], [[1, 2], [3, 5]], item="layer 1 weight row") == \
        "layer 1 weight row 1, [1]: expected 4, got 5"
    assert compare([1, 2, 3], [1, 2]) == (1, "2 samples where 3 were expected")
    assert first_difference([{"x": 1}], [{"x": 1, "y": 2}]) == "sample 0, y: expected nothing, got 2"
    assert first_difference([[1, 2]], [[1, 2, 3]]) == "sample 0, length: expected 2 values, got 3 values"
    assert first_difference([7], [8]) == "sample 0: expected 7, got 8"
