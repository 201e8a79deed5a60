import dataclasses

import pytest

from layerpipe.hw.config import NetConfig, parse_widths, pipeline_delays
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.fixed_point import Format


def test_parse_widths():
    assert parse_widths("64-32-10") == (64, 32, 10)
    assert parse_widths(" 4 - 8 - 3 ") == (4, 8, 3)


@pytest.mark.parametrize("text", ["", "64", "64-", "64-0-10", "64--3", "64-abc", "64-32-10.5",
                                  "5000-10", "-".join(["4"] * 18), "64_32"])
def test_parse_widths_refuses(text):
    with pytest.raises(LayerPipeError) as e:
        parse_widths(text)
    assert "\n" not in str(e.value) and str(e.value).startswith("net:")


def test_delays_follow_the_beat_contract():
    assert pipeline_delays(3) == (5, 3, 1)
    assert pipeline_delays(1) == (1,)
    assert NetConfig((4, 8, 3), mode="sequential").delays == (0, 0)
    assert NetConfig((4, 8, 3), mode="pipedream").delays == (3, 1)


@pytest.mark.parametrize("changes, field", [
    (dict(widths=(64,)), "net"),
    (dict(widths=(64, 0, 10)), "net"),
    (dict(widths=(64, -3, 10)), "net"),
    (dict(mode="gpipe"), "mode"),
    (dict(activation="tanh"), "activation"),
    (dict(act=Format(16, 15)), "act"),
    (dict(act=Format(16, 16)), "act"),
    (dict(weight=Format(1, 0)), "weight"),
    (dict(grad=Format(64, 8)), "grad"),
    (dict(lr_shift=-1), "lr_shift"),
    (dict(lr_shift=0, weight=Format(24, 23), act=Format(8, 2), grad=Format(8, 2)), "lr_shift"),
    (dict(lanes=(4,)), "lanes"),
    (dict(lanes=(40, 3)), "lanes"),
    (dict(lanes=(0, 3)), "lanes"),
    (dict(seed=-1), "seed"),
])
def test_config_validation_names_the_field(changes, field):
    base = dict(widths=(64, 32, 10))
    base.update(changes)
    with pytest.raises(LayerPipeError) as e:
        NetConfig(**base)
    assert str(e.value).startswith(field + ":"), str(e.value)
    assert "\n" not in str(e.value)


def test_config_is_frozen_and_named_by_its_contents():
    a = NetConfig((64, 32, 10))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.mode = "sequential"
    assert a.digest() == NetConfig((64, 32, 10)).digest()
    assert a.digest() != a.replace(lr_shift=6).digest()
    assert a.forward_acc_width(1) >= 16 + 16 + 6
