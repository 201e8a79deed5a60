from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from layerpipe.hw.plan import words_of


class LfsrHost(wiring.Component):
    """A stand-in for the host link that keeps every part of the accelerator
    observable, so that synthesis can remove nothing: the place-holder until
    the UART link top replaces it in :class:`~layerpipe.boards.board.BoardTop`.

    A 32-bit maximal-length LFSR (taps 32, 22, 2, 1; Xilinx XAPP052) advances
    every cycle and feeds the sample stream (``sample_values`` inputs per
    transfer, ``last`` on a sample's ceil(n_0 / sample_values)-th transfer,
    labels counting 0..n_L-1), the result stream's ``ready``, ``drain`` and
    the read-back address. Every result bit, the read-back word
    and the status word are XOR-reduced into ``observed``, registered, which
    the board drives onto an LED. A bit that reaches an output only through
    an XOR cannot be proven constant, so no weight, gradient or control bit
    that can change a result or a read-back may be optimised away.

    Members
    -------
    observed : Out(1)   the XOR of everything the accelerator outputs, 1 cycle late
    """

    def __init__(self, accelerator):
        self.accelerator = accelerator
        super().__init__({"observed": Out(1)})

    def elaborate(self, platform):
        m = Module()
        acc = self.accelerator
        # a sample is ceil(n_0 / sample_values) transfers (the plan's input loader)
        n0, classes = words_of(acc.plan.widths[0], acc.plan.sample_values), acc.plan.widths[-1]
        lfsr = Signal(32, init=1)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[1] ^ lfsr[21] ^ lfsr[31]))

        word = Signal(range(max(n0, 2)))
        label = Signal.like(acc.samples.p.label)
        m.d.comb += [acc.samples.valid.eq(1), acc.samples.p.x.eq(lfsr),
                     acc.samples.p.label.eq(label), acc.samples.p.last.eq(word == n0 - 1)]
        with m.If(acc.samples.valid & acc.samples.ready):
            m.d.sync += word.eq(Mux(word == n0 - 1, 0, word + 1))
            with m.If(word == n0 - 1):
                m.d.sync += label.eq(Mux(label == classes - 1, 0, label + 1))

        m.d.comb += [acc.results.ready.eq(lfsr[7]), acc.drain.eq(lfsr[13] & lfsr[14]),
                     acc.readback_layer.eq(lfsr[16:]), acc.readback_row.eq(lfsr[8:]),
                     acc.readback_col.eq(lfsr[3:])]
        seen = Cat(acc.results.valid, acc.results.p.as_value(), acc.readback_data, acc.status.as_value())
        m.d.sync += self.observed.eq(seen.xor())
        return m
