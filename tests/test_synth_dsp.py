"""The plan's DSP blocks against the DSP cells yosys maps (``synth_ecp5``)
for a whole small design: the pipeline with its
read-back and the host link in front of it. Every multiplier of the design
is a MAC-array lane; nothing else (addresses, byte counts, the read-back's
location of a weight) may take a DSP block, or the board's budget is
overrun by blocks the plan never counted."""
import pytest

from layerpipe.hw import generator
from layerpipe.hw.config import NetConfig
from layerpipe.hw.link.link_top import LinkTop
from layerpipe.hw.plan import plan_design
from layerpipe.hw.target import dsp_budget
from layerpipe.scripts.synth_cells import synth_cells

# lanes and columns that are not powers of two (divisions, products with constants in
# the read-back and the link), a multi-pass layer with act_grad_a; the store holds
# 5 samples of 3 transfers each (the link's constant products)
# (The iCE40 is not checked yet: for 7-5-3 at lanes 3,1 x cols 3,1 synth_ice40 -dsp maps
# 18 SB_MAC16 where the plan counts 21; which products go to LUTs is not traced.)
CASES = [("ecp5", (7, 5, 3), (3, 2), (3, 2))]


@pytest.mark.slow
@pytest.mark.parametrize("family, widths, lanes, cols", CASES)
def test_yosys_maps_the_dsp_blocks_the_plan_counts(family, widths, lanes, cols):
    plan = plan_design(NetConfig(widths, lanes=lanes, cols=cols), dsp_budget(64, family))
    top = LinkTop(generator.build(plan), divisor=4, capacity=5)
    r = synth_cells(top, family)
    print(plan.name, r["cells"])
    assert r["dsp"] == plan.dsp_blocks, (
        f"{family}: yosys mapped {r['dsp']} DSP blocks, the plan counts {plan.dsp_blocks} "
        f"({[(u.name, u.dsp_blocks) for layer in plan.layers for u in layer.units]})")
