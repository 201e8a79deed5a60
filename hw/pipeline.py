from amaranth.hdl import Array, Cat, Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .input_loader import InputLoader
from .output_error import OutputError
from .result_buffer import ResultBuffer
from .stage import Stage
from .weight_readback import WeightReadback


class Pipeline(wiring.Component):
    """The LayerPipe training pipeline of a whole network: one :class:`Stage`
    per layer, advancing in beats (DESIGN.md 3).

    In beat k stage l runs the forward of sample k-(l-1) and the backward of
    sample k-(2L-l). In ``pipedream`` mode the stages past the first run their
    backward as one unit, B then W, with the lanes of both (same numbers). A
    beat starts when every stage is idle, the next sample has been loaded (or
    ``drain`` is high and samples are still in flight) and the previous result
    has left. The start is decided a cycle ahead, from what each of these will
    be (the stages' ``ending``, the loader's ``loaded_next``, the result
    buffer's ``busy_next``; ``drain`` as it is then), and registered: the
    decision's inputs and the start's fanout to every stage's sweeps are two
    paths of a clock each, at no cycle's cost. So a gap in the sample stream
    or backpressure on the result stream stalls whole beats and never drops
    or repeats a sample. In
    ``sequential`` mode a sample is admitted only when the pipeline is empty:
    plain SGD.

    Parameters: ``plan`` (:class:`~layerpipe.hw.plan.DesignPlan`), the
    initial integer weights and biases per layer.

    Members
    -------
    samples : In(stream)   :attr:`sample_values` inputs per transfer (stage 1's
        columns), ceil(n_0 / sample_values) transfers per sample; ``label`` is
        read with the last transfer, which has ``last`` set (:class:`InputLoader`)
    results : Out(stream)  per sample, the ``n_L`` output values a_L (linear
        output layer), :attr:`result_values` per transfer, ``last`` on the final
        one; ``label`` repeats the sample's label (:class:`ResultBuffer`)
    drain : In(1)          let beats run without a new sample until empty
    readback_layer, readback_row, readback_col : In   read W_l[row, col]
        (``col == n_{l-1}`` reads the bias b_l[row]) while idle;
    readback_data : Out    READBACK_LATENCY cycles later (``hw/weight_readback.py``)
    status : Out           beats run, samples trained, framing error, idle
    """

    stage_class = Stage     # a layer's component (the multiprocessor design has its own)

    def __init__(self, plan, init_weights, init_biases):
        self.plan, self.cfg, self.lanes, self.cols = plan, plan.config, plan.lanes, plan.cols
        cfg, L = plan.config, plan.n_layers
        self.stages = [self.stage_class(p, init_weights[l], init_biases[l]) for l, p in enumerate(plan.layers)]
        classes = cfg.widths[-1]
        self.sample_values, self.result_values = plan.sample_values, plan.result_values
        self.loader = InputLoader(cfg.widths[0], self.sample_values, cfg.act, classes)
        self.output_error = OutputError(classes, self.lanes[-1], cfg.act, cfg.grad, classes)
        self.result_buffer = ResultBuffer(classes, self.lanes[-1], self.result_values, cfg.act, classes)
        layouts = plan.port_layouts()
        self.sample_layout, self.result_layout = layouts["samples"], layouts["results"]
        self.status_layout = layouts["status"]
        widest = max(cfg.widths)
        super().__init__({
            "samples": In(stream.Signature(self.sample_layout)),
            "results": Out(stream.Signature(self.result_layout)),
            "drain": In(1),
            "readback_layer": In(range(max(L, 2))),
            "readback_row": In(range(max(widest, 2))),
            "readback_col": In(range(widest + 1)),
            "readback_data": Out(signed(cfg.weight.width)),
            "status": Out(self.status_layout),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, L = self.cfg, self.cfg.n_layers
        stages = self.stages
        for l, st in enumerate(stages, 1):
            m.submodules[f"stage{l}"] = st
        # activations flow forward, gradients backward, stage to stage
        for l in range(1, L):
            m.d.comb += [stages[l].act_in.valid.eq(stages[l - 1].act_out.valid),
                         stages[l].act_in.p.a.eq(stages[l - 1].act_out.p.a),
                         stages[l].act_in.p.mask.eq(stages[l - 1].act_out.p.mask),
                         stages[l].act_in.p.last.eq(stages[l - 1].act_out.p.last)]
            m.d.comb += [stages[l - 1].grad_in.valid.eq(stages[l].grad_out.valid),
                         stages[l - 1].grad_in.p.eq(stages[l].grad_out.p)]

        # -- the input loader writes the next sample into stage 1's delay FIFO
        m.submodules.input_loader = loader = self.loader
        wiring.connect(m, wiring.flipped(self.samples), loader.samples)
        wiring.connect(m, loader.out, stages[0].act_in)
        loaded, label_next, framing_error = loader.loaded, loader.label, loader.framing_error

        # -- beat control: which stage runs which sample moves one stage per beat
        fwd = Signal(L)                  # fwd[l-1]: stage l runs a forward this beat
        bwd = Signal(L)                  # bwd[l-1]: stage l runs a backward this beat
        labels = Array(Signal.like(label_next, name=f"label{l}") for l in range(1, L + 1))
        next_bwd = Cat(bwd[1:], fwd[-1]) if L > 1 else fwd[-1]
        busy_next = Signal()             # a sample in flight has a task in the next beat
        m.d.comb += busy_next.eq(fwd[:-1].any() | next_bwd.any() if L > 1 else next_bwd.any())

        def admitted(loaded):
            """Whether a sample, ``loaded`` or not, enters the next beat: in ``sequential``
            mode only into an empty pipeline."""
            return loaded & ~busy_next if cfg.mode == "sequential" else loaded

        def startable(idle, out_busy, loaded, drain):
            return idle & ~out_busy & (admitted(loaded) | ((drain | (cfg.mode == "sequential")) & busy_next))
        idle = Signal()
        m.d.comb += idle.eq(~Cat(*(st.busy for st in stages)).any())
        produced = Signal()              # stage L ran a forward in the running beat; its result is still to leave
        m.submodules.result_buffer = rbuf = self.result_buffer
        # go: every condition of a start holds in the next cycle, which starts the beat. fwd, bwd
        # and the stages change only at a start, so none is pending (the stages' ending assumes it)
        go, start = Signal(), Signal()
        m.d.comb += go.eq(~start & startable(Cat(*(st.ending for st in stages)).all(), rbuf.busy_next,
                                             loader.loaded_next, self.drain))
        m.d.sync += start.eq(go)
        beats, trained = Signal(32), Signal(32)
        admit, new_fwd = Signal(), Signal(L)
        m.d.comb += [admit.eq(admitted(loaded)), new_fwd.eq(Cat(admit, fwd[:-1]) if L > 1 else admit)]
        with m.If(start):
            m.d.sync += [fwd.eq(new_fwd), bwd.eq(next_bwd), beats.eq(beats + 1)]
            m.d.comb += loader.take.eq(admit)
            m.d.sync += labels[0].eq(label_next)
            for l in range(1, L):
                m.d.sync += labels[l].eq(labels[l - 1])
            for l, st in enumerate(stages):
                m.d.comb += [st.start.eq(1), st.fwd_en.eq(new_fwd[l]), st.bwd_en.eq(next_bwd[l])]
            with m.If(next_bwd[0]):
                m.d.sync += trained.eq(trained + 1)
        m.d.comb += [self.status.beats.eq(beats), self.status.trained.eq(trained),
                     self.status.framing_error.eq(framing_error),
                     self.status.idle.eq(idle & ~busy_next & ~loaded & ~produced & ~rbuf.busy)]

        # -- output: a_L to the result buffer, and delta_L = a_L - y to stage L's act_grad_b
        sL = stages[-1]
        m.submodules.output_error = oerr = self.output_error
        wiring.connect(m, sL.act_out, oerr.a_in)
        m.d.comb += [rbuf.a_in.valid.eq(sL.act_out.valid), rbuf.a_in.p.eq(sL.act_out.p)]
        m.d.comb += oerr.label.eq(labels[L - 1])
        wiring.connect(m, oerr.g_out, sL.grad_in)
        # the result leaves after its beat, while the next one runs (before it may end)
        m.d.comb += rbuf.label.eq(labels[L - 1])
        with m.If(produced & idle & ~rbuf.busy):
            m.d.comb += rbuf.copy.eq(1)
            m.d.sync += produced.eq(0)
        with m.If(start):   # after the copy: a beat starting in the same cycle sets it again
            m.d.sync += produced.eq(new_fwd[L - 1])
        wiring.connect(m, rbuf.results, wiring.flipped(self.results))

        # -- weight read-back while idle
        m.submodules.weight_readback = rb = WeightReadback(self.plan.layers, cfg.weight)
        m.d.comb += [rb.layer.eq(self.readback_layer), rb.row.eq(self.readback_row), rb.col.eq(self.readback_col),
                     self.readback_data.eq(rb.data)]
        for l, st in enumerate(stages, 1):
            m.d.comb += [st.read_addr.eq(getattr(rb, f"addr{l}")), getattr(rb, f"word{l}").eq(st.read_data),
                         getattr(rb, f"bias{l}").eq(st.bias)]
        return m
