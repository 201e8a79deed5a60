"""The training pipeline behind the host link: what a board wrapper instantiates."""
from amaranth.hdl import Array, Cat, Const, Module, Mux, Shape, Signal
from amaranth.lib import data, fifo, wiring
from amaranth.lib.wiring import In, Out

from ..errors import LayerPipeError
from ..mac_array import times_constant
from ..weight_readback import READBACK_LATENCY
from . import protocol
from .block_ram import block_ram
from .epoch_counters import EpochCounters, counters_layout
from .epoch_order import TAPS, EpochOrder, lfsr_bits
from .frame_rx import INDEX_MAX, FrameReceiver
from .frame_tx import FrameSender
from .protocol import ARGS, Cmd, Error
from .uart import UartRx, UartTx

EPOCH_SLOTS = 16        # counters of the last 16 epochs stay readable
MAX_STORE = 2 ** max(TAPS) - 1     # the LFSR walk covers this many samples
ARG_BYTES = max(protocol.field_bytes(f) for f in ARGS.values())     # a command's arguments
assert ARG_BYTES <= INDEX_MAX, "the receiver's payload index must tell the argument bytes apart"
CHUNK_BYTES = 4         # a reply field (or several small ones) is sampled whole, up to this many bytes


def sample_values(layout):
    """(values per transfer, value shape) of a sample payload's ``x`` field."""
    shape = layout["x"].shape
    if isinstance(shape, data.ArrayLayout):
        return shape.length, shape.elem_shape
    return 1, shape


