"""The design plan: figures, DSP blocks and memory per target, the manifest's round trip and its refusals."""
import json

import pytest

from layerpipe.hw import generator
from layerpipe.hw.config import NetConfig
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.fixed_point import Format
from layerpipe.hw.plan import load_manifest, plan_design, stage_latency
from layerpipe.hw.target import TARGETS, dsp_budget, get_target

WIDE = dict(act=Format(24, 16), weight=Format(24, 20), grad=Format(24, 20))


def test_the_default_design_keeps_its_figures():
    """64-32-10 under the default budget (README): layer 1 is 4 lanes x 13 columns (8 passes of 5 cycles,
    2 units: 104 multipliers), layer 2 2 x 4 (5 passes of 8 cycles, 3 units: 24), so a 40-cycle sweep;
    the beat adds stage_latency() (act_grad_a's four registers; the memory reads overlap the sweep):
    44 cycles, within issue 11's 44; 128 multipliers; 5056 MACs per sample / 128 = 39.5."""
    figures = {}
    for mode in ("layerpipe", "pipedream", "sequential"):
        p = plan_design(NetConfig((64, 32, 10), mode=mode))
        figures[mode] = (p.lanes, p.cols, p.multipliers, p.dsp_blocks, p.cycles_per_beat, p.cycles_per_sample,
                         p.mac_bound_cycles_per_sample)
    beat = 40 + stage_latency()
    assert beat <= 44
    assert figures["layerpipe"] == ((4, 2), (13, 4), 128, 128, beat, beat, 39.5)
    assert figures["pipedream"] == figures["layerpipe"]
    assert figures["sequential"] == ((4, 2), (13, 4), 128, 128, beat, 4 * beat, 39.5)


def test_dsp_blocks_follow_the_operand_widths():
    """mul2dsp splits a product into ceil(a/w) * ceil(b/w) blocks: 24x24 is four MULT18X18D, 16x16 one SB_MAC16."""
    ecp5, ice40 = TARGETS["ecp5-85f"], TARGETS["ice40up5k"]
    assert ecp5.dsp_blocks_per_product(24, 24) == 4
    assert ecp5.dsp_blocks_per_product(18, 18) == 1
    assert ecp5.dsp_blocks_per_product(16, 30) == 2
    assert ice40.dsp_blocks_per_product(16, 16) == 1
    assert ice40.dsp_blocks_per_product(17, 16) == 2
    p = plan_design(NetConfig((4, 8, 3), lanes=(2, 1), cols=(1, 1), **WIDE))
    # 2 lanes x (forward, weight_grad) + 1 lane x (forward, weight_grad, act_grad_a) = 7 products of 24x24
    assert p.multipliers == 7 and p.dsp_blocks == 28
    assert p.manifest()["layers"][1]["units"]["act_grad_a"]["dsp_blocks"] == 4


def test_the_budget_applies_to_dsp_blocks():
    cfg = NetConfig((64, 32, 10), **WIDE)
    p = plan_design(cfg)
    assert p.dsp_blocks <= 128 and p.dsp_blocks == 4 * p.multipliers
    assert p.lanes != plan_design(NetConfig((64, 32, 10))).lanes      # fewer lanes: each takes four blocks


def test_lanes_over_the_budget_are_refused_or_warned():
    cfg = NetConfig((64, 32, 10), lanes=(32, 10))          # 2*32 + 3*10 = 94 DSP blocks
    with pytest.raises(LayerPipeError) as e:
        plan_design(cfg, dsp_budget(90))
    assert str(e.value).startswith("lanes:") and "94" in str(e.value) and "90" in str(e.value)
    over = plan_design(cfg, dsp_budget(90), allow_over_budget=True)
    assert over.over_budget and over.manifest()["over_budget"] is True
    assert not plan_design(cfg, dsp_budget(94)).over_budget


def test_memory_is_estimated_and_a_named_target_refuses_too_much():
    p = plan_design(NetConfig((64, 32, 10)))
    mem = p.manifest()["memory_bits"]
    # one copy of the weights, rows and columns padded to whole passes and words (layer 1: 8 passes of
    # 4 rows, 5 words of 13 columns; layer 2: 5 x 2 rows, 8 x 4 columns), 16 bits; the delay FIFOs:
    # 5 slots of a_0 in words of 13 values, 3 of a_1 in words of 4
    assert mem["weights"] == (32 * 65 + 10 * 32) * 16
    assert mem["delay_fifo"] == 5 * 65 * 16 + 3 * 32 * 16
    # act_grad_a of layer 2 (five passes) keeps 8 words of 4 exact partial sums in a memory
    assert mem["partial_sums"] == 32 * NetConfig((64, 32, 10)).act_grad_acc_width(2)
    assert mem["ram"] == mem["weights"] + mem["delay_fifo"] + mem["partial_sums"]
    with pytest.raises(LayerPipeError) as e:
        plan_design(NetConfig((1024, 1024, 10)), get_target("ice40up5k"))
    assert str(e.value).startswith("memory:") and "ice40up5k" in str(e.value)
    # the UP5K's SPRAM does not count: 128-128-10's 281 kbit of weights would fit the 1,144 kbit of block
    # RAM and SPRAM together, but not the 120 kbit of block RAM the memories map onto
    with pytest.raises(LayerPipeError) as e:
        plan_design(NetConfig((128, 128, 10)), get_target("ice40up5k"))
    assert str(e.value).startswith("memory:") and "has 120 kbit" in str(e.value)
    # a plain DSP budget sets no memory limit
    assert plan_design(NetConfig((1024, 1024, 10)), dsp_budget(8)).memory_bits["ram"] > TARGETS["ice40up5k"].memory_bits


