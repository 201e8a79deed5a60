"""Phase-locked loops that turn a board's oscillator into the design clock.

Only the divider search lives here; the primitives are instantiated by the
board (:mod:`layerpipe.boards.board`). Both searches return the fastest
output frequency not above the one asked for.
"""
from dataclasses import dataclass

from layerpipe.hw.errors import LayerPipeError


@dataclass(frozen=True)
class Ecp5Pll:
    """EHXPLLL dividers with CLKOP fed back: f_out = f_in * clkfb_div / clki_div,
    f_vco = f_out * clkop_div in 400..800 MHz, f_pfd = f_in / clki_div >= 3.125 MHz
    (ECP5 sysCLOCK PLL usage guide, FPGA-TN-02200; the same limits as ``ecppll``)."""
    f_in_mhz: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def f_out_mhz(self):
        return self.f_in_mhz * self.clkfb_div / self.clki_div

    @classmethod
    def solve(cls, f_in_mhz, f_out_mhz):
        best = None
        for clki in range(1, 129):
            if f_in_mhz / clki < 3.125:
                break
            for fb in range(1, 81):
                f = f_in_mhz * fb / clki
                if f > f_out_mhz + 1e-9:
                    break
                op = next((d for d in range(1, 129) if 400 <= f * d <= 800), None)
                if op is not None and (best is None or f > best.f_out_mhz + 1e-9):
                    best = cls(f_in_mhz, clki, fb, op)
        if best is None:
            raise LayerPipeError(f"clock: no EHXPLLL setting gives {f_out_mhz} MHz or less from {f_in_mhz} MHz")
        return best

    def params(self):
        """Instance parameters of EHXPLLL (``p_`` prefix added by the caller)."""
        return dict(PLLRST_ENA="DISABLED", INTFB_WAKE="DISABLED", STDBY_ENABLE="DISABLED",
                    DPHASE_SOURCE="DISABLED", OUTDIVIDER_MUXA="DIVA", CLKOP_ENABLE="ENABLED",
                    CLKI_DIV=self.clki_div, CLKFB_DIV=self.clkfb_div, CLKOP_DIV=self.clkop_div,
                    CLKOP_CPHASE=self.clkop_div - 1, CLKOP_FPHASE=0, FEEDBK_PATH="CLKOP")


@dataclass(frozen=True)
class Ice40Pll:
    """SB_PLL40_PAD dividers, simple feedback: f_pfd = f_in / (divr + 1) in
    10..133 MHz, f_vco = f_pfd * (divf + 1) in 533..1066 MHz, f_out = f_vco / 2**divq
    with divq 1..6 (iCE40 sysCLOCK PLL design guide, TN1251; as ``icepll``)."""
    f_in_mhz: float
    divr: int
    divf: int
    divq: int

    @property
    def f_out_mhz(self):
        return self.f_in_mhz / (self.divr + 1) * (self.divf + 1) / 2 ** self.divq

    @property
    def filter_range(self):
        pfd = self.f_in_mhz / (self.divr + 1)
        return next(i for i, top in enumerate((17, 26, 44, 66, 101), 1) if pfd < top) if pfd < 101 else 6

    @classmethod
    def solve(cls, f_in_mhz, f_out_mhz):
        best = None
        for divr in range(16):
            pfd = f_in_mhz / (divr + 1)
            if not 10 <= pfd <= 133:
                continue
            for divf in range(128):
                vco = pfd * (divf + 1)
                if not 533 <= vco <= 1066:
                    continue
                for divq in range(1, 7):
                    f = vco / 2 ** divq
                    if f <= f_out_mhz + 1e-9 and (best is None or f > best.f_out_mhz + 1e-9):
                        best = cls(f_in_mhz, divr, divf, divq)
        if best is None:
            raise LayerPipeError(f"clock: no SB_PLL40 setting gives {f_out_mhz} MHz or less from {f_in_mhz} MHz")
        return best

    def params(self):
        """Instance parameters of SB_PLL40_PAD (``p_`` prefix added by the caller)."""
        return dict(FEEDBACK_PATH="SIMPLE", DIVR=self.divr, DIVF=self.divf, DIVQ=self.divq,
                    FILTER_RANGE=self.filter_range)