def store_shapes(plan):
    """(width in bits, words per sample) of the store's two memories: the
    sample transfers (``x`` of one transfer per word) and the labels."""
    layout = plan.port_layouts()["samples"]
    lanes, shape = sample_values(layout)
    return ((lanes * Shape.cast(shape).width, -(-plan.widths[0] // lanes)),
            (Shape.cast(layout["label"].shape).width, 1))


# whether the link registers its sample store's reads (through a FIFO of FEED_DEPTH transfers)
# and writes, per device family: on the ECP5 a block RAM's clock-to-output is 5.8 ns and the
# store's blocks spread over the chip; on the iCE40UP5K the logic cells are what is scarce (the
# FIFO and the registers took about 210 flip-flops, and the iCEBreaker's default design no longer fit)
STORE_REGISTERED = {"ecp5": True, "ice40": False}

# transfers the feeder's FIFO holds: the two reads in flight (block RAM, register) and one
# more, so that the reads keep up with a pipeline that takes a transfer every cycle
FEED_DEPTH = 4


def store_blocks(plan, capacity, epoch_slots=EPOCH_SLOTS):
    """Block RAMs of ``plan.target``'s family the link takes with a store of
    ``capacity`` samples: the store and the per-epoch counters' memory."""
    counters = plan.target.ebr_for(Shape.cast(counters_layout(capacity.bit_length())).width, epoch_slots)
    return sum(plan.target.ebr_for(width, words * capacity) for width, words in store_shapes(plan)) + counters


def store_capacity(plan, reserve=0):
    """The most samples the store holds in the block RAM the pipeline leaves
    on ``plan.target``, less ``reserve`` blocks (at most :data:`MAX_STORE`);
    None if the target sets no memory limit (a plain DSP budget)."""
    free = plan.target.ebr_blocks - plan.ebr_blocks - reserve
    if not plan.target.ebr_blocks:
        return None
    lo, hi = 0, MAX_STORE
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if store_blocks(plan, mid) <= free else (lo, mid - 1)
    return lo


def check_store(plan, capacity):
    """LayerPipeError naming the need and what is left if ``capacity`` samples do not fit."""
    if not isinstance(capacity, int) or not 1 <= capacity <= MAX_STORE:
        raise LayerPipeError(f"store: {capacity!r} is out of range 1..{MAX_STORE} samples")
    most = store_capacity(plan)
    if most is not None and capacity > most:
        t = plan.target
        raise LayerPipeError(
            f"store: {capacity} samples need {store_blocks(plan, capacity)} block RAMs; {t.name} has "
            f"{t.ebr_blocks - plan.ebr_blocks} left after the pipeline's {plan.ebr_blocks} (at most {most} samples)")


def _pack(fields, values):
    """The reply bytes of ``fields`` as one value, first byte in the low bits;
    ``values`` are ints or unsigned Amaranth values (zero-extended or cut to the field)."""
    parts = []
    for name, n in fields:
        v = values[name]
        if isinstance(v, int):
            parts.append(Const(v, 8 * n))
        else:
            v = v.as_unsigned()
            parts.append(v[:8 * n] if len(v) >= 8 * n else Cat(v, Const(0, 8 * n - len(v))))
    return Cat(*parts)


class LinkTop(wiring.Component):
    """The accelerator :class:`~layerpipe.hw.pipeline.Pipeline` behind a UART
    with the framed commands of :mod:`.protocol`, a sample store in block RAM
    and on-chip epochs.

    Parameters
    ----------
    pipeline : Pipeline     the accelerator (its sample, result, read-back and status
                            ports); its design plan's digest is what INFO reports
    divisor : int           clock cycles per UART bit (baud = clock / divisor), at least 4
    capacity : int          samples the store holds (the board sizes it to its block RAM)
    epoch_slots : int       epochs whose counters stay readable (a power of two)
    owns_pipeline : bool    elaborate the pipeline as a submodule (False where the
                            board wrapper already holds it)

    Members
    -------
    rx : In(1), tx : Out(1)   the serial lines (idle high)
    receiving : Out(1)        a frame is arriving (an activity LED)
    running : Out(1)          on-chip epochs or a streamed frame are training

    Behaviour: see :mod:`.protocol`. WRITE and STREAM payload bytes go
    straight into the store's free tail as they arrive; a WRITE commits them
    (the stored count grows) only after the CRC and the length check pass, so
    a bad frame leaves the store as it was. STREAM trains the frame's samples
    in order, drains the pipeline, and replies with their outputs as they
    leave. START runs ``epochs`` epochs over the store in the order of
    :class:`.EpochOrder` without draining between them, counting each epoch
    (:class:`.EpochCounters`), and drains at the end.
    """

    def __init__(self, pipeline, divisor, capacity, epoch_slots=EPOCH_SLOTS, owns_pipeline=True):
        if epoch_slots & (epoch_slots - 1):
            raise ValueError(f"epoch_slots {epoch_slots}: a power of two")
        if not 1 <= capacity:
            raise ValueError(f"capacity {capacity}: at least 1 sample")
        self.pipeline, self.cfg, self.digest = pipeline, pipeline.cfg, pipeline.plan.digest
        self.divisor, self.capacity, self.epoch_slots = divisor, capacity, epoch_slots
        self.owns_pipeline = owns_pipeline
        self.format = protocol.SampleFormat.of(self.cfg)
        self.lfsr_bits = lfsr_bits(capacity)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "receiving": Out(1), "running": Out(1)})

    def info(self):
        """The INFO reply's values (the host reads the same with :func:`protocol.unpack_fields`)."""
        f, cfg = self.format, self.cfg
        return {"version": protocol.VERSION, "digest": int.from_bytes(bytes.fromhex(self.digest), "little"),
                "capacity": self.capacity, "epoch_slots": self.epoch_slots, "inputs": f.inputs,
                "outputs": f.outputs, "layers": cfg.n_layers, "value_bytes": f.value_bytes,
                "label_bytes": f.label_bytes, "weight_bytes": f.weight_bytes, "lfsr_bits": self.lfsr_bits,
                "baud_divisor": self.divisor}

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, pipe = self.cfg, self.format, self.pipeline
        L, n0 = cfg.n_layers, cfg.widths[0]
        if self.owns_pipeline:
            m.submodules.pipeline = pipe
        m.submodules.uart_rx = urx = UartRx(self.divisor)
        m.submodules.uart_tx = utx = UartTx(self.divisor)
        m.submodules.frame_rx = frx = FrameReceiver(protocol.TIMEOUT_BYTES * 10 * self.divisor)
        m.submodules.frame_tx = ftx = FrameSender()
        wiring.connect(m, urx.bytes, frx.bytes)
        wiring.connect(m, ftx.bytes, utx.bytes)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.receiving.eq(frx.receiving)]

        # -- the sample store: x words (one sample transfer each) and labels
        lanes, vshape = sample_values(pipe.sample_layout)
        vwidth = Shape.cast(vshape).width
        (_, T), (label_width, _) = store_shapes(pipe.plan)    # T: transfers per sample
        xw, xr, x_data = block_ram(m, "store_x", lanes * vwidth, self.capacity * T, granularity=vwidth)
        lw, lr, label_data = block_ram(m, "store_label", label_width, self.capacity)

        count = Signal(range(self.capacity + 1))      # samples committed to the store
        # -- the assembler: WRITE/STREAM payload bytes into the store's free tail
        wp = Signal(range(self.capacity + 1))         # sample being written
        wbase = Signal(range(self.capacity * T + 1))  # wp * T
        t, lane = Signal(range(T + 1)), Signal(range(lanes + 1))
        vpos = Signal(range(n0 + 1))                  # value index in the sample
        nbyte = Signal(range(max(fmt.value_bytes, fmt.label_bytes) + 1))
        acc = Signal(8 * max(fmt.value_bytes, fmt.label_bytes))
        in_label, full = Signal(), Signal()
        fresh = Signal(range(self.capacity + 1))      # whole samples received in this frame
        # the first payload bytes: a command's arguments; only the frame the executor will
        # answer writes them (not one that arrives, against the protocol, during a reply)
        args = Signal(8 * ARG_BYTES)

        running, streaming = Signal(), Signal()
        m.d.comb += self.running.eq(running | streaming)
        head = frx.header
        takes_samples = (head.type == Cmd.WRITE) | (head.type == Cmd.STREAM)
        idle_exec = Signal()
        with m.If(frx.started):
            m.d.sync += [wp.eq(count), wbase.eq(times_constant(count, T)), t.eq(0), lane.eq(0), vpos.eq(0), nbyte.eq(0),
                         in_label.eq(0), full.eq(0), fresh.eq(0)]
        pb = frx.payload.p
        incoming = Cat(acc[8:], pb.byte)          # the value so far, this byte on top
        top = len(acc) // 8                       # incoming holds the value in its top bytes
        value = Mux(in_label, incoming >> 8 * (top - fmt.label_bytes), incoming >> 8 * (top - fmt.value_bytes))
        nb = Mux(in_label, fmt.label_bytes, fmt.value_bytes)
        # the store's address and data unconditionally, only the enables under conditions
        # (conditional assignments would cost a multiplexer per bit). Where the store is
        # registered (STORE_REGISTERED) the writes leave from registers, a cycle late: the
        # store's blocks are all over the chip, and the frame logic straight into their write
        # enables was a small ULX3S build's worst path once the reads were registered
        # (17.4 ns). A sample is read only after its frame ended.
        registered = STORE_REGISTERED[pipe.plan.target.family]
        store_write = m.d.sync if registered else m.d.comb
        store_byte, value_done = Signal(), Signal()
        store_write += [xw.addr.eq(wbase + t), xw.data.eq(value[:vwidth].replicate(lanes)),
                        lw.addr.eq(wp), lw.data.eq(value)]
        if registered:
            m.d.sync += [xw.en.eq(0), lw.en.eq(0)]
        m.d.comb += [store_byte.eq(frx.payload.valid & takes_samples & ~running & ~streaming & idle_exec),
                     value_done.eq(store_byte & (nbyte == nb - 1) & (wp != self.capacity))]
        with m.If(value_done & ~in_label):
            store_write += xw.en.eq(Const(1, lanes) << lane)
        with m.If(value_done & in_label):
            store_write += lw.en.eq(1)
        with m.If(frx.payload.valid & (pb.index < ARG_BYTES) & idle_exec):
            m.d.sync += args.word_select(pb.index, 8).eq(pb.byte)
        with m.If(store_byte):
            m.d.sync += acc.eq(incoming)
            with m.If(nbyte == nb - 1):
                m.d.sync += nbyte.eq(0)
                with m.If(wp == self.capacity):
                    m.d.sync += full.eq(1)
                with m.Elif(~in_label):
                    m.d.sync += vpos.eq(vpos + 1)
                    with m.If(lane == lanes - 1):
                        m.d.sync += [lane.eq(0), t.eq(t + 1)]
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
                    with m.If(vpos == n0 - 1):
                        m.d.sync += in_label.eq(1)
                with m.Else():
                    m.d.sync += [in_label.eq(0), vpos.eq(0), t.eq(0), lane.eq(0), wp.eq(wp + 1),
                                 wbase.eq(wbase + T), fresh.eq(fresh + 1)]
            with m.Else():
                m.d.sync += nbyte.eq(nbyte + 1)
        whole = ~in_label & (vpos == 0) & (nbyte == 0)   # the payload ended on a sample boundary

        # -- on-chip order and counters
        m.submodules.order = order = EpochOrder(self.lfsr_bits)
        m.submodules.counters = ctr = EpochCounters(pipe.result_layout, cfg.widths[-1], cfg.act.one,
                                                    self.epoch_slots, len(count))
        m.d.comb += [order.count.eq(count), ctr.count.eq(count)]

        # -- the feeder: samples from the store into the pipeline. Where the store is
        # registered, a sample's transfers are read from the store into a small FIFO and leave
        # from it: a read takes the block RAM's cycle and a register's (the store's blocks are
        # all over the chip, and its read straight into the pipeline was the ULX3S design's
        # worst path), and the FIFO lets the next reads go on while the pipeline holds a
        # transfer. Elsewhere the store's read port feeds the pipeline: it reads the next
        # transfer's address as soon as one is taken.
        idx = Signal(range(self.capacity))
        ft = Signal(range(T))                         # transfers of the sample sent
        if registered:
            issued = Signal(range(T + 1))             # transfers of the sample read
            m.submodules.prefetch = pre = fifo.SyncFIFOBuffered(width=lanes * vwidth, depth=FEED_DEPTH)
            flight = Signal(2)                        # reads in the block RAM, in the register
            x_reg = Signal.like(x_data)
            read = Signal()
        epochs, epochs_fed = Signal(16), Signal(16)
        in_epoch = Signal(range(self.capacity + 1))
        stream_left = Signal(range(self.capacity + 1))
        settle = Signal(2)
        fire = pipe.samples.valid & pipe.samples.ready
        m.d.comb += [lr.addr.eq(idx), pipe.samples.p.label.eq(label_data), pipe.samples.p.last.eq(ft == T - 1)]
        if registered:
            m.d.comb += [xr.addr.eq(times_constant(idx, T) + issued),
                         pre.w_data.eq(x_reg), pre.w_en.eq(flight[1]), pre.r_en.eq(pipe.samples.ready)]
            m.d.sync += [x_reg.eq(x_data), flight.eq(Cat(read, flight[0]))]
            with m.If(read):
                m.d.sync += issued.eq(issued + 1)
            x_out = pre.r_data
        else:                                         # the next transfer's address once one is taken
            m.d.comb += xr.addr.eq(times_constant(idx, T) + ft + fire)
            x_out = x_data
        m.d.comb += pipe.samples.p.x.eq(x_out if lanes > 1 else x_out[:vwidth])
        start_run, start_stream = Signal(), Signal()
        with m.FSM(name="feeder"):
            with m.State("idle"):
                with m.If(start_run):
                    m.next = "pick"
                with m.If(start_stream):
                    m.d.sync += idx.eq(count)
                    m.next = "prime"
            with m.State("pick"):
                with m.If(order.valid):
                    m.d.comb += order.next.eq(1)
                    m.d.sync += idx.eq(order.index)
                    m.next = "prime"
            with m.State("prime"):                    # a new sample: idx is set
                m.d.sync += ft.eq(0)
                if registered:
                    m.d.sync += issued.eq(0)
                m.next = "feed"
            with m.State("feed"):
                if registered:                        # read while the FIFO has room for what is in flight too
                    m.d.comb += [read.eq((issued != T) & (pre.level + flight[0] + flight[1] < FEED_DEPTH)),
                                 pipe.samples.valid.eq(pre.r_rdy)]
                else:
                    m.d.comb += pipe.samples.valid.eq(1)
                with m.If(fire):
                    m.d.sync += ft.eq(ft + 1)
                    with m.If(ft == T - 1):
                        m.d.sync += ft.eq(0)
                        with m.If(streaming):
                            m.d.sync += [stream_left.eq(stream_left - 1), idx.eq(idx + 1)]
                            m.next = "next_stream"
                        with m.Else():
                            m.d.sync += in_epoch.eq(in_epoch + 1)
                            m.next = "next_run"
            with m.State("next_stream"):
                with m.If(stream_left == 0):
                    m.d.sync += settle.eq(0)
                    m.next = "drain"
                with m.Else():
                    m.next = "prime"
            with m.State("next_run"):
                with m.If(in_epoch == count):
                    m.d.sync += [in_epoch.eq(0), epochs_fed.eq(epochs_fed + 1)]
                    with m.If(epochs_fed + 1 == epochs):
                        m.d.sync += settle.eq(0)
                        m.next = "drain"
                    with m.Else():
                        m.next = "pick"
                with m.Else():
                    m.next = "pick"
            with m.State("drain"):
                m.d.comb += pipe.drain.eq(1)
                with m.If(settle != 3):
                    m.d.sync += settle.eq(settle + 1)
                with m.Elif(pipe.status.idle):
                    m.d.sync += [running.eq(0), streaming.eq(0)]
                    m.next = "idle"

        # -- results: counted in a run, sent to the host in a STREAM reply
        res = pipe.results
        rbytes = fmt.value_bytes
        rlanes = ctr.lanes
        m.d.comb += [ctr.results.valid.eq(res.valid & running), ctr.results.p.eq(res.p)]
        with m.If(running):
            m.d.comb += res.ready.eq(1)

        # -- the executor: one reply per frame
        last_type, last_seq, last_valid = Signal(8), Signal(8), Signal()
        bad_frames, last_error = Signal(16), Signal(8)
        missed = Signal()          # a frame ended during a reply: answered BUSY (with its header) next
        # arguments
        a_epochs, a_state = args[:16], args[16:40]
        a_layer, a_row = args[:8], args[8:24]
        a_epoch = args[:16]
        layer_bits = max(1, (L - 1).bit_length())
        layer_sel = a_layer[:layer_bits]
        m.d.comb += [ctr.read_slot.eq(a_epoch), order.seed.eq(a_state)]
        n_in = Array(Const(w) for w in cfg.widths[:-1])
        n_out = Array(Const(w) for w in cfg.widths[1:])
        # the weight read-back walk (of the arguments' layer and row)
        col = Signal(range(max(cfg.widths[:-1]) + 2))
        wait = Signal(range(READBACK_LATENCY + 2))     # cycles since col moved (the read-back's latency)
        more_cols = Signal()            # col is a weight or the bias of the row
        m.d.sync += more_cols.eq(col <= n_in[layer_sel])
        m.d.comb += [pipe.readback_layer.eq(layer_sel), pipe.readback_row.eq(a_row), pipe.readback_col.eq(col)]

        cycles, run_cycles = Signal(32), Signal(32)     # the host takes differences modulo 2^32
        m.d.sync += cycles.eq(cycles + 1)
        with m.If(running):
            m.d.sync += run_cycles.eq(run_cycles + 1)
        status = {"cycles": cycles, "run_cycles": run_cycles, "running": running, "stored": count,
                  "epochs_done": ctr.epochs_done,
                  "beats": pipe.status.beats, "trained": pipe.status.trained, "bad_frames": bad_frames,
                  "last_error": last_error}
        # Every reply byte leaves from one register, ``word``: a chunk of reply fields (up to
        # CHUNK_BYTES, sampled whole, so no multi-byte counter is torn), a weight, or a result.
        replies = {Cmd.INFO: _chunks(protocol.INFO_FIELDS, self.info()),
                   Cmd.STATUS: _chunks(protocol.STATUS_FIELDS, status),
                   Cmd.COUNTERS: _chunks(protocol.COUNTER_FIELDS, {"epoch": a_epoch, **{
                       k: ctr.read_data[k] for k, _ in protocol.COUNTER_FIELDS if k != "epoch"}})}
        kinds = {k: i for i, k in enumerate(replies, 1)}    # 0: no fields (an empty reply)
        word = Signal(8 * max(CHUNK_BYTES, fmt.weight_bytes, rbytes * rlanes))
        m.d.comb += ftx.payload.payload.eq(word[:8])
        left = Signal(range(len(word) // 8 + 1))            # bytes of ``word`` still to send
        chunk = Signal(range(max(len(c) for c in replies.values()) + 1))
        kind = Signal(range(len(kinds) + 1))
        FIELDS, WEIGHTS, RESULTS = range(3)
        source = Signal(2)

        def send(type_, seq, length, src, reply_kind=0, fields=None, values=None):
            """Start a reply; ``fields`` of a single chunk go straight into ``word``."""
            m.d.sync += [ftx.header.type.eq(type_), ftx.header.seq.eq(seq), ftx.header.length.eq(length),
                         source.eq(src), kind.eq(reply_kind), chunk.eq(0), left.eq(0)]
            if fields is not None:
                (nbytes, value), = _chunks(fields, values)
                m.d.sync += [word.eq(value), left.eq(nbytes)]
            m.next = "start_reply"

        def error(code, type_, seq):
            m.d.sync += [bad_frames.eq(bad_frames + 1), last_error.eq(code)]
            send(protocol.ERROR, seq, protocol.field_bytes(protocol.ERROR_FIELDS), FIELDS,
                 fields=protocol.ERROR_FIELDS, values={"code": code, "type": type_})

        with m.If(frx.done & ~idle_exec):      # a frame while the previous one is still answered
            m.d.sync += missed.eq(1)

        code, verdict = Signal(8), Signal(8)
        known = Signal()
        m.d.comb += known.eq(Cat(*(head.type == c for c in Cmd)).any())
        length_ok = Signal()
        with m.Switch(head.type):
            for c, fields in ARGS.items():
                with m.Case(c):
                    m.d.comb += length_ok.eq(head.length == protocol.field_bytes(fields))
            with m.Case(Cmd.WRITE, Cmd.STREAM):
                m.d.comb += length_ok.eq((head.length != 0) & whole)
        served_while_running = (head.type == Cmd.INFO) | (head.type == Cmd.STATUS) | (head.type == Cmd.COUNTERS)
        dup = last_valid & (head.type == last_type) & (head.seq == last_seq)
        bad_arg = Signal()
        with m.Switch(head.type):
            with m.Case(Cmd.START):
                m.d.comb += bad_arg.eq((a_epochs == 0) | (count == 0) | (a_state == 0) |
                                       (a_state >= (1 << self.lfsr_bits)))
            with m.Case(Cmd.WEIGHTS):
                m.d.comb += bad_arg.eq((a_layer >= L) | (a_row >= n_out[layer_sel]))
            with m.Case(Cmd.COUNTERS):
                m.d.comb += bad_arg.eq((a_epoch >= ctr.epochs_done) |
                                       ((ctr.epochs_done - a_epoch)[:len(a_epoch)] > self.epoch_slots))
        with m.If(frx.error != 0):
            m.d.comb += code.eq(frx.error)
        with m.Elif(~known):
            m.d.comb += code.eq(Error.UNKNOWN_TYPE)
        with m.Elif(full & takes_samples):     # (the assembler stopped, so the length is not checked)
            m.d.comb += code.eq(Error.FULL)
        with m.Elif(~length_ok):
            m.d.comb += code.eq(Error.BAD_LENGTH)
        with m.Elif((running | streaming) & ~served_while_running):
            m.d.comb += code.eq(Error.BUSY)
        with m.Elif(dup & (head.type == Cmd.STREAM)):
            m.d.comb += code.eq(Error.DUPLICATE)
        with m.Elif(bad_arg):
            m.d.comb += code.eq(Error.BAD_ARG)

        ack = head.type | protocol.ACK
        with m.FSM(name="executor"):
            with m.State("idle"):
                m.d.comb += idle_exec.eq(1)
                with m.If(missed):
                    m.d.sync += missed.eq(0)
                    error(Error.BUSY, head.type, head.seq)
                with m.Elif(frx.done):
                    m.next = "check"
            with m.State("check"):
                # the verdict is registered before it is acted on: its comparisons and the
                # reply's set-up are two long paths on an iCE40, not one
                m.d.comb += idle_exec.eq(1)     # (frx.done pulsed last cycle; the assembler has finished)
                m.d.sync += verdict.eq(code)
                m.next = "decide"
            with m.State("decide"):
                m.d.comb += idle_exec.eq(1)
                with m.If(verdict != 0):
                    error(verdict, head.type, head.seq)
                with m.Else():
                    m.d.sync += [last_type.eq(head.type), last_seq.eq(head.seq), last_valid.eq(1)]
                    with m.Switch(head.type):
                        for c in (Cmd.INFO, Cmd.STATUS, Cmd.COUNTERS):
                            with m.Case(c):
                                send(ack, head.seq, protocol.field_bytes(protocol.REPLY_FIELDS[c]), FIELDS, kinds[c])
                        with m.Case(Cmd.WRITE):
                            new = Mux(dup, count, wp)
                            m.d.sync += count.eq(new)
                            send(ack, head.seq, protocol.field_bytes(protocol.WRITE_FIELDS), FIELDS,
                                 fields=protocol.WRITE_FIELDS, values={"stored": new})
                        with m.Case(Cmd.CLEAR):
                            m.d.sync += count.eq(0)
                            send(ack, head.seq, 0, FIELDS)
                        with m.Case(Cmd.START):
                            m.d.comb += [order.load.eq(1), ctr.clear.eq(1),
                                         start_run.eq(1)]
                            m.d.sync += [running.eq(1), epochs.eq(a_epochs), epochs_fed.eq(0), in_epoch.eq(0),
                                         run_cycles.eq(0)]
                            send(ack, head.seq, 0, FIELDS)
                        with m.Case(Cmd.WEIGHTS):
                            m.d.sync += [col.eq(0), wait.eq(0)]
                            send(ack, head.seq, (n_in[layer_sel] + 1) * fmt.weight_bytes, WEIGHTS)
                        with m.Case(Cmd.STREAM):
                            m.d.comb += start_stream.eq(1)
                            m.d.sync += [streaming.eq(1), stream_left.eq(fresh)]
                            send(ack, head.seq, times_constant(fresh, fmt.outputs * rbytes), RESULTS)
            with m.State("start_reply"):
                m.d.comb += ftx.start.eq(1)
                m.next = "reply"
            with m.State("reply"):
                m.d.comb += ftx.payload.valid.eq(left != 0)
                with m.If(left != 0):
                    with m.If(ftx.payload.ready):
                        m.d.sync += [word.eq(word >> 8), left.eq(left - 1)]
                        with m.If((source == WEIGHTS) & (left == 1)):
                            m.d.sync += [col.eq(col + 1), wait.eq(0)]
                with m.Else():
                    with m.Switch(source):
                        with m.Case(FIELDS):    # the next chunk of the reply's fields
                            m.d.sync += chunk.eq(chunk + 1)
                            with m.Switch(kind):
                                for k, chunks in replies.items():
                                    with m.Case(kinds[k]):
                                        with m.Switch(chunk):
                                            for i, (nbytes, value) in enumerate(chunks):
                                                with m.Case(i):
                                                    m.d.sync += [word.eq(value), left.eq(nbytes)]
                        with m.Case(WEIGHTS):   # address, wait for the read-back, send its bytes
                            with m.If(wait != READBACK_LATENCY + 1):
                                m.d.sync += wait.eq(wait + 1)
                            with m.Elif(more_cols):
                                m.d.sync += [word.eq(pipe.readback_data.as_signed()), left.eq(fmt.weight_bytes)]
                        with m.Case(RESULTS):   # a STREAM's outputs as they leave the pipeline
                            m.d.comb += res.ready.eq(1)
                            with m.If(res.valid):
                                array = isinstance(pipe.result_layout["a"].shape, data.ArrayLayout)
                                vals = [res.p.a[j] for j in range(rlanes)] if array else [res.p.a]
                                m.d.sync += [word.eq(Cat(*(_sext(v, 8 * rbytes) for v in vals))),
                                             left.eq(rbytes * rlanes)]
                with m.If(~ftx.busy):
                    m.next = "finish"
            with m.State("finish"):
                # a STREAM reply is complete when its last output left; the pipeline may still drain
                with m.If(~streaming):
                    m.next = "idle"
        return m


def _chunks(fields, values):
    """The reply of ``fields`` (``values`` as for :func:`_pack`) as ``[(bytes, value)]``:
    consecutive fields packed into chunks of at most :data:`CHUNK_BYTES`, a longer field split."""
    out, group = [], []

    def flush():
        if group:
            out.append((protocol.field_bytes(group), _pack(group, values)))
            group.clear()
    for name, n in fields:
        if n > CHUNK_BYTES:
            flush()
            v = _pack([(name, n)], values)
            out += [(min(CHUNK_BYTES, n - at), v[8 * at:8 * min(n, at + CHUNK_BYTES)])
                    for at in range(0, n, CHUNK_BYTES)]
            continue
        if protocol.field_bytes(group) + n > CHUNK_BYTES:
            flush()
        group.append((name, n))
    flush()
    return out


def _sext(value, width):
    """``value`` (signed) sign-extended to ``width`` bits."""
    v = value.as_signed()
    return Cat(v, v[-1].replicate(width - len(v)))
