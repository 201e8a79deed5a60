from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .forward_unit import pass_layout
from .plan import passes_of, words_of


class ResultBuffer(wiring.Component):
    """The pipeline's result buffer: collects stage L's forward outputs a_L,
    one pass at a time, and sends them on the result stream, ``values``
    outputs per transfer, while the next beat runs.

    ``values`` is chosen so that a result leaves within a beat
    (ceil(n_out / values) transfers), so the result stream keeps up with the
    pipeline when it is always ready.

    Parameters
    ----------
    n_out, lanes : int     outputs n_L, outputs per pass of stage L
    values : int           outputs per transfer
    act : Format; classes : int

    Members
    -------
    a_in : In(stream.Signature(pass_layout(n_out, lanes, act), always_ready=True))   stage L's passes
    copy : In(1)      the result is complete (the last pass may arrive in this same cycle):
        take it and the label and start sending; only while ``busy`` is low
    label : In(range(classes))   the label of that sample, read at ``copy``
    busy : Out(1)     transfers of the last copied result are still to go
    busy_next : Out(1)   ``busy`` in the next cycle
    results : Out(stream.Signature(result_layout))   ``a`` (outputs k * values + q of transfer
        k; those past n_out are 0), ``label``, ``last`` (on the final transfer of a result)

    Latency: the first transfer is offered the cycle after ``copy``; one per
    cycle after that while ``results.ready`` is high.
    """

    def __init__(self, n_out, lanes, values, act, classes):
        self.n_out, self.lanes, self.values, self.act = n_out, lanes, values, act
        self.transfers = words_of(n_out, values)
        self.result_layout = self.result_layout_of(values, act, classes)
        super().__init__({
            "a_in": In(stream.Signature(pass_layout(n_out, lanes, act), always_ready=True)),
            "copy": In(1), "label": In(range(max(classes, 2))), "busy": Out(1), "busy_next": Out(1),
            "results": Out(stream.Signature(self.result_layout)),
        })

    @staticmethod
    def result_layout_of(values, act, classes):
        """Payload of the result stream: ``a`` (``values`` outputs), ``label``, ``last``."""
        return data.StructLayout({"a": data.ArrayLayout(signed(act.width), values),
                                  "label": range(max(classes, 2)), "last": 1})

    def elaborate(self, platform):
        m = Module()
        n, P, V, T = self.n_out, self.lanes, self.values, self.transfers
        width = self.act.width
        result = [Signal(signed(width), name=f"result{k}") for k in range(n)]
        # what result will hold after this cycle: the last pass may arrive in the copy cycle
        result_next = [Signal(signed(width), name=f"result_next{k}") for k in range(n)]
        m.d.comb += [result_next[k].eq(result[k]) for k in range(n)]
        with m.If(self.a_in.valid):
            for q in range(passes_of(n, P)):
                with m.If(self.a_in.p.word == q):
                    for j in range(P):
                        if q * P + j < n:
                            m.d.comb += result_next[q * P + j].eq(self.a_in.p.a[j])
        m.d.sync += [result[k].eq(result_next[k]) for k in range(n)]

        # the outgoing result as T words of V values that shift down by one word per transfer
        out = [Signal(signed(width), name=f"out{k}") for k in range(T * V)]
        count = Signal(range(T + 1))
        label = Signal.like(self.label)
        m.d.comb += [self.busy.eq(count != 0), self.results.valid.eq(count != 0),
                     self.busy_next.eq(self.copy | ((count != 0) & ~((count == 1) & self.results.ready))),
                     self.results.p.label.eq(label), self.results.p.last.eq(count == 1)]
        m.d.comb += [self.results.p.a[q].eq(out[q]) for q in range(V)]
        with m.If(self.copy):
            m.d.sync += [count.eq(T), label.eq(self.label)]
            m.d.sync += [out[k].eq(result_next[k] if k < n else 0) for k in range(T * V)]
        with m.Elif(self.results.valid & self.results.ready):
            m.d.sync += count.eq(count - 1)
            m.d.sync += [out[k].eq(out[k + V] if k + V < T * V else 0) for k in range(T * V)]
        return m
