"""The sending half of the framing: a header and payload bytes in, a framed byte stream out."""
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol
from .frame_rx import HEADER
from .serial_crc import SerialCrc


class FrameSender(wiring.Component):
    """Frames ``length`` payload bytes (:mod:`.protocol`): SOF, the header,
    the payload as it comes, then the CRC. The CRC takes a byte in 8 cycles
    (:class:`.SerialCrc`), so a byte leaves at most every 9 cycles (the UART
    takes one every 10 x divisor).

    ``start`` (a one-cycle pulse, while ``busy`` is low) starts a frame of
    ``header``, which the producer holds until ``busy`` falls (the sender
    keeps no copy of it); the sender then takes exactly ``header.length`` bytes from ``payload``
    (the producer may be slow: the UART waits) and ends with the CRC.

    Members
    -------
    header : In(HEADER)  type, seq, length
    start : In(1)
    payload : In(stream) the payload bytes
    bytes : Out(stream)  to the UART transmitter
    busy : Out(1)        a frame is being sent
    """

    def __init__(self):
        super().__init__({"header": In(HEADER), "start": In(1), "payload": In(stream.Signature(8)),
                          "bytes": Out(stream.Signature(8)), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = gen = SerialCrc()
        head = self.header
        index = Signal(2)           # header byte, CRC byte
        left = Signal(16)           # payload bytes still to send
        sent = Signal()
        m.d.comb += [sent.eq(self.bytes.valid & self.bytes.ready), gen.data.eq(self.bytes.payload)]
        with m.FSM():
            with m.State("idle"):
                with m.If(self.start):
                    m.d.sync += [index.eq(0), left.eq(self.header.length)]
                    m.next = "sof"
            with m.State("sof"):
                m.d.comb += [self.busy.eq(1), self.bytes.valid.eq(1), self.bytes.payload.eq(protocol.SOF),
                             gen.start.eq(sent)]
                with m.If(sent):
                    m.next = "header"
            with m.State("header"):
                m.d.comb += [self.busy.eq(1), self.bytes.valid.eq(~gen.busy), gen.valid.eq(sent),
                             self.bytes.payload.eq(head.as_value().word_select(index[:2], 8))]
                with m.If(sent):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == 3):
                        m.d.sync += index.eq(0)
                        m.next = "payload_or_crc"
            with m.State("payload_or_crc"):
                m.d.comb += self.busy.eq(1)
                with m.If(left == 0):
                    m.next = "crc"
                with m.Else():
                    m.next = "payload"
            with m.State("payload"):
                m.d.comb += [self.busy.eq(1), self.bytes.valid.eq(self.payload.valid & ~gen.busy),
                             self.bytes.payload.eq(self.payload.payload),
                             self.payload.ready.eq(self.bytes.ready & ~gen.busy),
                             gen.valid.eq(sent)]
                with m.If(sent):
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.next = "crc"
            with m.State("crc"):        # once the CRC has taken the last byte (a bit per cycle)
                m.d.comb += [self.busy.eq(1), self.bytes.valid.eq(~gen.busy),
                             self.bytes.payload.eq(gen.crc.word_select(~index[0], 8))]
                with m.If(sent):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == 1):
                        m.next = "idle"
        return m
