"""Boards and `layerpipe synth`: the checks that need no tool run in the fast
suite; the bitstreams themselves are slow tests."""
import subprocess
import sys
import time

import pytest
from amaranth.hdl import Fragment

from layerpipe.boards import BOARDS, board
from layerpipe.boards.pll import Ecp5Pll, Ice40Pll
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.strict_json import loads as strict_loads


def layerpipe(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", *args], capture_output=True, text=True,
                          cwd=cwd)


@pytest.mark.parametrize("f_in,f_out", [(25, 100), (25, 90), (25, 75), (25, 48)])
def test_ecp5_pll_meets_the_datasheet_limits(f_in, f_out):
    p = Ecp5Pll.solve(f_in, f_out)
    assert p.f_out_mhz <= f_out and p.f_out_mhz > 0.9 * f_out
    assert 400 <= p.f_out_mhz * p.clkop_div <= 800 and f_in / p.clki_div >= 3.125


@pytest.mark.parametrize("f_in,f_out", [(12, 30), (12, 24), (12, 36)])
def test_ice40_pll_meets_the_datasheet_limits(f_in, f_out):
    p = Ice40Pll.solve(f_in, f_out)
    assert p.f_out_mhz == pytest.approx(f_out)          # icepll reaches these exactly
    assert 10 <= f_in / (p.divr + 1) <= 133 and 533 <= f_in / (p.divr + 1) * (p.divf + 1) <= 1066


def test_ice40_pll_matches_icepll():
    """icepll -i 12 -o 30: DIVR 0, DIVF 79, DIVQ 5, FILTER_RANGE 1."""
    p = Ice40Pll.solve(12, 30)
    assert (p.divr, p.divf, p.divq, p.filter_range) == (0, 79, 5, 1)


def test_unknown_board_is_one_line_before_any_tool():
    t = time.time()
    r = layerpipe("synth", "--board", "de10-nano", "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "layerpipe: error: board: 'de10-nano' is not one of " + ", ".join(BOARDS)]
    assert time.time() - t < 30


def test_over_budget_is_refused_before_any_tool(tmp_path):
    """784-512-10 needs far more than the UP5K's 8 multipliers: refused in seconds, no build folder."""
    t = time.time()
    r = layerpipe("synth", "--board", "icebreaker", "--net", "784-512-10", "--json", "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerpipe: error: "), r.stderr
    assert "icebreaker" in lines[0] or "iCE40UP5K" in lines[0]
    assert not (tmp_path / "b").exists()
    assert time.time() - t < 30


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_top_elaborates_with_its_platform(name):
    """The wrapper (PLL, reset, accelerator, host link on the UART pins) elaborates for the board's own platform."""
    from layerpipe.boards.board import BoardTop
    from layerpipe.hw import generator
    from layerpipe.hw.config import NetConfig
    from layerpipe.hw.plan import plan_design
    b = board(name)
    top = BoardTop(b, generator.build(plan_design(NetConfig((4, 8, 3)), b.target)))
    platform = b.platform()
    Fragment.get(top, platform)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_the_reset_reaches_the_design_on_a_global_net_on_the_ecp5(name):
    """On an ECP5 the synchronised reset passes a DCCA, so that nextpnr routes it to the
    flip-flops on a primary clock net (on general routing its fanout crowded the whole
    accelerator); the accelerator and the host take that buffered reset. The iCE40 has no DCCA."""
    import re

    from layerpipe.boards.board import BoardTop
    from layerpipe.hw import generator
    from layerpipe.hw.config import NetConfig
    from layerpipe.hw.plan import plan_design
    b = board(name)
    top = BoardTop(b, generator.build(plan_design(NetConfig((4, 8, 3)), b.target)))
    rtlil = b.platform().prepare(top, "top").files["top.il"]
    cells = {(kind, inst): body for kind, inst, body in
             re.findall(r"^  cell \\(\S+) \\(\S+)\n((?:    .*\n)*?)  end", rtlil, re.M)}
    dcca = [body for (kind, _), body in cells.items() if kind == "DCCA"]
    if b.target.family != "ecp5":
        assert dcca == []
        return
    assert len(dcca) == 1
    assert "connect \\CLKI \\reset_sync_rst [0]" in dcca[0] and "connect \\CLKO \\rst\n" in dcca[0]
    for inst in ("accelerator", "host"):
        assert "connect \\rst \\rst [0]" in cells[("top." + inst, inst)]


def test_synth_plans_a_multiprocessor_design_for_the_board(tmp_path):
    """synth --processors P --lanes N plans the scheduler's assignment on the board's device, and the
    manifest of such a design (from generate) is planned again with its processors, not without them."""
    import argparse

    from layerpipe.boards.board import BoardTop
    from layerpipe.hw import generator
    from layerpipe.scripts import synth
    p = argparse.ArgumentParser()
    synth.add_arguments(p)
    args = ["--board", "ulx3s-85f", "--net", "8-6-5-3", "--processors", "2", "--lanes", "4", "--mode", "pipedream"]
    b, plan = synth.resolve(p.parse_args(args))
    info = plan.manifest()
    assert info["processors"]["count"] == 2 and info["processors"]["lanes"] == 4
    assert info["target"]["name"] == "ecp5-85f" and info["dsp_blocks"] == 8
    generate = layerpipe("generate", *args[2:], "--board", "ulx3s-85f", "--out", str(tmp_path))
    assert generate.returncode == 0, generate.stderr
    _, again = synth.resolve(p.parse_args(["--board", "ulx3s-85f", "--manifest", str(tmp_path / "manifest.json")]))
    assert again.manifest() == info
    Fragment.get(BoardTop(b, generator.build(plan)), b.platform())
    r = layerpipe("synth", "--board", "ulx3s-85f", "--manifest", str(tmp_path / "manifest.json"), "--processors", "3")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "layerpipe: error: manifest: --processors cannot be combined with --manifest (the manifest names the "
        "design) (board ulx3s-85f)"]


