from amaranth.hdl import Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .plan import words_of


class Sweep(wiring.Component):
    """The address sequence of one sweep over a layer's weights: ``rounds``
    times, ``passes`` row blocks of ``n_in`` columns.

    The weight memory holds ``cols`` adjacent columns per word
    (:class:`~layerpipe.hw.weight_memory.WeightMemory`): column i of pass r
    is word ``r * H + i // cols`` (H = ceil(n_in / cols)), bank group
    ``i % cols``. A narrow sweep issues one column per cycle (``n_in`` cycles
    per pass), a ``wide`` one a whole word, ``cols`` columns, per cycle (H
    cycles per pass). Every column issued is also given as (``word``,
    ``lane``) of the delay FIFO's ``in_lanes``-wide words; all positions are
    counted, never divided.

    Members
    -------
    start : In(1)       begin: the first column is issued in the next cycle
    active : Out(1)     columns are issued this cycle
    final : Out(1)      this is the sweep's last cycle
    round, r : Out      the round and pass
    i : Out             the (first) column issued
    col : Out           ``i % cols`` (0 in a wide sweep)
    addr : Out          the weight-memory word
    word, lane : Out(ArrayLayout(..., reads))   FIFO position of column i + c, c < reads
        (reads = ``cols`` in a wide sweep, else 1)
    col_ok : Out(reads) which of the columns issued exist (the last word may be half empty)
    """

    def __init__(self, n_in, passes, in_lanes=1, cols=1, wide=False, rounds=1):
        self.n_in, self.passes, self.in_lanes, self.cols, self.wide, self.rounds = \
            n_in, passes, in_lanes, cols, wide, rounds
        self.words_per_row = words_of(n_in, cols)
        self.reads = cols if wide else 1
        self.cycles_per_pass = self.words_per_row if wide else n_in
        fifo_words = words_of(n_in, in_lanes)
        super().__init__({
            "start": In(1), "active": Out(1), "final": Out(1),
            "round": Out(range(max(rounds, 2))), "r": Out(range(max(passes, 2))),
            "i": Out(range(max(n_in, 2))), "col": Out(range(max(cols, 2))),
            "addr": Out(range(max(passes * self.words_per_row, 2))),
            "word": Out(data.ArrayLayout(range(max(fifo_words + 1, 2)), self.reads)),
            "lane": Out(data.ArrayLayout(range(max(in_lanes, 2)), self.reads)),
            "col_ok": Out(self.reads),
        })

    def _advance(self, word, lane, step):
        """FIFO position ``step`` columns after (word, lane): repeated conditional subtraction."""
        for _ in range(-(-step // self.in_lanes)):
            wrap = lane + step >= self.in_lanes
            word, lane, step = Mux(wrap, word + 1, word), Mux(wrap, lane + step - self.in_lanes, lane + step), 0
        return word, lane

    def elaborate(self, platform):
        m = Module()
        step = self.cols if self.wide else 1
        word, lane = self.word[0], self.lane[0]
        for c in range(1, self.reads):
            w, ln = self._advance(word, lane, c)
            m.d.comb += [self.word[c].eq(w), self.lane[c].eq(ln)]
        m.d.comb += [self.col_ok[c].eq(self.i + c < self.n_in) for c in range(self.reads)]

        end_col = self.i == (self.words_per_row - 1) * self.cols if self.wide else self.i == self.n_in - 1
        end_round = end_col & (self.r == self.passes - 1)
        m.d.comb += self.final.eq(self.active & end_round & (self.round == self.rounds - 1))
        with m.If(self.start):
            m.d.sync += [self.active.eq(1), self.round.eq(0)]
        with m.If(self.start | (self.active & end_round)):
            m.d.sync += [self.r.eq(0), self.i.eq(0), self.col.eq(0), self.addr.eq(0), word.eq(0), lane.eq(0)]
            with m.If(self.active & ~self.start):
                with m.If(self.round == self.rounds - 1):
                    m.d.sync += self.active.eq(0)
                with m.Else():
                    m.d.sync += self.round.eq(self.round + 1)
        with m.Elif(self.active & end_col):     # the next pass starts on a new word
            m.d.sync += [self.r.eq(self.r + 1), self.i.eq(0), self.col.eq(0), self.addr.eq(self.addr + 1),
                         word.eq(0), lane.eq(0)]
        with m.Elif(self.active):
            w, ln = self._advance(word, lane, step)
            m.d.sync += [self.i.eq(self.i + step), word.eq(w), lane.eq(ln)]
            if self.wide or self.cols == 1:
                m.d.sync += self.addr.eq(self.addr + 1)
            else:
                with m.If(self.col == self.cols - 1):
                    m.d.sync += [self.col.eq(0), self.addr.eq(self.addr + 1)]
                with m.Else():
                    m.d.sync += self.col.eq(self.col + 1)
        return m
