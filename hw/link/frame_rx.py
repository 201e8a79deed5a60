"""The receiving half of the framing: bytes in, header, payload bytes and a verdict out."""
from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol
from .serial_crc import SerialCrc

HEADER = data.StructLayout({"type": 8, "seq": 8, "length": 16})
# index: the byte's place in the payload, saturating at INDEX_MAX (commands read their
# arguments from the first bytes; sample bytes need no index)
INDEX_MAX = 7
PAYLOAD_BYTE = data.StructLayout({"byte": 8, "index": range(INDEX_MAX + 1)})


class FrameReceiver(wiring.Component):
    """Parses frames (:mod:`.protocol`) from a byte stream.

    Bytes before ``SOF`` are skipped. After the 4 header bytes ``header``
    holds type, seq and length and ``started`` pulses; each payload byte then
    appears on ``payload`` (with its index, up to :data:`INDEX_MAX`) in the
    cycle it arrives, for one cycle; the consumer must take it then (it
    always can: bytes arrive at most every 10 x divisor cycles). After the CRC
    ``done`` pulses with ``error`` = 0 (the CRC matches) or ``Error.BAD_CRC``;
    if no byte arrives for ``timeout`` cycles mid-frame, ``done`` pulses with
    ``Error.TIMEOUT`` and the receiver hunts for the next ``SOF``. Latency:
    ``done`` comes 10 cycles after the last CRC byte (the CRC takes a bit per
    cycle, :class:`.SerialCrc`).

    Members
    -------
    bytes : In(stream)     always ready
    header : Out(HEADER)   type, seq, length (valid from ``started`` until the next frame)
    started, done : Out(1) one-cycle pulses
    error : Out(8)         with ``done``: 0, BAD_CRC or TIMEOUT
    payload : Out(stream)  byte and index; no backpressure (``ready`` is ignored)
    receiving : Out(1)     inside a frame
    """

    def __init__(self, timeout):
        self.timeout = timeout
        super().__init__({
            "bytes": In(stream.Signature(8)),
            "header": Out(HEADER),
            "started": Out(1), "done": Out(1), "error": Out(8),
            "payload": Out(stream.Signature(PAYLOAD_BYTE)),
            "receiving": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = check = SerialCrc()
        byte, got = self.bytes.payload, self.bytes.valid
        m.d.comb += [self.bytes.ready.eq(1), check.data.eq(byte)]
        index = Signal(range(INDEX_MAX + 1))    # header byte, payload byte (saturating) or CRC byte
        left = Signal(16)                       # payload bytes still to come
        idle = Signal(range(self.timeout + 1))
        timed_out = Signal()
        m.d.comb += timed_out.eq(self.receiving & ~got & (idle == self.timeout))
        m.d.sync += [self.started.eq(0), self.done.eq(0)]
        m.d.comb += [self.payload.p.byte.eq(byte), self.payload.p.index.eq(index)]
        with m.If(got | ~self.receiving):
            m.d.sync += idle.eq(0)
        with m.Else():
            m.d.sync += idle.eq(idle + 1)
        with m.If(timed_out):       # a frame that stops mid-way is dropped
            m.d.sync += [self.done.eq(1), self.error.eq(protocol.Error.TIMEOUT)]
        with m.FSM():
            with m.State("hunt"):
                with m.If(got & (byte == protocol.SOF)):
                    m.d.comb += check.start.eq(1)
                    m.d.sync += index.eq(0)
                    m.next = "header"
            for part in ("header", "payload", "crc"):
                with m.State(part):
                    m.d.comb += self.receiving.eq(1)
                    with m.If(timed_out):
                        m.next = "hunt"
                    with m.If(got):
                        m.d.comb += check.valid.eq(1)
                        m.d.sync += index.eq(Mux(index == INDEX_MAX, INDEX_MAX, index + 1))
                        self._byte(m, part, byte, index, left)
            with m.State("check"):      # the CRC has taken the last byte once it is no longer busy
                with m.If(~check.busy & ~check.valid):
                    m.d.sync += [self.done.eq(1),
                                 self.error.eq(Mux(check.match_detected, 0, protocol.Error.BAD_CRC))]
                    m.next = "hunt"
        return m

    def _byte(self, m, part, byte, index, left):
        """What a byte that arrived in ``part`` of the frame does."""
        if part == "header":
            with m.Switch(index):
                with m.Case(0):
                    m.d.sync += self.header.type.eq(byte)
                with m.Case(1):
                    m.d.sync += self.header.seq.eq(byte)
                with m.Case(2):
                    m.d.sync += self.header.length[:8].eq(byte)
                with m.Case(3):
                    m.d.sync += [self.header.length[8:].eq(byte), self.started.eq(1), index.eq(0),
                                 left.eq(Cat(self.header.length[:8], byte))]
                    with m.If((self.header.length[:8] == 0) & (byte == 0)):
                        m.next = "crc"
                    with m.Else():
                        m.next = "payload"
        elif part == "payload":
            m.d.comb += self.payload.valid.eq(1)
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += index.eq(0)
                m.next = "crc"
        else:
            with m.If(index == 1):
                m.next = "check"
