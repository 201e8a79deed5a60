"""MacArray: exact registered signed products (Amaranth simulator vs NumPy),
and its mapping onto DSP blocks (yosys, slow)."""
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from layerpipe.hw.mac_array import MacArray


def _operands(rng, rows, lanes, width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    extremes = np.clip([lo, hi, -1, 0, 1, lo, hi, lo], lo, hi)   # signed(1) has no +1
    head = np.repeat(extremes[:, None], lanes, axis=1)
    return np.concatenate([head, rng.integers(lo, hi, size=(rows, lanes), endpoint=True)])


@pytest.mark.parametrize("lanes, a_width, b_width",
                         [(1, 16, 16), (8, 16, 16), (3, 18, 18), (4, 8, 12), (2, 4, 9), (5, 1, 3)])
def test_products_match_numpy(lanes, a_width, b_width):
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    a = _operands(rng, 200, lanes, a_width)
    # b's extremes meet a's in every pairing: lo*lo, lo*hi, hi*lo, hi*hi, ...
    b = _operands(rng, 200, lanes, b_width)[[0, 1, 2, 3, 4, 1, 0, 0] + list(range(8, 208))]
    en = rng.integers(0, 2, size=len(a))
    en[:8] = 1

    # p holds its value while en is low; after the tick of cycle t it shows the operands
    # of cycle t - (latency - 1)
    expected = np.zeros_like(a)
    prev = np.zeros(lanes, dtype=np.int64)
    lag = MacArray.latency_of(True) - 1
    for t in range(len(a)):
        s = t - lag
        if s >= 0 and en[s]:
            prev = a[s] * b[s]
        expected[t] = prev

    dut = MacArray(lanes, a_width, b_width)
    got = np.zeros_like(a)

    async def bench(ctx):
        assert [ctx.get(dut.p)[j] for j in range(lanes)] == [0] * lanes   # reset value
        for t in range(len(a)):
            ctx.set(dut.a, a[t].tolist())
            ctx.set(dut.b, b[t].tolist())
            ctx.set(dut.en, int(en[t]))
            await ctx.tick()
            p = ctx.get(dut.p)
            got[t] = [p[j] for j in range(lanes)]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    bad = np.argwhere(got != expected)
    assert not len(bad), (f"seed={seed}: first mismatch at sample {bad[0][0]}, lane {bad[0][1]}: "
                          f"a={a[bad[0][0], bad[0][1]]} b={b[bad[0][0], bad[0][1]]} "
                          f"en={en[bad[0][0]]} expected {expected[tuple(bad[0])]} got {got[tuple(bad[0])]}")


@pytest.mark.slow
@pytest.mark.parametrize("family, dsp_cell", [("ecp5", "MULT18X18D"), ("ice40", "SB_MAC16")])
def test_eight_16x16_lanes_map_to_eight_dsp_blocks(family, dsp_cell):
    from layerpipe.scripts.synth_cells import synth_cells
    r = synth_cells(MacArray(8, 16, 16), family)
    print(r)
    assert r["cells"].get(dsp_cell, 0) == 8 == r["dsp"], r["cells"]
    assert r["lut"] <= 8, f"a multiplier went into LUTs: {r['cells']}"
