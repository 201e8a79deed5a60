"""The host side of the link (pyserial): :class:`BoardLink` speaks the frames
of :mod:`layerpipe.hw.link.protocol`; :func:`train_on_board` loads a data
set into the board, trains it on chip (or streams it, link-bound), reads the
weights back and holds them, and the per-epoch counters, to the golden model
trained on the very same order, bit for bit."""
import time
from contextlib import contextmanager

import numpy as np

from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.link import protocol
from layerpipe.hw.link.protocol import Cmd, Error

from .bit_exact import compare
from .golden import IntegerArithmetic, Pipeline, Sample
from .link_golden import EpochOrder, epoch_counters, seed_state
from .train import accuracy

FRAME_PAYLOAD = 4096        # bytes of samples per WRITE or STREAM frame (at most)
ANSWER_S = 5.0              # a reply's bytes may pause this long (wall time) before the board counts as silent
SOCKET_ANSWER_S = 120.0     # the same over socket://, where the board may be a simulation (and the machine busy)


def answer_seconds(port, answer_s=None):
    """How long a silent board is waited for: ``answer_s``, or the default of the kind of port."""
    if answer_s is not None:
        return answer_s
    return SOCKET_ANSWER_S if port.startswith("socket://") else ANSWER_S


class LinkError(LayerPipeError):
    """The board answered a frame with an ERROR reply (``code``), or not at all."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class BoardLink:
    """One serial connection to a board (``port``: a device or any pyserial
    URL such as ``socket://host:port``). Counts the bytes both ways."""

    def __init__(self, port, baudrate=protocol.DEFAULT_BAUD, answer_s=None):
        import os

        import serial
        if "://" not in port and not os.path.exists(port):
            raise LayerPipeError(f"port: {port!r} does not exist (no such serial device)")
        try:
            self.serial = serial.serial_for_url(port, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise LayerPipeError(f"port: cannot open {port!r}: {reason}") from None
        self.port, self.answer_s = port, answer_seconds(port, answer_s)
        self.seq = 0
        self.bytes_sent = self.bytes_received = 0
        self._rest = b""

    def close(self):
        self.serial.close()

    def send_bytes(self, data):
        """Raw bytes on the line (tests send broken frames with it)."""
        with self._port_errors():
            self.serial.write(data)
            self.serial.flush()
        self.bytes_sent += len(data)

    @contextmanager
    def _port_errors(self):
        import serial
        try:
            yield
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"port: {self.port}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
                from None

    def receive(self):
        """The next frame from the board; LinkError if it stays silent for ``answer_s``."""
        last = time.monotonic()
        while True:
            try:
                frame, self._rest = protocol.decode_frame(self._rest)
            except ValueError as e:
                raise LinkError(f"port: {self.port}: {e}") from None
            if frame is not None:
                return frame
            with self._port_errors():
                chunk = self.serial.read(1)      # waits up to the read timeout for the first byte
                if chunk and self.serial.in_waiting:
                    chunk += self.serial.read(self.serial.in_waiting)
            if chunk:
                self.bytes_received += len(chunk)
                self._rest += chunk
                last = time.monotonic()
            elif time.monotonic() - last > self.answer_s:
                raise LinkError(f"port: {self.port}: the board does not answer "
                                f"(no reply within {self.answer_s:g} s)")

    def request(self, cmd, payload=b""):
        """Send one frame and return its reply's payload; LinkError on an ERROR reply."""
        self.seq = (self.seq + 1) & 0xFF
        self.send_bytes(protocol.encode_frame(cmd, self.seq, payload))
        return self.expect(cmd, self.seq)

    def expect(self, cmd, seq):
        reply = self.receive()
        if reply.type == protocol.ERROR:
            err = protocol.unpack_fields(protocol.ERROR_FIELDS, reply.payload)
            raise LinkError(f"board: refused {_name(Cmd, err['type'])} (seq {reply.seq}): "
                            f"{_name(Error, err['code'])}", err["code"])
        if reply.type != cmd | protocol.ACK or reply.seq != seq:
            raise LinkError(f"board: reply type 0x{reply.type:02x} seq {reply.seq} to "
                            f"{_name(Cmd, cmd)} seq {seq}")
        return reply.payload

    def call(self, cmd, **args):
        """A command with the argument fields of ``protocol.ARGS``, its reply unpacked."""
        payload = self.request(cmd, protocol.pack_fields(protocol.ARGS.get(cmd, ()), args))
        return protocol.unpack_fields(protocol.REPLY_FIELDS[cmd], payload) if cmd in protocol.REPLY_FIELDS \
            else payload

    def info(self):
        return self.call(Cmd.INFO)

    def status(self):
        return self.call(Cmd.STATUS)

    def weights(self, layer, rows, weight_bytes):
        """W_l with its bias as the last column, one row per WEIGHTS frame (``layer`` from 0)."""
        return [protocol.SampleFormat.decode_values(self.request(Cmd.WEIGHTS, protocol.pack_fields(
            protocol.WEIGHTS_ARGS, {"layer": layer, "row": r})), weight_bytes) for r in range(rows)]


def _name(enum, value):
    try:
        return enum(value).name
    except ValueError:
        return f"0x{value:02x}"


def connect(port, cfg, digest, baudrate=protocol.DEFAULT_BAUD, answer_s=None):
    """Open ``port``, ask the board what it holds, and check it is the design
    ``digest`` of ``cfg`` (:func:`check_board`); returns (BoardLink, INFO fields)."""
    link = BoardLink(port, baudrate, answer_s)
    try:
        info = link.info()
        check_board(info, cfg, digest)
    except LayerPipeError:
        link.close()
        raise
    return link, info


def check_board(info, cfg, digest):
    """One line if the board's INFO is not the design ``digest`` of ``cfg``."""
    fmt = protocol.SampleFormat.of(cfg)
    if info["version"] != protocol.VERSION:
        raise LayerPipeError(f"board: speaks link protocol {info['version']}, this host {protocol.VERSION}")
    if info["digest"] != digest:
        raise LayerPipeError(f"board: holds design {info['digest']}, not {digest} "
                             f"({'-'.join(map(str, cfg.widths))} {cfg.mode}): load the matching bitstream")
    if (info["inputs"], info["outputs"], info["value_bytes"]) != (fmt.inputs, fmt.outputs, fmt.value_bytes):
        raise LayerPipeError(f"board: reports {info['inputs']} inputs, {info['outputs']} outputs, "
                             f"{info['value_bytes']}-byte values; the design has {fmt.inputs}, {fmt.outputs}, "
                             f"{fmt.value_bytes}")


def check_fits(dataset, samples, capacity):
    """Refuse, before anything is sent, a training split larger than the store."""
    if samples > capacity:
        raise LayerPipeError(f"dataset: {dataset} needs {samples} samples in the on-chip store, which holds "
                             f"{capacity}; use --stream (link-bound) or a board with more block RAM")


def read_weights(link, cfg, fmt):
    """Every layer's weights with the bias as the last column, as int64 arrays."""
    return [np.array(link.weights(l, cfg.widths[l + 1], fmt.weight_bytes), dtype=np.int64)
            for l in range(cfg.n_layers)]


def _frames(n, per_frame):
    for start in range(0, n, per_frame):
        yield start, min(n, start + per_frame)


def train_on_board(link, info, cfg, data, epochs, seed=0, stream=False, clock_hz=None, progress=None):
    """Train the board on ``data``'s training split for ``epochs`` epochs in
    the order of :class:`~layerpipe.sim.link_golden.EpochOrder` (seeded by
    ``seed``), alongside the golden model; returns the report (see
    :func:`report_lines` for the fields).

    On chip (default): the split goes into the store, START runs the epochs
    (at most ``epoch_slots`` per START, so every epoch's counters can be
    read; the walk continues across STARTs), the host reads each epoch's
    counters. ``stream``: every sample crosses the link, in STREAM frames,
    and every output word comes back and is compared. Either way the
    read-back weights are compared with the golden model's, bit for bit.
    ``clock_hz`` (the board's clock) turns cycles into seconds.
    """
    say = progress or (lambda *a: None)
    ar = IntegerArithmetic(cfg)
    fmt = protocol.SampleFormat.of(cfg)
    xs, ys = ar.input(data.x_train), data.y_train
    n = len(xs)
    if not stream:
        check_fits(data.name, n, info["capacity"])
    m = info["lfsr_bits"]
    order = EpochOrder(n, seed_state(seed, m), m)
    # the golden model starts from the weights the board holds now (a fresh
    # board: the design's initial weights; otherwise those of its last run)
    gold = Pipeline(cfg, ar)
    start = read_weights(link, cfg, fmt)
    fresh = all(np.array_equal(w, np.concatenate([gw, gb[:, None]], axis=1))
                for w, gw, gb in zip(start, gold.weights, gold.biases))
    gold.weights = [w[:, :-1].copy() for w in start]
    gold.biases = [w[:, -1].copy() for w in start]
    mismatches, first = 0, None
    counters, index = [], 0
    per_frame = max(1, min(FRAME_PAYLOAD // fmt.sample_bytes, info["capacity"]))
    sent0, cycles0 = link.bytes_sent + link.bytes_received, link.status()["cycles"]
    t0 = time.monotonic()
    run_cycles = 0

    def golden_run(indices):
        nonlocal index
        samples = [Sample(index + k, xs[i], int(ys[i])) for k, i in enumerate(indices)]
        index += len(samples)
        return [(a.tolist(), label) for rep in gold.run(samples) for _, a, label in rep.results]

    def check(expected, got, item):
        nonlocal mismatches, first
        wrong, where = compare(expected, got, item)
        mismatches += wrong
        first = first or where
        return wrong == 0

    def count_epoch(e, want, got):
        counters.append({"epoch": e, **got, "golden": want, "bit_exact": check([want], [got], f"epoch {e} counters")})

    if not stream:
        link.call(Cmd.CLEAR)
        for a, b in _frames(n, per_frame):
            reply = link.request(Cmd.WRITE, fmt.encode_samples(xs[a:b], ys[a:b]))
            stored = protocol.unpack_fields(protocol.WRITE_FIELDS, reply)["stored"]
            if stored != b:
                raise LinkError(f"board: stored {stored} samples after {b} were sent")
            say("upload", b, n)
        upload_bytes = link.bytes_sent + link.bytes_received - sent0
        upload_cycles = (link.status()["cycles"] - cycles0) % 2 ** 32
        upload_s = time.monotonic() - t0
        e = 0
        while e < epochs:
            chunk = min(info["epoch_slots"], epochs - e)
            link.call(Cmd.START, epochs=chunk, lfsr_state=order.state)
            orders = [order.epoch() for _ in range(chunk)]
            results = golden_run([i for o in orders for i in o])
            while (st := link.status())["running"]:
                time.sleep(0.05)
                say("train", e + st["epochs_done"], epochs)
            run_cycles += st["run_cycles"]
            for k, o in enumerate(orders):
                got = link.call(Cmd.COUNTERS, epoch=k)
                got.pop("epoch")
                want = epoch_counters([r[0] for r in results[k * n:(k + 1) * n]], ys[o], cfg.act.one)
                count_epoch(e + k, want, got)
            e += chunk
            say("train", e, epochs)
        samples_link = n
    else:
        # STREAM frames are staged in the store's free tail
        free = info["capacity"] - link.status()["stored"]
        if free == 0:
            link.call(Cmd.CLEAR)
            free = info["capacity"]
        per_frame = min(per_frame, free)
        link_cycles = 0
        for e in range(epochs):
            o = order.epoch()
            outs, gouts = [], []
            for a, b in _frames(n, per_frame):
                c0 = link.status()["cycles"]
                payload = link.request(Cmd.STREAM, fmt.encode_samples(xs[o[a:b]], ys[o[a:b]]))
                link_cycles += (link.status()["cycles"] - c0) % 2 ** 32
                values = protocol.SampleFormat.decode_values(payload, fmt.value_bytes)
                got = [values[k * fmt.outputs:(k + 1) * fmt.outputs] for k in range(b - a)]
                want = [w for w, _ in golden_run(o[a:b])]
                gouts += want
                outs += got
                say("train", e * n + b, epochs * n)
            check(gouts, outs, f"epoch {e} sample")
            count_epoch(e, epoch_counters(gouts, ys[o], cfg.act.one), epoch_counters(outs, ys[o], cfg.act.one))
        upload_bytes = link.bytes_sent + link.bytes_received - sent0
        upload_cycles, upload_s = link_cycles, time.monotonic() - t0
        samples_link = n * epochs

    # weights, bit for bit
    rows = read_weights(link, cfg, fmt)
    weights_ok = all([check(np.concatenate([gold.weights[l], gold.biases[l][:, None]], axis=1).tolist(),
                            got.tolist(), f"layer {l + 1} weight row") for l, got in enumerate(rows)])
    board = Pipeline(cfg, ar)
    board.weights = [w[:, :-1] for w in rows]
    board.biases = [w[:, -1] for w in rows]
    trained = epochs * n
    baud = clock_hz / info["baud_divisor"] if clock_hz else None

    def per_s(cycles):
        return clock_hz / cycles if clock_hz and cycles else None
    return {
        "bit_exact": mismatches == 0, "mismatches": mismatches, "first_mismatch": first,
        "weights_bit_exact": weights_ok,
        "samples": trained, "epochs": epochs, "mode": cfg.mode, "net": "-".join(map(str, cfg.widths)),
        "dataset": data.name, "on_chip": not stream, "counters": counters,
        "accuracy": accuracy(board, ar, data.x_test, data.y_test),
        "golden_accuracy": accuracy(gold, ar, data.x_test, data.y_test),
        "train_accuracy": accuracy(board, ar, data.x_train, data.y_train),
        "cycles_per_sample": run_cycles / trained if run_cycles else None,
        "link": {
            "bytes": upload_bytes, "samples": samples_link, "board_cycles": upload_cycles,
            "wall_seconds": upload_s, "wall_bytes_per_s": upload_bytes / upload_s if upload_s else None,
            "bytes_per_s": upload_bytes * per_s(upload_cycles) if per_s(upload_cycles) else None,
            "samples_per_s": samples_link * per_s(upload_cycles) if per_s(upload_cycles) else None,
            "baud": baud, "baud_divisor": info["baud_divisor"],
            "baud_limit_samples_per_s": fmt.baud_limit_samples_per_s(baud) if baud else None,
            "sample_bytes": fmt.sample_bytes,
        },
        "on_chip_cycles": run_cycles or None,
        "on_chip_samples_per_s": trained * per_s(run_cycles) if run_cycles and clock_hz else None,
        "fresh_board": fresh, "clock_hz": clock_hz, "store_capacity": info["capacity"], "digest": info["digest"],
    }
