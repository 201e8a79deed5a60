"""The link's CRC, one bit per cycle: a byte interface over ``amaranth.lib.crc``'s bit-serial processor."""
from amaranth.hdl import Module, Signal
from amaranth.lib import crc, wiring
from amaranth.lib.wiring import In, Out

from . import protocol


class SerialCrc(wiring.Component):
    """:data:`protocol.CRC` over bytes, computed a bit per cycle.

    The UART delivers a byte at most every 10 x divisor cycles (at least 40),
    so 8 cycles per byte are free, and a bit-serial CRC register takes a
    sixth of the logic of the byte-parallel one (16 flip-flops and a few
    XORs against about 40 LUT4s for CRC-16). The CRC of the bits of a byte
    stream, most significant bit first, is the byte CRC when the input is
    not reflected (CRC-16/IBM-3740 is not).

    Members
    -------
    start : In(1)      restart from the initial value (before ``valid`` of the first byte,
                       or in the same cycle)
    data : In(8), valid : In(1)   a byte, taken while ``busy`` is low
    busy : Out(1)      the last byte is being folded in (8 cycles after ``valid``)
    crc : Out(16)      the CRC of the bytes so far, once ``busy`` is low
    match_detected : Out(1)   the bytes so far end with their own CRC (once ``busy`` is low)
    """

    def __init__(self):
        algorithm = protocol.CRC_ALGORITHM
        if algorithm.reflect_input:
            raise ValueError("a bit-serial CRC of bytes needs an unreflected input")
        self.params = algorithm(data_width=1)
        super().__init__({"start": In(1), "data": In(8), "valid": In(1), "busy": Out(1),
                          "crc": Out(algorithm.crc_width), "match_detected": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.processor = proc = crc.Processor(self.params)
        shift = Signal(8)
        left = Signal(range(9))
        m.d.comb += [self.busy.eq(left != 0), proc.start.eq(self.start), proc.data.eq(shift[7]),
                     proc.valid.eq(left != 0), self.crc.eq(proc.crc), self.match_detected.eq(proc.match_detected)]
        with m.If(self.valid & ~self.busy):
            m.d.sync += [shift.eq(self.data), left.eq(8)]
        with m.Elif(left != 0):
            m.d.sync += [shift.eq(shift << 1), left.eq(left - 1)]
        return m
