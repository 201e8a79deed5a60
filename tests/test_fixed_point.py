import numpy as np
import pytest

from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.fixed_point import Format, acc_width, narrow, parse_format, round_shift, saturate


def test_round_shift_is_round_half_up_on_both_signs():
    x = np.array([5, 6, 7, -5, -6, -7, 4, -4, -2, 2])   # / 4
    #              1.25 1.5 1.75 -1.25 -1.5 -1.75 1 -1 -0.5 0.5
    assert round_shift(x, 2).tolist() == [1, 2, 2, -1, -1, -2, 1, -1, 0, 1]


def test_round_shift_left_and_zero_are_exact():
    x = np.array([3, -3, 0])
    assert round_shift(x, 0).tolist() == [3, -3, 0]
    assert round_shift(x, -3).tolist() == [24, -24, 0]


def test_saturate_clamps_to_the_format_range():
    f = Format(8, 4)
    assert saturate(np.array([127, 128, 1000, -128, -129, -5000]), f).tolist() == [127, 127, 127, -128, -128, -128]


def test_narrow_rounds_then_saturates():
    f = Format(4, 0)             # -8..7
    assert narrow(np.array([15, 16, -17, -18, 13]), 1, f).tolist() == [7, 7, -8, -8, 7]
    assert narrow(np.array([12, -15]), 1, f).tolist() == [6, -7]


def test_quantize_rounds_half_up_and_saturates():
    f = Format(8, 2)
    assert f.quantize([0.125, -0.125, 0.375, 100.0, -100.0]).tolist() == [1, 0, 2, 127, -128]
    assert f.one == 4 and f.to_float(6) == 1.5


def test_acc_width_holds_the_worst_dot_product():
    a, w = Format(6, 3), Format(5, 2)
    for terms in (1, 2, 3, 7, 8, 100):
        worst = (terms + 1) * (a.min * w.min)
        bits = acc_width(a, w, terms)
        assert -(1 << (bits - 1)) <= -worst and worst <= (1 << (bits - 1)) - 1


@pytest.mark.parametrize("text", ["16", "a.b", "16.16", "1.0", "16.-1", "40.3"])
def test_parse_format_refuses_bad_formats(text):
    with pytest.raises(LayerPipeError):
        parse_format(text, "act")


def test_parse_format():
    assert parse_format("12.7", "act") == Format(12, 7)
