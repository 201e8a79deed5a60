"""The second simulator: Icarus Verilog runs the same bench on the same
Verilog, bit-exact and cycle for cycle equal to Verilator, and no signal of
the design is X after reset (its VCD is read whole). Skipped where Debian's
``iverilog`` is not installed; CI does not need it."""
import shutil

import pytest

from layerpipe.hw.config import NetConfig
from layerpipe.hw.plan import plan_design
from layerpipe.sim.rtl_sim import simulate

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("iverilog") is None,
                                 reason="Icarus Verilog is not installed (apt install iverilog)")]

MODES = ["layerpipe", "pipedream", "sequential"]


def x_after_reset(vcd, reset="rst"):
    """``(time, signal, value)`` of every X or Z a VCD file holds once the
    top-level ``reset`` has fallen (after having been 1): the values standing
    at the end of that time step, and every later change."""
    names, scope, values, bad = {}, [], {}, []
    reset_id, was_high, reset_end, checking, t = None, False, None, False, 0
    with open(vcd) as f:
        for line in f:
            tok = line.split()
            if not tok:
                continue
            if tok[0] == "$scope":
                scope.append(tok[2])
            elif tok[0] == "$upscope":
                scope.pop()
            elif tok[0] == "$var":
                ident, name = tok[3], tok[4]
                names.setdefault(ident, ".".join(scope + [name]))
                if len(scope) == 1 and name == reset and reset_id is None:
                    reset_id = ident
            elif line[0] == "#":
                if reset_end is not None and not checking:      # the time step of the release is over
                    checking = True
                    bad += [(t, names[i], v) for i, v in values.items() if set(v) & set("xXzZ")]
                t = int(line[1:])
            elif line[0] in "01xzXZbB":
                value, ident = (tok[0][1:], tok[1]) if line[0] in "bB" else (line[0], line[1:].strip())
                values[ident] = value
                if ident == reset_id:
                    was_high |= value == "1"
                    if was_high and value == "0" and reset_end is None:
                        reset_end = t
                elif checking and set(value) & set("xXzZ"):
                    bad.append((t, names[ident], value))
    assert checking, f"{vcd}: the reset never fell"
    return bad


@pytest.mark.parametrize("mode", MODES)
def test_icarus_agrees_with_verilator_and_nothing_is_x_after_reset(mode, tmp_path):
    """4-5-3: layer 2 has an odd number of inputs (pipedream's two-column sweep
    passes the end), and read-back addresses layers of different sizes."""
    plan = plan_design(NetConfig((4, 5, 3), mode=mode))
    runs = {}
    for simulator in ("verilator", "icarus"):
        waves = str(tmp_path / "run.vcd") if simulator == "icarus" else None
        # the same (per-cycle) bench on both, so the same gaps, backpressure and cycles
        r = simulate(plan, "iris", n=10, seed=2, gap=0.2, backpressure=0.3, simulator=simulator, waves=waves,
                     bench="cycle")
        assert r["bit_exact"], f"{simulator}: {r['first_mismatch']}"
        runs[simulator] = r
    for key in ("cycles", "cycles_per_sample", "status", "samples", "accuracy"):
        assert runs["icarus"][key] == runs["verilator"][key], key
    bad = x_after_reset(tmp_path / "run.vcd")
    assert not bad, f"{len(bad)} X values after reset, first: {bad[:5]}"
