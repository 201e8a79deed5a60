"""Devices a design is planned for: DSP blocks, block RAM and LUTs.

A :class:`Target` is what the design plan (:mod:`layerpipe.hw.plan`) needs
to know of a device: the family (which decides how a product of given
operand widths maps onto DSP blocks), the DSP budget the lanes may use, and
the on-chip memory a design must fit in. Named targets are full devices;
``dsp_budget(n)`` is a plain budget of ``n`` ECP5 DSP blocks with no memory
limit (the generator's default, 128, is the ULX3S-85F's 156 with room left
for the board wrapper).

DSP blocks per product (:meth:`Target.dsp_blocks`): yosys's ``synth_ecp5``
and ``synth_ice40 -dsp`` map a ``$mul`` with ``techlibs/common/mul2dsp.v``,
which splits an A x B product wider than the block (``DSP_A_MAXWIDTH`` x
``DSP_B_MAXWIDTH``: 18 x 18 on ECP5 for MULT18X18D, 16 x 16 on iCE40 for
SB_MAC16) into ceil(A / w) * ceil(B / w) block-sized partial products.
So a 24 x 24 product takes four MULT18X18D on ECP5 and a 16 x 16 one a single
SB_MAC16 on iCE40. (A 1-bit remainder piece is below ``DSP_*_MINWIDTH`` = 2
and goes to LUTs, so the count is an upper bound by at most that piece.)

Device figures: Lattice ECP5 and ECP5-5G Family Data Sheet (FPGA-DS-02012),
table 1.1, LFE5U-85F: 83,640 LUT4, 208 EBR of 18 kbit, 156 18x18
multipliers; Lattice iCE40 UltraPlus Family Data Sheet (FPGA-DS-02008),
table 1.1, iCE40UP5K: 5,280 LUT4, 30 EBR of 4 kbit, 4 SPRAM of 256 kbit,
8 SB_MAC16.
"""
from dataclasses import asdict, dataclass, replace

from .errors import LayerPipeError, check_fields

# width x depth configurations of one block RAM (data sheets: EBR sysMEM, SB_RAM40_4K)
_EBR_SHAPES = {
    "ecp5": ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512)),
    "ice40": ((2, 2048), (4, 1024), (8, 512), (16, 256)),
}
# the operand width one DSP block multiplies (mul2dsp's DSP_A_MAXWIDTH = DSP_B_MAXWIDTH)
_DSP_WIDTH = {"ecp5": 18, "ice40": 16}
_DSP_NAME = {"ecp5": "MULT18X18D", "ice40": "SB_MAC16"}


