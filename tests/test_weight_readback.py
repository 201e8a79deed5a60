"""Weight read-back against the weight memories it reads: every weight and bias of every layer."""
import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from layerpipe.hw.config import NetConfig
from layerpipe.hw.plan import layer_plans
from layerpipe.hw.weight_memory import WeightMemory
from layerpipe.hw.weight_readback import READBACK_LATENCY, WeightReadback


class Harness(Elaboratable):
    """The read-back over real weight memories holding ``weights`` and constant ``biases``."""

    def __init__(self, plans, fmt, weights, biases):
        self.readback = WeightReadback(plans, fmt)
        self.plans, self.fmt, self.weights, self.biases = plans, fmt, weights, biases

    def elaborate(self, platform):
        m = Module()
        m.submodules.readback = rb = self.readback
        for l, (p, w, b) in enumerate(zip(self.plans, self.weights, self.biases), 1):
            m.submodules[f"mem{l}"] = mem = WeightMemory(p.n_in, p.n_out, p.lanes, self.fmt.width, init=w,
                                                         cols=p.word_cols)
            m.d.comb += [mem.read_addr.eq(getattr(rb, f"addr{l}")), getattr(rb, f"word{l}").eq(mem.read_data)]
            m.d.comb += [getattr(rb, f"bias{l}")[k].eq(int(v)) for k, v in enumerate(b)]
        return m


@pytest.mark.parametrize("widths, lanes, cols, mode", [
    ((5, 7, 3), (3, 2), (1, 1), "layerpipe"),
    ((5, 7, 3), (3, 2), (1, 1), "pipedream"),          # two columns per word past layer 1
    ((3, 2), (1,), (1,), "layerpipe"),
    ((6, 4, 5, 2), (4, 5, 1), (1, 1, 1), "pipedream"),
    ((7, 5, 3), (2, 3), (3, 2), "layerpipe"),          # 3 and 2 columns per word
    ((6, 4, 5, 2), (4, 5, 1), (2, 3, 2), "pipedream"),  # 2, then 6 and 4 columns per word
])
def test_every_weight_and_bias_reads_back(widths, lanes, cols, mode):
    cfg = NetConfig(widths, mode=mode)
    plans = layer_plans(cfg, lanes, cols)
    rng = np.random.default_rng(sum(widths))
    fmt = cfg.weight
    weights = [rng.integers(fmt.min, fmt.max + 1, size=(p.n_out, p.n_in)) for p in plans]
    biases = [rng.integers(fmt.min, fmt.max + 1, size=p.n_out) for p in plans]
    dut = Harness(plans, fmt, weights, biases)
    rb, wrong = dut.readback, []

    async def bench(ctx):
        for l, p in enumerate(plans):
            for row in range(p.n_out):
                for col in range(p.n_in + 1):
                    ctx.set(rb.layer, l)
                    ctx.set(rb.row, row)
                    ctx.set(rb.col, col)
                    await ctx.tick().repeat(READBACK_LATENCY)
                    want = biases[l][row] if col == p.n_in else weights[l][row, col]
                    got = ctx.get(rb.data)
                    if got != want and not wrong:
                        wrong.append(f"layer {l + 1} row {row} col {col}: read {got}, stored {want}")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert not wrong, wrong[0]