def test_name_and_digest_cover_the_hardware():
    base = plan_design(NetConfig((64, 32, 10)))
    assert plan_design(NetConfig((64, 32, 10))).digest == base.digest
    for other in (plan_design(NetConfig((64, 32, 10)), dsp_budget(40)),                  # other lanes
                  plan_design(NetConfig((64, 32, 10), act=Format(16, 9))),              # other format
                  plan_design(NetConfig((64, 32, 10), mode="pipedream")),               # other cols
                  plan_design(NetConfig((64, 32, 10)), get_target("ecp5-85f"))):        # other target
        assert other.digest != base.digest and other.name != base.name
    # explicit lanes and cols equal to the chosen ones are the same hardware
    assert plan_design(NetConfig((64, 32, 10), lanes=(4, 2))).digest == base.digest
    assert plan_design(NetConfig((64, 32, 10), lanes=(4, 2), cols=(13, 4))).digest == base.digest


@pytest.mark.parametrize("mode", ["layerpipe", "pipedream"])
def test_manifest_round_trips_to_identical_verilog(tmp_path, mode):
    plan = plan_design(NetConfig((4, 8, 3), mode=mode, seed=7), get_target("ice40up5k"))
    info = generator.generate(plan, tmp_path)
    text = json.dumps(info, allow_nan=False)                   # strict JSON
    assert json.loads((tmp_path / "manifest.json").read_text()) == json.loads(text)
    again = load_manifest(tmp_path / "manifest.json")
    assert again == plan and again.digest == plan.digest
    assert generator.verilog_text(again) == (tmp_path / f"{plan.name}.v").read_text()


def _edit(manifest, path, value):
    m = json.loads(json.dumps(manifest))
    d = m
    for key in path[:-1]:
        d = d[key]
    if value is KeyError:
        del d[path[-1]]
    else:
        d[path[-1]] = value
    return m


@pytest.mark.parametrize("path, value, field", [
    (("version",), 99, "version"),
    (("format",), "other", "format"),
    (("config",), KeyError, "config"),
    (("config", "widths"), "64-32-10", "config.widths"),
    (("config", "act"), {"width": 16}, "config.act"),
    (("config", "colour"), "red", "config.colour"),
    (("config", "mode"), "gpipe", "mode"),
    (("target", "family"), "xilinx", "target"),
    (("lanes",), [16, 5], "lanes"),                              # contradicts config.lanes
    (("cycles_per_sample",), 7, "cycles_per_sample"),
    (("layers", 0, "delay"), 1, "layers"),
    (("multipliers",), 1, "multipliers"),
    (("digest",), "0" * 12, "digest"),
    (("extra",), 1, "extra"),
    (("config", "lanes"), [40, 5], "lanes"),
])
def test_a_bad_manifest_is_refused_naming_the_field(path, value, field):
    m = _edit(plan_design(NetConfig((64, 32, 10))).manifest(), path, value)
    with pytest.raises(LayerPipeError) as e:
        load_manifest(m)
    msg = str(e.value)
    assert msg.startswith("manifest:") and field in msg and "\n" not in msg, msg


def test_an_unreadable_manifest_is_one_line(tmp_path):
    for text in ("{not json", "[]"):
        (tmp_path / "manifest.json").write_text(text)
        with pytest.raises(LayerPipeError) as e:
            load_manifest(tmp_path / "manifest.json")
        assert str(e.value).startswith("manifest:")
    with pytest.raises(LayerPipeError):
        load_manifest(tmp_path / "missing.json")


def test_generating_a_large_net_says_what_it_needs_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(generator, "LARGE_DESIGN_WEIGHTS", 10)
    generator.generate(plan_design(NetConfig((4, 8, 3))), tmp_path)
    err = capsys.readouterr().err
    assert "warning" in err and "56 weights" in err and "kbit of RAM" in err