def test_dsp_budget_above_the_board_is_refused_before_any_tool(tmp_path):
    """--dsp-budget may lower a board's DSP blocks, never raise them: one line, no build."""
    r = layerpipe("synth", "--board", "ulx3s-85f", "--dsp-budget", "500", "--json", "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "layerpipe: error: dsp_budget: 500 is more than the 156 MULT18X18D of ecp5-85f (board ulx3s-85f)"]
    assert not (tmp_path / "b").exists()


def test_board_lookup_names_the_known_boards():
    from layerpipe.hw.target import BOARD_TARGETS
    assert set(BOARDS) == set(BOARD_TARGETS)
    with pytest.raises(LayerPipeError, match="board: 'x' is not one of ulx3s-85f, icebreaker"):
        board("x")
    assert board("ulx3s-85f").device_target.dsp_blocks == 156 and board("icebreaker").target.dsp_blocks == 8


def test_a_boards_default_budget_and_the_whole_device():
    """The ULX3S plans under its default budget (what routes on 2 cores) unless --dsp-budget
    says otherwise; a manifest planned for the device keeps its budget."""
    import argparse

    from layerpipe.hw.target import BOARD_DSP_BUDGETS
    from layerpipe.scripts import synth
    p = argparse.ArgumentParser()
    synth.add_arguments(p)
    b, plan = synth.resolve(p.parse_args(["--board", "ulx3s-85f"]))
    assert b.target.dsp_blocks == plan.target.dsp_blocks == BOARD_DSP_BUDGETS["ulx3s-85f"] < 156
    assert plan.dsp_blocks <= BOARD_DSP_BUDGETS["ulx3s-85f"]
    _, whole = synth.resolve(p.parse_args(["--board", "ulx3s-85f", "--dsp-budget", "156"]))
    assert whole.target.dsp_blocks == 156 and whole.dsp_blocks > BOARD_DSP_BUDGETS["ulx3s-85f"]


def test_clock_option_sets_the_pll_the_link_and_the_cache(tmp_path):
    """--clock-mhz: the PLL's fastest setting not above it, which the link's baud divisor and
    the synthesis cache follow; a clock the PLL cannot make, or no number, is one line before
    any tool runs."""
    from layerpipe.boards.link import UartLink
    from layerpipe.hw import generator
    from layerpipe.hw.config import NetConfig, parse_widths
    from layerpipe.hw.plan import plan_design
    from layerpipe.scripts.bench import synth_cache
    slow = board("ulx3s-85f", 50)
    assert slow.clock_mhz == slow.pll().f_out_mhz == 50 and board("ulx3s-85f").clock_mhz != 50
    near = board("ulx3s-85f", 58)                     # the fastest EHXPLLL setting not above 58
    assert near.clock_mhz == near.pll().f_out_mhz <= 58
    plan = plan_design(NetConfig(parse_widths("4-8-3")), slow.target)
    fast = board("ulx3s-85f", 75)
    assert UartLink(slow, generator.build(plan)).link.divisor < UartLink(fast, generator.build(plan)).link.divisor
    assert synth_cache(slow, plan) != synth_cache(fast, plan)
    assert synth_cache(slow, plan, router="router2") != synth_cache(slow, plan)
    assert synth_cache(slow, plan, placer="heap") != synth_cache(slow, plan)
    for value, line in (("abc", "clock-mhz: 'abc' is not a positive number"),
                        ("-5", "clock-mhz: '-5' is not a positive number"),
                        ("1", "clock: no EHXPLLL setting gives 1.0 MHz or less from 25.0 MHz")):
        r = layerpipe("synth", "--board", "ulx3s-85f", "--clock-mhz", value, "--out", str(tmp_path / "b"))
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.strip().splitlines() == [f"layerpipe: error: {line}"]
    assert not (tmp_path / "b").exists()


def test_a_clock_the_pll_rounds_is_said_before_the_tools_run(tmp_path, monkeypatch, capsys):
    """--clock-mhz 1000 gets the PLL's fastest setting: synth says which, before any tool."""
    from layerpipe.scripts import cli, synth

    def no_tools(*args, **kwargs):
        raise LayerPipeError("no tools in this test")
    monkeypatch.setattr(synth, "build", no_tools)
    assert cli.main(["synth", "--board", "ulx3s-85f", "--net", "4-8-3", "--clock-mhz", "1000",
                     "--out", str(tmp_path / "b")]) == 2
    made = board("ulx3s-85f", 1000).clock_mhz
    assert made < 1000
    err = capsys.readouterr().err
    assert f"clock {made:g} MHz: the PLL's fastest setting not above --clock-mhz 1000" in err
    assert err.strip().splitlines()[-1] == "layerpipe: error: no tools in this test"


@pytest.mark.parametrize("host", ["link", "stub"])
def test_synth_host_option_picks_what_drives_the_accelerator(host, tmp_path, monkeypatch):
    """--host stub builds the accelerator behind the LFSR stub (no UART, no sample store);
    --host link, the default, behind the board's link."""
    import importlib

    from layerpipe.boards.link import UartLink
    from layerpipe.boards.stub import LfsrHost
    from layerpipe.scripts import cli
    board_module = importlib.import_module("layerpipe.boards.board")   # the package's board() hides it
    made = {}

    def capture(self, b, accelerator, host=None):
        made["host"] = host
        raise LayerPipeError("captured")
    monkeypatch.setattr(board_module.BoardTop, "__init__", capture)
    args = ["synth", "--board", "ulx3s-85f", "--net", "4-8-3", "--out", str(tmp_path / "b")]
    assert cli.main(args + (["--host", host] if host == "stub" else [])) == 2
    assert made["host"] is (LfsrHost if host == "stub" else None)
    assert UartLink is board_module.HOST       # None: the board's link


def test_synthesis_cache_follows_the_host_link_sources(tmp_path, monkeypatch):
    """The host link is in every bitstream: a change to its sources names another cached report."""
    import layerpipe.hw.link
    from layerpipe.hw.config import NetConfig, parse_widths
    from layerpipe.hw.plan import plan_design
    from layerpipe.scripts.bench import synth_cache
    b = board("icebreaker")
    plan = plan_design(NetConfig(parse_widths(b.net)), b.target)
    before = synth_cache(b, plan)
    (tmp_path / "link_top.py").write_text("# another link\n")
    monkeypatch.setattr(layerpipe.hw.link, "__file__", str(tmp_path / "__init__.py"))
    assert synth_cache(b, plan) != before


@pytest.mark.slow
@pytest.mark.parametrize("name", ["icebreaker", "ulx3s-85f"])
def test_synth_default_net(name, tmp_path):
    """The board's default network places and routes: the DSP count the plan predicted, multipliers on
    DSP blocks, Fmax above the issue's floor, and a bitstream."""
    r = layerpipe("synth", "--board", name, "--json", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    out = strict_loads(r.stdout)
    assert out["dsps"]["used"] == out["expected"]["dsps"]
    assert out["fmax_mhz"] >= {"icebreaker": 20, "ulx3s-85f": 75}[name]
    assert out["samples_per_s"] == round(out["fmax_mhz"] * 1e6 / out["cycles_per_sample"])
    # the board's own clock is met, so the bitstream trains at it
    assert out["timing_met"] and out["clock_mhz"] == board(name).clock_mhz <= out["fmax_mhz"]
    assert out["bitstream_samples_per_s"] == round(out["clock_mhz"] * 1e6 / out["cycles_per_sample"])
    assert out["brams"]["used"] > 0
    from pathlib import Path
    assert Path(out["bitstream"]).stat().st_size > 0


def test_generate_for_a_board_refuses_what_does_not_fit(tmp_path):
    """generate --board plans on the board's device: 64-32-10 fits the UP5K's DSP blocks and memory but
    not its LUTs (the plan's estimate); 4-8-3 fits."""
    r = layerpipe("generate", "--board", "icebreaker", "--net", "64-32-10", "--out", str(tmp_path / "a"))
    assert r.returncode == 2 and r.stderr.startswith("layerpipe: error: luts: ") and "5,280" in r.stderr
    assert not (tmp_path / "a").exists()
    r = layerpipe("generate", "--board", "icebreaker", "--net", "4-8-3", "--out", str(tmp_path / "b"), "--json")
    assert r.returncode == 0, r.stderr
    info = strict_loads(r.stdout)
    assert info["target"]["name"] == "ice40up5k" and 0 < info["expected_resources"]["luts"] <= 5280
    # without --net, the board's default net (as synth builds it)
    r = layerpipe("generate", "--board", "icebreaker", "--out", str(tmp_path / "c"), "--json")
    assert r.returncode == 0, r.stderr
    assert strict_loads(r.stdout)["widths"] == [4, 8, 3]


def test_lut_estimate_grows_with_the_lanes():
    """More lanes, more per-lane arithmetic: the estimate must grow (a figure that could not fail otherwise)."""
    from layerpipe.hw.config import NetConfig
    from layerpipe.hw.plan import plan_design
    # the columns fixed too: with lanes alone the plan fills the budget with columns
    small = plan_design(NetConfig((64, 32, 10), lanes=(8, 5), cols=(1, 1)))
    large = plan_design(NetConfig((64, 32, 10), lanes=(32, 5), cols=(1, 1)))
    assert large.luts > small.luts > 0
    assert large.manifest()["expected_resources"]["luts"] == large.luts


def test_critical_path_in_words():
    """nextpnr's worst path becomes from/to as the design's hierarchy with the Python line of the net."""
    from layerpipe.scripts.synth import critical_path
    def seg(kind, a, b, delay, src=()):
        return {"type": kind, "from": {"cell": a}, "to": {"cell": b}, "delay": delay, "sources": list(src)}
    rep = {"critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": [
        seg("clk-to-q", "accelerator.stage2.act_grad_a.$auto$ff_Q", "accelerator.stage2.act_grad_a.$auto$ff_Q", 0.5),
        seg("routing", "accelerator.stage2.act_grad_a.$auto$ff_Q", "accelerator.stage2.$lut", 1.0,
            ["/x/hw/act_grad_a.py:90", "cells_map.v:6"]),
        seg("logic", "accelerator.stage2.$lut", "accelerator.stage2.$lut", 0.4),
        seg("routing", "accelerator.stage2.$lut", "accelerator.stage1.act_grad_b.g1_SB_DFFESR_Q_4_DFFLC", 1.1,
            ["cells_map.v:6", "/x/hw/narrow.py:33"]),
        seg("setup", "accelerator.stage1.act_grad_b.g1_SB_DFFESR_Q_4_DFFLC",
            "accelerator.stage1.act_grad_b.g1_SB_DFFESR_Q_4_DFFLC", 0.1)]}]}
    cp = critical_path(rep)
    assert cp["from"] == "stage2.act_grad_a (hw/act_grad_a.py:90)"
    assert cp["to"] == "stage1.act_grad_b.g1 (hw/narrow.py:33)"
    assert cp["logic_levels"] == 1 and cp["delay_ns"] == 3.1
    # a last net made by the cell library only: the end is named without another net's line
    rep["critical_paths"][0]["path"][3]["sources"] = ["cells_map.v:6"]
    assert critical_path(rep)["to"] == "stage1.act_grad_b.g1"
    assert critical_path({}) is None


def test_synth_report_tabulates_what_it_is_given():
    from layerpipe.scripts.synth_report import estimates, table
    def res(used, total):
        return {"used": used, "total": total, "percent": 100 * used / total}
    r = {"board": "icebreaker", "net": "4-8-3", "mode": "layerpipe", "luts": res(2000, 5280), "ffs": res(1000, 5280),
         "dsps": res(7, 8), "brams": res(9, 30), "sprams": res(0, 4), "fmax_mhz": 31.5, "constraint_mhz": 30.0,
         "critical_path": {"from": "a", "to": "b", "logic_levels": 9}, "cycles_per_sample": 29,
         "samples_per_s": 1086207, "build_seconds": {"yosys": 60.0, "nextpnr-ice40": 200.0, "icepack": 5.0},
         "expected": {"dsps": 7, "luts": 2400, "ebr": 9}, "lut4_synthesised": 2300}
    text = table([r])
    assert "| icebreaker | 4-8-3 | layerpipe | 2,000 / 5,280 (38 %) |" in text and "31.5 (30)" in text
    assert "1,086,207" in text and "60 + 200 + 5" in text
    assert "| 7 / 7 | 2,400 / 2,300 / 2,000 | 9 / 9 |" in estimates([r])
