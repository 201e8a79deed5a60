from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .plan import words_of


class InputLoader(wiring.Component):
    """The pipeline's input loader: takes one sample from the sample stream,
    ``values`` inputs per transfer, and writes it into stage 1's delay FIFO.

    ``values`` is what stage 1 reads per cycle (its columns), so loading a
    sample takes ceil(n_in / values) transfers, never longer than stage 1's
    sweep: the sample stream cannot starve a beat.

    Parameters
    ----------
    n_in : int          inputs per sample (n_0)
    values : int        inputs per transfer
    act : Format        their format
    classes : int       labels are 0..classes-1

    Members
    -------
    samples : In(stream.Signature(sample_layout))   ``x`` (``values`` inputs,
        x[q] is input ``k * values + q`` of transfer k; those past n_in are
        ignored), ``label`` (read with the last transfer), ``last`` (set on
        transfer ceil(n_in / values) - 1 of each sample)
    out : Out(stream.Signature(..., always_ready=True))   ``a``, ``mask`` (the inputs that
        exist), ``last``: the delay FIFO's write side, in the same cycle as the transfer
    loaded : Out(1)     a whole sample waits for its beat (the sample stream is not ready meanwhile)
    loaded_next : Out(1)   ``loaded`` in the next cycle
    label : Out         its label
    take : In(1)        the beat that runs it starts: ``loaded`` falls in the next cycle
    framing_error : Out(1)   sticky: a ``last`` flag disagreed with the count of transfers

    Latency: ``loaded`` rises the cycle after the sample's last transfer.
    """

    def __init__(self, n_in, values, act, classes):
        self.n_in, self.values, self.act, self.classes = n_in, values, act, classes
        self.transfers = words_of(n_in, values)
        self.sample_layout = self.sample_layout_of(values, act, classes)
        self.out_layout = data.StructLayout({"a": data.ArrayLayout(signed(act.width), values),
                                             "mask": values, "last": 1})
        super().__init__({
            "samples": In(stream.Signature(self.sample_layout)),
            "out": Out(stream.Signature(self.out_layout, always_ready=True)),
            "loaded": Out(1), "loaded_next": Out(1), "label": Out(range(max(classes, 2))), "take": In(1),
            "framing_error": Out(1),
        })

    @staticmethod
    def sample_layout_of(values, act, classes):
        """Payload of the sample stream: ``x`` (``values`` inputs), ``label``, ``last``."""
        return data.StructLayout({"x": data.ArrayLayout(signed(act.width), values),
                                  "label": range(max(classes, 2)), "last": 1})

    def elaborate(self, platform):
        m = Module()
        V, last_word = self.values, self.transfers - 1
        word = Signal(range(max(self.transfers, 2)))
        at_last = word == last_word
        partial = sum(1 << q for q in range(V) if last_word * V + q < self.n_in)
        m.d.comb += [self.samples.ready.eq(~self.loaded),
                     self.out.valid.eq(self.samples.valid & ~self.loaded), self.out.p.a.eq(self.samples.p.x),
                     self.out.p.mask.eq(Mux(at_last, partial, (1 << V) - 1)), self.out.p.last.eq(at_last)]
        m.d.comb += self.loaded_next.eq(self.loaded & ~self.take)
        with m.If(self.samples.valid & self.samples.ready):
            with m.If(self.samples.p.last != at_last):
                m.d.sync += self.framing_error.eq(1)
            with m.If(at_last):
                m.d.comb += self.loaded_next.eq(1)
                m.d.sync += [word.eq(0), self.label.eq(self.samples.p.label)]
            with m.Else():
                m.d.sync += word.eq(word + 1)
        m.d.sync += self.loaded.eq(self.loaded_next)
        return m
