"""Device targets: the resources of one FPGA, stated once.

Boards (``layerpipe.boards``), the lane chooser and the synthesis report all
take their figures from here. Sources: Lattice ECP5 family data sheet
(FPGA-DS-02012: LFE5U-85F 84k LUT4, 208 sysMEM EBR of 18 kbit, 156 18x18
multipliers, EHXPLLL) and iCE40 UltraPlus family data sheet (FPGA-DS-02008:
iCE40UP5K 5,280 LUT4, 30 EBR of 4 kbit, 4 SPRAM of 256 kbit, 8 SB_MAC16).
"""
from dataclasses import dataclass

from .errors import LayerPipeError


@dataclass(frozen=True)
class Target:
    """One device.

    name        short name used on the command line (``ecp5-85f``)
    family      ``ecp5`` or ``ice40``
    device      the vendor part name
    luts        4-input LUTs (ECP5: 2 per slice; iCE40: 1 per logic cell)
    ffs         flip-flops (one per LUT on both families)
    dsps        multiplier blocks: MULT18X18D (ECP5) or SB_MAC16 (iCE40)
    dsp_width   widest signed operand one block multiplies (18 or 16 bits)
    brams       block RAMs (EBR), each ``bram_bits`` bits
    sprams      single-port RAMs (UP5K only), each ``spram_bits`` bits
    """
    name: str
    family: str
    device: str
    luts: int
    ffs: int
    dsps: int
    dsp_width: int
    brams: int
    bram_bits: int
    sprams: int = 0
    spram_bits: int = 0

    @property
    def bram_total_bits(self):
        return self.brams * self.bram_bits


TARGETS = {t.name: t for t in (
    Target("ecp5-85f", "ecp5", "LFE5U-85F", luts=83_640, ffs=83_640, dsps=156, dsp_width=18,
           brams=208, bram_bits=18_432),
    Target("ice40up5k", "ice40", "iCE40UP5K", luts=5_280, ffs=5_280, dsps=8, dsp_width=16,
           brams=30, bram_bits=4_096, sprams=4, spram_bits=262_144),
)}


def target(name):
    """The :class:`Target` called ``name``; LayerPipeError naming the known ones otherwise."""
    try:
        return TARGETS[name]
    except KeyError:
        raise LayerPipeError(f"target: {name!r} is not one of {', '.join(TARGETS)}") from None
