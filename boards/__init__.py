"""Boards: each a small declarative class over an amaranth-boards platform
(:class:`~layerpipe.boards.board.Board`), looked up by its ``--board`` name."""
from layerpipe.hw.errors import LayerPipeError

from .icebreaker import IceBreaker
from .ulx3s import Ulx3s85f

BOARDS = {b.name: b for b in (Ulx3s85f, IceBreaker)}


def board(name):
    """The board called ``name``; LayerPipeError naming the known ones otherwise."""
    try:
        return BOARDS[name]()
    except KeyError:
        raise LayerPipeError(f"board: {name!r} is not one of {', '.join(BOARDS)}") from None
