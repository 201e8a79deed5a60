"""Gateware of the one rounding rule (see ``fixed_point.py``):
``saturate(round_shift(x, shift), fmt)``, round half up by adding 2**(shift-1)
before an arithmetic right shift."""
from amaranth.hdl import Mux


def round_shift(x, shift):
    """x / 2**shift rounded half up; exact left shift for shift <= 0 (combinational)."""
    x = x.as_signed()
    if shift > 0:
        return ((x + (1 << (shift - 1))) >> shift).as_signed()
    return x << -shift


def saturate(x, fmt):
    """Clamp ``x`` into ``fmt`` and return a ``signed(fmt.width)`` value (combinational)."""
    return Mux(x > fmt.max, fmt.max, Mux(x < fmt.min, fmt.min, x)).as_signed()[:fmt.width].as_signed()


def narrow(x, shift, fmt):
    return saturate(round_shift(x, shift), fmt)
