"""cocotb drivers and monitors for ``amaranth.lib.stream`` ports in generated Verilog.

Amaranth 0.5 names a stream member ``<port>`` as three top-level ports,
``<port>__valid``, ``<port>__ready`` and ``<port>__payload``. A struct (or
array) payload is *not* split into ports: ``<port>__payload`` is one packed
vector, first field in the low bits (the ``\\<port>__payload.<field>`` wires
in the Verilog are internal). So the bench packs and unpacks payloads itself,
from the Amaranth layout (:func:`payload_fields`). A stream built with
``always_ready``/``always_valid`` has no such port; the bench then treats
it as constant 1.

Timing convention: a transfer happens on a rising clock edge where valid and
ready are both high. The bench drives its outputs just after a rising edge
and samples the handshake at the falling edge before the next one, where every
combinational path has settled (Verilator's value callbacks at a rising edge
already see the registers' new values, so sampling there would be ambiguous).
Test code that drives other inputs should do so just after a rising edge too.
"""
import math
import random
import re
from collections import deque

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from layerpipe.hw.payload import payload_fields


def to_signed(bits, width):
    """The two's complement value of the low ``width`` bits of ``bits``."""
    bits &= (1 << width) - 1
    return bits - (1 << width) if width and bits >> (width - 1) else bits


def read_signed(handle):
    """A signal's current value as a two's complement integer."""
    return handle.value.to_signed()


def pack(fields, payload):
    """A payload (dict by field name, or an int for a plain shape) to its bit vector."""
    if fields is None:
        return int(payload)
    if "" in fields:
        offset, width, _ = fields[""]
        return int(payload) & ((1 << width) - 1)
    if set(payload) != set(fields):
        raise ValueError(f"payload fields {sorted(payload)} differ from the layout's "
                         f"{sorted(fields)}")
    bits = 0
    for name, (offset, width, _) in fields.items():
        bits |= (int(payload[name]) & ((1 << width) - 1)) << offset
    return bits


def unpack(fields, bits):
    """Inverse of :func:`pack`: signed fields come back negative where they are."""
    if fields is None:
        return bits
    values = {name: (to_signed(bits >> offset, width) if signed
                     else (bits >> offset) & ((1 << width) - 1))
              for name, (offset, width, signed) in fields.items()}
    return values[""] if "" in values else values


def _port(dut, prefix, member, required=True):
    name = f"{prefix}__{member}"
    try:
        return dut._id(name, extended=False)
    except AttributeError:
        if required:
            raise AttributeError(f"{dut._name} has no port {name}") from None
        return None


def _high(handle):
    if handle is None:   # always_ready / always_valid: no port, constant 1
        return True
    v = handle.value
    return v.is_resolvable and int(v) == 1


def _fields(layout):
    if layout is None or isinstance(layout, dict):
        return layout
    return payload_fields(layout)


class _Endpoint:
    def __init__(self, dut, prefix, clock, layout, seed):
        self.clock = clock
        self.fields = _fields(layout)
        self.valid = _port(dut, prefix, "valid", required=False)
        self.ready = _port(dut, prefix, "ready", required=False)
        self.payload = _port(dut, prefix, "payload")
        self.rng = random.Random(seed)
        self._task = None

    def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None


class StreamDriver(_Endpoint):
    """Sends payloads into the stream input ``<prefix>__*`` of ``dut``.

    ``layout`` is the payload's Amaranth shape (or :func:`payload_fields` of
    it; ``None`` sends raw ints). Before each payload the driver idles for a
    random number of cycles: every cycle with probability ``gap`` (seeded
    by ``seed``). Once valid is high it stays high, with the payload unchanged,
    until the transfer.

    Members: ``send(payload)``, ``send_all(payloads)``, ``await done(watchdog)``;
    ``sent`` counts transfers, ``pending`` what is still to go.
    """

    def __init__(self, dut, prefix, clock, *, layout=None, gap=0.0, seed=None):
        super().__init__(dut, prefix, clock, layout, seed)
        if self.valid is None:
            raise AttributeError(f"{prefix} has no valid port: nothing to drive")
        self.gap = gap
        self.sent = 0
        self._queue = deque()
        self._busy = False
        self.valid.value = 0
        self.payload.value = 0      # defined while idle: no X reaches the design
        self._task = cocotb.start_soon(self._run())

    def send(self, payload):
        self._queue.append(payload)

    def send_all(self, payloads):
        self._queue.extend(payloads)

    @property
    def pending(self):
        """Payloads queued or on the bus, not yet transferred."""
        return len(self._queue) + self._busy

    async def done(self, watchdog):
        """Wait until everything queued has been transferred; ``watchdog``
        (a :class:`Watchdog`) says when to give up, and whose fault it was."""
        while self.pending:
            await watchdog.cycle()

    async def _run(self):
        current = None
        while True:
            if current is None and self._queue and self.rng.random() >= self.gap:
                current = self._queue.popleft()
                self.payload.value = pack(self.fields, current)
                self._busy = True
            self.valid.value = int(current is not None)
            await FallingEdge(self.clock)
            fired = current is not None and _high(self.ready)
            await RisingEdge(self.clock)
            if fired:
                self.sent += 1
                current = None
                self._busy = False


