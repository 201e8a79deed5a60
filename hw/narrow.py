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
    """``saturate(round_shift(x, shift), fmt)``, bit for bit, built for speed.

    With shift s > 0 and h = 2**(s-1), round_shift(x) = floor((x + h) / 2**s), so
    round_shift(x) > max  <=>  x >= (max + 1) * 2**s - h   and
    round_shift(x) < min  <=>  x <  min * 2**s - h:
    both limits are compared with ``x`` itself, in parallel with the rounding
    add, instead of after it (one carry chain on the path, not two)."""
    if shift <= 0:
        return saturate(round_shift(x, shift), fmt)
    x = x.as_signed()
    half = 1 << (shift - 1)
    over = x >= ((fmt.max + 1) << shift) - half
    under = x < (fmt.min << shift) - half
    rounded = round_shift(x, shift)[:fmt.width].as_signed()
    return Mux(over, fmt.max, Mux(under, fmt.min, rounded)).as_signed()[:fmt.width].as_signed()


