"""Long steps say what they are doing, on stderr; stdout keeps only results (and --json)."""
import io
import subprocess
import sys
import time

import pytest

from layerpipe.hw.progress import Steps
from layerpipe.hw.strict_json import loads as strict_loads


def layerpipe(*args):
    return subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", *args], capture_output=True, text=True)


def test_a_step_is_announced_and_a_long_one_keeps_saying_it_runs():
    out = io.StringIO()
    steps = Steps("net", every=0.05, stream=out)
    with steps.step("quick"):
        pass
    with steps.step("slow"):
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert lines[0] == "net: quick ..." and lines[1] == "net: slow ..."
    assert any(line.startswith("net: ... still slow (") for line in lines[2:-1])
    assert lines[-1].startswith("net: slow: done in ")
    quiet = io.StringIO()
    with Steps("net", enabled=False, every=0.01, stream=quiet).step("slow"):
        time.sleep(0.05)
    assert quiet.getvalue() == ""


def test_generate_tells_its_steps_on_stderr_and_keeps_json_alone_on_stdout(tmp_path):
    r = layerpipe("generate", "--net", "4-8-3", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    assert strict_loads(r.stdout)["widths"] == [4, 8, 3]
    for step in ("building the pipeline", "elaborating the pipeline", "to Verilog (yosys)"):
        assert step in r.stderr, r.stderr


def test_the_announced_conversion_writes_the_verilog_amaranth_writes():
    from amaranth.back import verilog

    from layerpipe.hw import generator
    from layerpipe.hw.config import NetConfig
    from layerpipe.hw.plan import plan_design
    plan = plan_design(NetConfig((4, 6, 3), mode="pipedream"))
    out = io.StringIO()
    text = generator.verilog_text(plan, Steps("x", stream=out))
    assert text == verilog.convert(generator.build(plan), name=plan.name, emit_src=False)
    assert "x: converting" in out.getvalue()


@pytest.mark.slow
def test_generating_a_large_net_is_not_silent(tmp_path):
    """784-512-512-10 takes about a minute: every step is named, and the long ones say they still run."""
    r = layerpipe("generate", "--net", "784-512-512-10", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "... still " in r.stderr and "done in" in r.stderr, r.stderr