class StreamMonitor(_Endpoint):
    """Receives payloads from the stream output ``<prefix>__*`` of ``dut``.

    Drives ready (if the port exists) low on each cycle with probability
    ``backpressure`` (seeded by ``seed``) and records every transfer's
    payload, unpacked by ``layout`` as for :class:`StreamDriver`, in
    ``received``. ``await wait_for(n, watchdog)`` returns once ``n`` have arrived.
    """

    def __init__(self, dut, prefix, clock, *, layout=None, backpressure=0.0, seed=None):
        super().__init__(dut, prefix, clock, layout, seed)
        self.backpressure = backpressure
        self.received = []
        if self.ready is not None:
            self.ready.value = 0
        self._task = cocotb.start_soon(self._run())

    async def wait_for(self, n, watchdog):
        """Wait until ``n`` payloads have arrived (and return them); ``watchdog``
        (a :class:`Watchdog`) says when to give up, and whose fault it was."""
        while len(self.received) < n:
            await watchdog.cycle()
        return self.received[:n]

    async def _run(self):
        while True:
            ready = self.rng.random() >= self.backpressure
            if self.ready is not None:
                self.ready.value = int(ready)
            await FallingEdge(self.clock)
            if (ready or self.ready is None) and _high(self.valid):
                self.received.append(unpack(self.fields, self.payload.value.to_unsigned()))
            await RisingEdge(self.clock)


class Stalled(AssertionError):
    """A :class:`Watchdog` gave up; the message says whether the design or the bench stalled."""


def gap_run_limit(probability, odds=1e-12):
    """Cycles a run of random gaps (each cycle one with ``probability``) exceeds
    with odds below ``odds``: the longest hold-up a seeded random bench explains.

    P(run >= k) = probability**k, so k = log(odds) / log(probability); 0 for
    no gaps, and 0 for gaps with probability 1 (a bench that never lets go).
    """
    if not 0 < probability < 1:
        return 0
    return math.ceil(math.log(odds) / math.log(probability))


class Watchdog:
    """Tells a design that stopped from a bench that held it up.

    Call ``await cycle()`` once per clock cycle instead of waiting for an edge.
    At each falling edge it asks whether anything moved since the last one: a
    transfer on the ``driver``'s or the ``monitor``'s stream, or a change of
    ``progress()`` (e.g. the design's beat count). If nothing moved, the cycle
    is blamed on the bench when the bench held the design up: the driver had a
    payload waiting but kept valid low (a random gap), the monitor kept ready
    low while the design offered a result (backpressure), or ``holding()``
    names something the bench withholds (e.g. ``"drain is low"``); otherwise
    the cycle is the design's (the bench offered input, or had none left, and
    took every result).

    Raises :class:`Stalled` after ``limit`` of the design's cycles without
    progress ("the design stalled"), or after ``limit + bench_limit`` cycles
    without progress in which the bench held the design up ("the bench
    stalled"). So a timeout follows from what the bench did: heavy gaps or
    backpressure never look like a design fault, and a bench that stopped
    feeding never looks like a hardware one. Choose ``bench_limit`` with
    :func:`gap_run_limit` of the gap and backpressure probabilities.
    """

    def __init__(self, clock, *, limit, bench_limit=0, driver=None, monitor=None, progress=None, holding=None):
        self.clock, self.limit, self.bench_limit = clock, int(limit), int(limit) + int(bench_limit)
        self.driver, self.monitor = driver, monitor
        self.progress, self.holding = progress, holding
        self.cycles = 0                     # cycles watched
        self._mark = None
        self._design = self._bench = 0      # cycles without progress, by whom
        self._why = {}                      # bench hold-ups by reason, since the last progress

    def _now(self):
        return (self.driver.sent if self.driver else None,
                len(self.monitor.received) if self.monitor else None,
                self.progress() if self.progress else None)

    async def cycle(self):
        await FallingEdge(self.clock)
        self.cycles += 1
        mark = self._now()
        if mark != self._mark:
            self._mark, self._design, self._bench, self._why = mark, 0, 0, {}
            return
        why = None
        if self.monitor is not None and self.monitor.ready is not None \
                and _high(self.monitor.valid) and not _high(self.monitor.ready):
            why = "held back a result (backpressure)"
        elif self.driver is not None and self.driver.pending and not _high(self.driver.valid):
            why = "withheld input (a gap)"
        elif self.holding is not None and (self.driver is None or not self.driver.pending):
            why = self.holding()
        if why:
            self._bench += 1
            self._why[why] = self._why.get(why, 0) + 1
        else:
            self._design += 1
        if self._design > self.limit:
            raise Stalled(f"the design stalled: nothing moved for {self._design + self._bench} cycles, "
                          f"{self._design} of them with input offered (or none left) and every result taken "
                          f"(limit {self.limit}); {self._state()}")
        if self._bench > self.bench_limit:
            held = ", ".join(f"{why} {n}" for why, n in self._why.items())
            raise Stalled(f"the bench stalled: nothing moved for {self._design + self._bench} cycles, "
                          f"{self._bench} of them held up by the bench ({held}; limit {self.bench_limit}); "
                          f"{self._state()}")

    def _state(self):
        parts = []
        if self.driver is not None:
            parts.append(f"{self.driver.sent} payloads sent, {self.driver.pending} to send")
        if self.monitor is not None:
            parts.append(f"{len(self.monitor.received)} received")
        return ", ".join(parts) + f" after {self.cycles} cycles"


