"""Fixed-point formats and the one rounding rule of the design.

Every quantity (activation, weight, gradient) is a two's-complement integer
``width`` bits wide whose value is ``q / 2**frac``. Products and sums are
exact in wide accumulators (their width is derived so that a dot product can
never overflow, see :func:`acc_width`); precision is lost in one place only,
when a value is *narrowed*:

    narrow(x, shift, fmt) = saturate(round_shift(x, shift), fmt)
    round_shift(x, s)     = (x + 2**(s-1)) >> s   for s > 0   (round half up,
                                                               arithmetic shift)
                          = x << -s               for s <= 0  (exact)
    saturate(x, fmt)      = min(max(x, -2**(width-1)), 2**(width-1) - 1)

The NumPy functions here are the golden model's arithmetic; the gateware
(``layerpipe.hw.narrow``) implements the same three lines.
"""
from dataclasses import dataclass

import numpy as np

from .errors import LayerPipeError


@dataclass(frozen=True)
class Format:
    """A signed fixed-point format: ``width`` bits, ``frac`` of them fractional."""
    width: int
    frac: int

    def validate(self, field, max_width=32):
        if not isinstance(self.width, int) or not 2 <= self.width <= max_width:
            raise LayerPipeError(f"{field}: width {self.width} is out of range 2..{max_width}")
        if not isinstance(self.frac, int) or not 0 <= self.frac <= self.width - 1:
            raise LayerPipeError(
                f"{field}: {self.frac} fractional bits is out of range 0..{self.width - 1} "
                f"for a {self.width}-bit number")

    @property
    def min(self):
        return -(1 << (self.width - 1))

    @property
    def max(self):
        return (1 << (self.width - 1)) - 1

    @property
    def one(self):
        """The integer that stands for 1.0."""
        return 1 << self.frac

    def quantize(self, x):
        """Real numbers to this format (round half up, saturate): for inputs and
        initial weights only; inside the design values are narrowed, never quantized."""
        return saturate(np.floor(np.asarray(x, dtype=np.float64) * self.one + 0.5).astype(np.int64), self)

    def to_float(self, q):
        return np.asarray(q, dtype=np.float64) / self.one

    def __str__(self):
        return f"Q{self.width - self.frac}.{self.frac}"


def parse_format(text, field):
    """'16.12' (width.frac) into a Format."""
    try:
        width, frac = (int(p) for p in str(text).split("."))
    except ValueError:
        raise LayerPipeError(f"{field}: {text!r} is not WIDTH.FRAC, e.g. 16.12") from None
    fmt = Format(width, frac)
    fmt.validate(field)
    return fmt


def round_shift(x, shift):
    """x / 2**shift rounded half up (arithmetic shift); exact left shift for shift <= 0."""
    x = np.asarray(x, dtype=np.int64)
    if shift > 0:
        return (x + (np.int64(1) << (shift - 1))) >> shift
    return x << -shift


def saturate(x, fmt, tally=None):
    """Clip ``x`` to ``fmt``'s range; ``tally(n)``, if given, hears how many values were clipped."""
    x = np.asarray(x, dtype=np.int64)
    if tally is not None:
        tally(int(np.count_nonzero((x < fmt.min) | (x > fmt.max))))
    return np.clip(x, fmt.min, fmt.max)


def narrow(x, shift, fmt, tally=None):
    """The only lossy step: round ``shift`` fractional bits away, then saturate to ``fmt``
    (``tally`` as for :func:`saturate`)."""
    return saturate(round_shift(x, shift), fmt, tally)


def acc_width(a, b, terms):
    """Bits for an exact sum of ``terms`` products of formats ``a`` and ``b``
    (plus one more term for a bias): no dot product can overflow before it is narrowed."""
    return a.width + b.width + int(terms).bit_length()
