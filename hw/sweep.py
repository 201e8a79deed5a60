from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class Sweep(wiring.Component):
    """The address sequence of one sweep over a layer's weights: ``rounds``
    times, ``passes`` row blocks of n_in columns, one column per cycle.

    Column ``i`` is also given as (``word``, ``lane``) of the delay FIFO's
    ``in_lanes``-wide words, counted rather than divided. Pass ``r`` reads
    weight-memory word block ``r // groups`` through bank group
    ``r % groups`` (see :class:`~layerpipe.hw.weight_memory.WeightMemory`'s
    ``fwd_lanes``), so ``addr`` is ``(r // groups) * n_in + i``, again
    counted.

    Members
    -------
    start : In(1)       begin: the first column is issued in the next cycle
    active : Out(1)     a column is issued this cycle
    final : Out(1)      this is the last column of the sweep
    round, r, group, i, word, lane, addr : Out   the column issued
    """

    def __init__(self, n_in, passes, in_lanes=1, groups=1, rounds=1):
        self.n_in, self.passes, self.in_lanes, self.groups, self.rounds = n_in, passes, in_lanes, groups, rounds
        blocks = -(-passes // groups)
        super().__init__({
            "start": In(1), "active": Out(1), "final": Out(1),
            "round": Out(range(max(rounds, 2))), "r": Out(range(max(passes, 2))),
            "group": Out(range(max(groups, 2))), "i": Out(range(max(n_in, 2))),
            "word": Out(range(max(-(-n_in // in_lanes), 2))), "lane": Out(range(max(in_lanes, 2))),
            "addr": Out(range(max(blocks * n_in, 2))),
        })

    def elaborate(self, platform):
        m = Module()
        base = Signal.like(self.addr)        # first word of the current block
        end_col = self.i == self.n_in - 1
        end_round = end_col & (self.r == self.passes - 1)
        m.d.comb += self.final.eq(self.active & end_round & (self.round == self.rounds - 1))
        with m.If(self.start):
            m.d.sync += [self.active.eq(1), self.round.eq(0)]
        with m.If(self.start | (self.active & end_round)):
            m.d.sync += [self.r.eq(0), self.group.eq(0), self.i.eq(0), self.word.eq(0), self.lane.eq(0),
                         self.addr.eq(0), base.eq(0)]
            with m.If(self.active & ~self.start):
                with m.If(self.round == self.rounds - 1):
                    m.d.sync += self.active.eq(0)
                with m.Else():
                    m.d.sync += self.round.eq(self.round + 1)
        with m.Elif(self.active & end_col):
            m.d.sync += [self.r.eq(self.r + 1), self.i.eq(0), self.word.eq(0), self.lane.eq(0)]
            with m.If(self.group == self.groups - 1):
                m.d.sync += [self.group.eq(0), self.addr.eq(self.addr + 1), base.eq(self.addr + 1)]
            with m.Else():
                m.d.sync += [self.group.eq(self.group + 1), self.addr.eq(base)]
        with m.Elif(self.active):
            m.d.sync += [self.i.eq(self.i + 1), self.addr.eq(self.addr + 1)]
            with m.If(self.lane == self.in_lanes - 1):
                m.d.sync += [self.lane.eq(0), self.word.eq(self.word + 1)]
            with m.Else():
                m.d.sync += self.lane.eq(self.lane + 1)
        return m
