"""The on-chip order of the stored samples: a walk of a maximal-length LFSR.

A Galois LFSR of ``m`` bits with the taps below visits every state
1 .. 2^m - 1 once per period (2^m - 1 steps). The order keeps the states
s with s - 1 < count and takes index s - 1, so the stored samples 0 .. count-1
appear in one fixed cyclic order; every run of ``count`` consecutive indices
of it, i.e. every epoch, is a permutation of the store. Epoch e + 1 continues
the walk where epoch e stopped. The host picks the start state (its seed) in
the START command. The software twin is ``layerpipe.sim.link_golden.EpochOrder``;
:func:`lfsr_step` is the one definition of a step, used by both.
"""
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

# Galois (right-shift) feedback masks of maximal-length LFSRs, m = 2..20
# (the table of Wikipedia's "Linear-feedback shift register", "Example
# polynomials for maximal LFSRs"; tests/test_link.py checks every period).
TAPS = {2: 0x3, 3: 0x6, 4: 0xC, 5: 0x14, 6: 0x30, 7: 0x60, 8: 0xB8, 9: 0x110, 10: 0x240, 11: 0x500,
        12: 0xE08, 13: 0x1C80, 14: 0x3802, 15: 0x6000, 16: 0xD008, 17: 0x12000, 18: 0x20400,
        19: 0x72000, 20: 0x90000}


def lfsr_bits(capacity):
    """The fewest LFSR bits whose 2^m - 1 states cover ``capacity`` samples."""
    m = max(2, capacity.bit_length())
    if m not in TAPS:
        raise ValueError(f"store of {capacity} samples: at most {2 ** max(TAPS) - 1}")
    return m


def lfsr_step(state, m):
    """The next state (an int, or an Amaranth value)."""
    if isinstance(state, int):
        return (state >> 1) ^ (TAPS[m] if state & 1 else 0)
    return (state >> 1) ^ Mux(state[0], TAPS[m], 0)


class EpochOrder(wiring.Component):
    """Produces the indices of one epoch after another (see the module doc).

    ``load`` (a pulse) sets the state to ``seed``; each ``next`` pulse steps
    the walk to the following index < ``count``; ``index`` is valid when
    ``valid`` is high. A step takes 1 cycle plus one per skipped state
    (states >= count + 1), at most 2^m - count - 1.

    Members
    -------
    count : In        samples in the store (1 .. 2^m - 1)
    seed : In(m)      a nonzero start state
    load, next : In(1)
    index : Out       the current index (valid while ``valid``)
    valid : Out(1)
    """

    def __init__(self, m):
        self.m = m
        super().__init__({"count": In(m), "seed": In(m), "load": In(1), "next": In(1),
                          "index": Out(m), "valid": Out(1)})

    def elaborate(self, platform):
        m = Module()
        state = Signal(self.m, init=1)
        hit = Signal()
        m.d.comb += [self.index.eq(state - 1), hit.eq(state - 1 < self.count)]
        seeking = Signal()
        m.d.comb += self.valid.eq(hit & ~seeking)
        with m.If(self.load):
            m.d.sync += [state.eq(self.seed), seeking.eq(1)]
        with m.Elif(self.next | (seeking & ~hit)):
            m.d.sync += [state.eq(lfsr_step(state, self.m)), seeking.eq(1)]
        with m.Elif(seeking):
            m.d.sync += seeking.eq(0)
        return m