@dataclass(frozen=True)
class Target:
    """A device (or a plain DSP budget) the plan resolves a design for.

    name        ``ecp5-85f``, ``ice40up5k``, or ``dsp-budget`` (plain budget)
    family      ``ecp5`` or ``ice40``: how products map onto DSP blocks and
                memories onto block RAM
    dsp_blocks  DSP blocks the lanes may use (MULT18X18D / SB_MAC16)
    ebr_blocks, ebr_bits   block RAMs and bits per block (0: not checked)
    spram_bits  single-port RAM bits (iCE40UP SPRAM), reported but not counted as memory
                the design can use: none of its memories maps onto SPRAM (a weight
                memory is read and written in the same cycle; SPRAM has one port)
    luts        LUT4s (reported for synthesis; the plan does not estimate LUTs)
    operand_registers   register stages in front of each multiplier, 0 to 2
                (:class:`~layerpipe.hw.mac_array.MacArray`), each a cycle a beat for Fmax:
                1 on a plain budget (each DSP block between two registers); 2 on the
                ECP5-85F, whose block RAM to DSP block route fills a 75 MHz cycle by itself
                (the second stage splits it); 0 on the iCE40UP5K, whose logic cells are
                the scarce resource (yosys packs the operand registers into the SB_MAC16,
                but the delays they add to the units' pipelines take cells) and whose
                Fmax the host link sets
    """
    name: str
    family: str
    dsp_blocks: int
    ebr_blocks: int = 0
    ebr_bits: int = 0
    spram_bits: int = 0
    luts: int = 0
    operand_registers: int = 1

    def __post_init__(self):
        if self.family not in _DSP_WIDTH:
            raise LayerPipeError(f"target: family {self.family!r} is not one of {', '.join(_DSP_WIDTH)}")
        for name in ("dsp_blocks", "ebr_blocks", "ebr_bits", "spram_bits", "luts"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise LayerPipeError(f"target: {name} {value!r} must be a non-negative integer")
        if self.operand_registers not in (0, 1, 2) or isinstance(self.operand_registers, bool):
            raise LayerPipeError(f"target: operand_registers {self.operand_registers!r} must be 0, 1 or 2 "
                                 "(register stages in front of each multiplier)")

    @property
    def dsp_width(self):
        """Operand width (bits, signed) one DSP block multiplies."""
        return _DSP_WIDTH[self.family]

    @property
    def dsp_name(self):
        return _DSP_NAME[self.family]

    @property
    def memory_bits(self):
        """On-chip RAM bits the design's memories can use: the block RAM (not the SPRAM,
        see :attr:`spram_bits`); 0 when the target sets no memory limit."""
        return self.ebr_blocks * self.ebr_bits

    def dsp_blocks_per_product(self, a_width, b_width):
        """DSP blocks one ``a_width`` x ``b_width`` signed product takes (see the module docstring)."""
        w = self.dsp_width
        return -(-a_width // w) * -(-b_width // w)

    def ebr_for(self, width, depth):
        """Block RAMs one ``width`` x ``depth`` memory takes, in its cheapest configuration."""
        return min(-(-width // w) * -(-depth // d) for w, d in _EBR_SHAPES[self.family])

    def with_dsp_budget(self, blocks):
        """This target with the lanes limited to ``blocks`` DSP blocks. Raises
        LayerPipeError for a budget that is not a positive integer, or above a
        device's own DSP blocks (a plain ``dsp-budget`` target has no such limit)."""
        if not isinstance(blocks, int) or blocks < 1:
            raise LayerPipeError(f"dsp_budget: {blocks!r} must be a positive number of DSP blocks")
        if self.name != "dsp-budget" and blocks > self.dsp_blocks:
            raise LayerPipeError(f"dsp_budget: {blocks} is more than the {self.dsp_blocks} {self.dsp_name} "
                                 f"of {self.name}")
        return replace(self, dsp_blocks=blocks)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        """The target of a manifest; refuses unknown or missing fields by name."""
        check_fields("target", d, cls.__dataclass_fields__, ("name", "family", "dsp_blocks"))
        return cls(**d)


TARGETS = {
    "ecp5-85f": Target("ecp5-85f", "ecp5", dsp_blocks=156, ebr_blocks=208, ebr_bits=18 * 1024, luts=83_640,
                       operand_registers=2),
    "ice40up5k": Target("ice40up5k", "ice40", dsp_blocks=8, ebr_blocks=30, ebr_bits=4 * 1024,
                        spram_bits=4 * 256 * 1024, luts=5_280, operand_registers=0),
}

# The device each board of layerpipe.boards carries (`generate --board B` plans on it; the
# board classes take their target from here, so the pairing is stated once).
BOARD_TARGETS = {"ulx3s-85f": "ecp5-85f", "icebreaker": "ice40up5k"}
# ... and the network it builds by default (generate, sim and synth with --board and no --net)
BOARD_NETS = {"ulx3s-85f": "64-32-10", "icebreaker": "4-8-3"}
# ... and the DSP blocks its designs may use unless --dsp-budget says otherwise (board_target).
# ULX3S-85F: 80 (64-32-10: 79 multipliers, 69 cycles a sample), a design nextpnr routed on a
# 2-core machine in 26 minutes (README, "Boards and synthesis", at an earlier commit). The
# whole device (156; 140 multipliers, 44 cycles) did not route there: after 40 minutes
# nextpnr's router still had 100,000 of 119,380 arcs to route. --dsp-budget 156 plans it.
BOARD_DSP_BUDGETS = {"ulx3s-85f": 80}

# ULX3S-85F: the LFE5U-85F has 156 MULT18X18D; leave room for the board wrapper.
DEFAULT_DSP_BUDGET = 128


def dsp_budget(blocks=DEFAULT_DSP_BUDGET, family="ecp5"):
    """A plain budget of ``blocks`` DSP blocks of ``family``, no memory limit."""
    return Target("dsp-budget", family, dsp_blocks=1).with_dsp_budget(blocks)


def board_target(board):
    """The target a board's designs are planned on by default: its device
    (:data:`BOARD_TARGETS`) under the board's DSP budget (:data:`BOARD_DSP_BUDGETS`,
    else the whole device). Raises LayerPipeError for an unknown board."""
    if board not in BOARD_TARGETS:
        raise LayerPipeError(f"board: {board!r} is not one of {', '.join(BOARD_TARGETS)}")
    device = get_target(BOARD_TARGETS[board])
    return device.with_dsp_budget(BOARD_DSP_BUDGETS[board]) if board in BOARD_DSP_BUDGETS else device


def get_target(name):
    """A named target; refuses an unknown name with the list of known ones."""
    if name not in TARGETS:
        raise LayerPipeError(f"target: {name!r} is not one of {', '.join(TARGETS)}")
    return TARGETS[name]


DEFAULT_TARGET = dsp_budget()