async def reset(rst, clock, cycles=2):
    """Hold Amaranth's synchronous ``rst`` high for ``cycles`` rising edges."""
    rst.value = 1
    for _ in range(cycles):
        await RisingEdge(clock)
    rst.value = 0


def field_lanes(fields, name):
    """The leaves that make up field ``name``: ``[name]``, or ``name[0], name[1], ...``."""
    if name in fields:
        return [name]
    lanes = sorted((f for f in fields if re.fullmatch(rf"{re.escape(name)}\[\d+\]", f)),
                   key=lambda f: int(f[len(name) + 1:-1]))
    if not lanes:
        raise ValueError(f"the payload has no field {name!r} (fields: {', '.join(fields)})")
    return lanes


def sample_words(fields, xs, labels):
    """Packed sample-stream payloads of a whole run, in transfer order.

    ``fields``: the manifest's ``ports.samples``; ``x`` is one value per
    transfer, or ``x[0], x[1], ...`` several (the last transfer of a sample
    padded with zeros), with ``label`` and ``last``. ``xs``: (samples, n_0)
    integers in the activation format; ``labels``: (samples,). Returns a
    (transfers, limbs) uint64 array, limb 0 the low 64 bits, for
    :func:`hex_lines`. Raises ``ValueError`` on a field it does not know.
    """
    import numpy as np
    xs, labels = np.asarray(xs, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    known = set(field_lanes(fields, "x")) | {"label", "last"}
    if set(fields) - known:
        raise ValueError(f"sample payload fields {sorted(set(fields) - known)} are unknown to the bench")
    lanes = field_lanes(fields, "x")
    n, n0 = xs.shape
    per = -(-n0 // len(lanes))
    padded = np.zeros((n, per * len(lanes)), dtype=np.int64)
    padded[:, :n0] = xs
    grid = padded.reshape(n, per, len(lanes))
    columns = {name: grid[:, :, k].reshape(-1) for k, name in enumerate(lanes)}
    columns["label"] = np.repeat(labels, per)
    columns["last"] = np.tile((np.arange(per) == per - 1).astype(np.int64), n)
    return pack_columns(fields, columns)


def pack_columns(fields, columns):
    """:func:`pack` for whole arrays: ``columns`` maps each field to an int64
    array (one entry per payload); returns (payloads, limbs) uint64."""
    import numpy as np
    n = len(next(iter(columns.values())))
    bits = max(offset + width for offset, width, _ in fields.values())
    limbs = np.zeros((n, -(-bits // 64)), dtype=np.uint64)
    for name, (offset, width, _) in fields.items():
        v = columns[name].astype(np.int64).view(np.uint64) & np.uint64((1 << width) - 1)
        limb, shift = divmod(offset, 64)
        limbs[:, limb] |= v << np.uint64(shift)
        if shift + width > 64:     # the field straddles two limbs
            limbs[:, limb + 1] |= v >> np.uint64(64 - shift)
    return limbs


def hex_lines(limbs, bits):
    """``$readmemh`` text of packed payloads ((n, limbs) uint64): one word a line,
    ``ceil(bits / 4)`` hex digits."""
    import numpy as np
    if len(limbs) == 0:
        return ""
    digits = -(-bits // 4)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = (limbs[:, ::-1, None] >> shifts[None, None, :]) & np.uint64(15)
    nibbles = nibbles.reshape(len(limbs), -1)[:, -digits:]
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text = np.empty((len(limbs), digits + 1), dtype=np.uint8)
    text[:, :digits] = table[nibbles]
    text[:, digits] = ord("\n")
    return text.tobytes().decode()


def group_results(fields, payloads, n_out):
    """Per sample ``(outputs, label)`` from result-stream payloads (ints, in
    transfer order): ``a`` or ``a[0], a[1], ...`` values up to the transfer
    with ``last``, cut to ``n_out``. An unfinished sample at the end is dropped."""
    lanes = field_lanes(fields, "a")
    samples, values = [], []
    for bits in payloads:
        word = unpack(fields, bits)
        values.extend(word[name] for name in lanes)
        if word["last"]:
            samples.append((values[:n_out], word["label"]))
            values = []
    return samples
