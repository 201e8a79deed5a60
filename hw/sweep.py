from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .plan import words_of


class Sweep(wiring.Component):
    """The address sequence of one sweep over a layer's weights: ``rounds``
    times, ``passes`` row blocks, ``cols`` adjacent columns per cycle.

    A pass issues the columns i = 0, cols, 2 cols, ... < n_in, one group of
    ``cols`` per cycle: ceil(n_in / cols) cycles (:attr:`cycles_per_pass`).
    The weight memory holds ``word_cols`` adjacent columns per word
    (:class:`~layerpipe.hw.weight_memory.WeightMemory`, a multiple of
    ``cols``): column i of pass r is in word ``r * H + i // word_cols``
    (H = ceil(n_in / word_cols)), group ``(i % word_cols) // cols`` of it.
    The delay FIFO holds ``fifo_cols`` values per word
    (:class:`~layerpipe.hw.delay_fifo.DelayFifo`, a multiple of ``cols``):
    column i is in word ``i // fifo_cols``, group ``(i % fifo_cols) // cols``.
    All positions are counted, never divided.

    Members
    -------
    start : In(1)       begin: the first columns are issued in the next cycle
    active : Out(1)     columns are issued this cycle
    final : Out(1)      this is the sweep's last cycle
    round, r : Out      the round and pass
    i : Out             the first column issued
    t : Out             ``i // cols``: the group's number within the pass
    addr, group : Out   the weight-memory word and group
    fifo_word, fifo_group : Out   the delay-FIFO word and group
    col_ok : Out(cols)  which of the columns issued exist (the last group may be partly empty)

    Raises ``ValueError`` if ``cols`` does not divide ``word_cols`` or ``fifo_cols``.
    """

    def __init__(self, n_in, passes, cols=1, word_cols=None, fifo_cols=None, rounds=1):
        word_cols = word_cols or cols
        fifo_cols = fifo_cols or cols
        if word_cols % cols or fifo_cols % cols:
            raise ValueError(f"cols {cols} must divide word_cols {word_cols} and fifo_cols {fifo_cols}")
        self.n_in, self.passes, self.cols, self.rounds = n_in, passes, cols, rounds
        self.word_cols, self.fifo_cols = word_cols, fifo_cols
        self.words_per_row = words_of(n_in, word_cols)
        self.cycles_per_pass = words_of(n_in, cols)
        super().__init__({
            "start": In(1), "active": Out(1), "final": Out(1),
            "round": Out(range(max(rounds, 2))), "r": Out(range(max(passes, 2))),
            "i": Out(range(max(n_in, 2))), "t": Out(range(max(self.cycles_per_pass, 2))),
            "addr": Out(range(max(passes * self.words_per_row, 2))),
            "group": Out(range(max(word_cols // cols, 2))),
            "fifo_word": Out(range(max(words_of(n_in, fifo_cols), 2))),
            "fifo_group": Out(range(max(fifo_cols // cols, 2))),
            "col_ok": Out(cols),
        })

    def elaborate(self, platform):
        m = Module()
        cols = self.cols
        m.d.comb += [self.col_ok[c].eq(self.i + c < self.n_in) for c in range(cols)]

        end_col = self.t == self.cycles_per_pass - 1
        end_round = end_col & (self.r == self.passes - 1)
        m.d.comb += self.final.eq(self.active & end_round & (self.round == self.rounds - 1))
        restart = [self.i.eq(0), self.t.eq(0), self.group.eq(0), self.fifo_word.eq(0), self.fifo_group.eq(0)]
        with m.If(self.start):
            m.d.sync += [self.active.eq(1), self.round.eq(0)]
        with m.If(self.start | (self.active & end_round)):
            m.d.sync += [self.r.eq(0), self.addr.eq(0), *restart]
            with m.If(self.active & ~self.start):
                with m.If(self.round == self.rounds - 1):
                    m.d.sync += self.active.eq(0)
                with m.Else():
                    m.d.sync += self.round.eq(self.round + 1)
        with m.Elif(self.active & end_col):     # the next pass starts on a new word
            m.d.sync += [self.r.eq(self.r + 1), self.addr.eq(self.addr + 1), *restart]
        with m.Elif(self.active):
            m.d.sync += [self.i.eq(self.i + cols), self.t.eq(self.t + 1)]
            for pos, grp, per in ((self.addr, self.group, self.word_cols // cols),
                                  (self.fifo_word, self.fifo_group, self.fifo_cols // cols)):
                if per == 1:
                    m.d.sync += pos.eq(pos + 1)
                else:
                    with m.If(grp == per - 1):
                        m.d.sync += [grp.eq(0), pos.eq(pos + 1)]
                    with m.Else():
                        m.d.sync += grp.eq(grp + 1)
        return m
