"""Boards: each a small declarative class over an amaranth-boards platform
(:class:`~layerpipe.boards.board.Board`), looked up by its ``--board`` name."""
from layerpipe.hw.errors import LayerPipeError

from .icebreaker import IceBreaker
from .ulx3s import Ulx3s85f

BOARDS = {b.name: b for b in (Ulx3s85f, IceBreaker)}


def board(name, clock_mhz=None):
    """The board called ``name``, its design clock ``clock_mhz`` (MHz; default the board's own,
    :attr:`~layerpipe.boards.board.Board.clock_mhz`) as its PLL makes it: the fastest setting
    not above the one asked for. LayerPipeError naming the known boards for an unknown name,
    or saying why for a clock the PLL cannot make."""
    try:
        b = BOARDS[name]()
    except KeyError:
        raise LayerPipeError(f"board: {name!r} is not one of {', '.join(BOARDS)}") from None
    if clock_mhz is not None:
        if not isinstance(clock_mhz, (int, float)) or isinstance(clock_mhz, bool) or not clock_mhz > 0:
            raise LayerPipeError(f"clock-mhz: {clock_mhz!r} must be a positive number of MHz")
        b.clock_mhz = clock_mhz
        b.clock_mhz = b.pll().f_out_mhz     # refuses a clock the PLL cannot make, before any tool runs
    return b
