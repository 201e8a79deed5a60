from amaranth.hdl import Module, Signal
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
    next_active, next_addr, next_group, next_fifo_word, next_fifo_group : Out
        the values ``active``, ``addr``, ... take at the next clock edge (combinational): a
        memory with a synchronous read addressed by them delivers the word of the
        columns issued in the same cycle as their ``r``, ``i``, ``t``, ``col_ok``.

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
            # the next values of the registers a memory's read address is made of
            "next_active": Out(1),
            "next_addr": Out(range(max(passes * self.words_per_row, 2))),
            "next_group": Out(range(max(word_cols // cols, 2))),
            "next_fifo_word": Out(range(max(words_of(n_in, fifo_cols), 2))),
            "next_fifo_group": Out(range(max(fifo_cols // cols, 2))),
        })

    def elaborate(self, platform):
        m = Module()
        cols = self.cols
        m.d.comb += [self.col_ok[c].eq(self.i + c < self.n_in) for c in range(cols)]
        # every register is driven from its next value, computed here (the default: unchanged)
        regs = (self.active, self.round, self.r, self.i, self.t, self.addr, self.group, self.fifo_word,
                self.fifo_group)
        nxt = {id(reg): Signal.like(reg, name=f"{reg.name}_next") for reg in regs}
        for name, reg in (("active", self.active), ("addr", self.addr), ("group", self.group),
                          ("fifo_word", self.fifo_word), ("fifo_group", self.fifo_group)):
            nxt[id(reg)] = getattr(self, f"next_{name}")
        n = {reg.name: nxt[id(reg)] for reg in regs}
        m.d.comb += [nxt[id(reg)].eq(reg) for reg in regs]
        m.d.sync += [reg.eq(nxt[id(reg)]) for reg in regs]

        end_col = self.t == self.cycles_per_pass - 1
        end_round = end_col & (self.r == self.passes - 1)
        m.d.comb += self.final.eq(self.active & end_round & (self.round == self.rounds - 1))
        restart = [n["i"].eq(0), n["t"].eq(0), n["group"].eq(0), n["fifo_word"].eq(0), n["fifo_group"].eq(0)]
        with m.If(self.start):
            m.d.comb += [n["active"].eq(1), n["round"].eq(0)]
        with m.If(self.start | (self.active & end_round)):
            m.d.comb += [n["r"].eq(0), n["addr"].eq(0), *restart]
            with m.If(self.active & ~self.start):
                with m.If(self.round == self.rounds - 1):
                    m.d.comb += n["active"].eq(0)
                with m.Else():
                    m.d.comb += n["round"].eq(self.round + 1)
        with m.Elif(self.active & end_col):     # the next pass starts on a new word
            m.d.comb += [n["r"].eq(self.r + 1), n["addr"].eq(self.addr + 1), *restart]
        with m.Elif(self.active):
            m.d.comb += [n["i"].eq(self.i + cols), n["t"].eq(self.t + 1)]
            for pos, grp, per in ((self.addr, self.group, self.word_cols // cols),
                                  (self.fifo_word, self.fifo_group, self.fifo_cols // cols)):
                if per == 1:
                    m.d.comb += nxt[id(pos)].eq(pos + 1)
                else:
                    with m.If(grp == per - 1):
                        m.d.comb += [nxt[id(grp)].eq(0), nxt[id(pos)].eq(pos + 1)]
                    with m.Else():
                        m.d.comb += nxt[id(grp)].eq(grp + 1)
        return m
