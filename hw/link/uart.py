"""An 8N1 UART: one start bit, 8 data bits (least significant first), one
stop bit, ``divisor`` clock cycles per bit (baud = clock / divisor)."""
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


# An 8N1 receiver samples the stop bit 9.5 bit times after the start edge; a
# clock error under 2 % keeps that sample inside the bit with margin.
MAX_BAUD_ERROR = 0.02


def divisor_for(clock_hz, baud):
    """Clock cycles per bit nearest ``clock_hz / baud``; ValueError if the
    resulting rate is off by more than :data:`MAX_BAUD_ERROR` or under 4 cycles."""
    divisor = round(clock_hz / baud)
    check_divisor(divisor)
    error = abs(clock_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"{baud} baud from {clock_hz / 1e6:g} MHz: divisor {divisor} is {100 * error:.1f} % off")
    return divisor


def check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"baud divisor {divisor!r}: at least 4 clock cycles per bit")


class UartRx(wiring.Component):
    """Receives bytes from the serial line ``rx``.

    The line passes a 2-flop synchroniser; a start bit is a low level still
    low half a bit later, then each bit is sampled in its middle. A byte whose
    stop bit is low is dropped and counted in ``framing_errors``.

    Members
    -------
    rx : In(1)          the serial line (idle high)
    bytes : Out(stream) one transfer per byte; the byte is lost if ``ready``
                        is low when it arrives (``overruns`` counts them)
    busy : Out(1)       a byte is being received
    """

    def __init__(self, divisor):
        check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "bytes": Out(stream.Signature(8)), "busy": Out(1),
                          "framing_errors": Out(16), "overruns": Out(16)})

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor))
        bit = Signal(range(10))
        shift = Signal(8)
        m.d.comb += self.bytes.payload.eq(shift)
        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += self.bytes.valid.eq(0)
        with m.FSM():
            with m.State("idle"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "start"
            with m.State("start"):
                m.d.comb += self.busy.eq(1)
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(rx):            # a glitch, not a start bit
                    m.next = "idle"
                with m.Else():
                    m.d.sync += [timer.eq(self.divisor - 1), bit.eq(0)]
                    m.next = "data"
            with m.State("data"):
                m.d.comb += self.busy.eq(1)
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(bit == 8):      # the middle of the stop bit
                    with m.If(~rx):
                        m.d.sync += self.framing_errors.eq(self.framing_errors + 1)
                    with m.Elif(self.bytes.valid & ~self.bytes.ready):
                        m.d.sync += self.overruns.eq(self.overruns + 1)
                    with m.Else():
                        m.d.sync += self.bytes.valid.eq(1)
                    m.next = "idle"
                with m.Else():
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)),
                                 timer.eq(self.divisor - 1), bit.eq(bit + 1)]
        return m


class UartTx(wiring.Component):
    """Sends the bytes of a stream on the serial line ``tx``, back to back.

    Members
    -------
    bytes : In(stream)  taken when the previous byte's stop bit has ended
    tx : Out(1)         the serial line (idle high)
    busy : Out(1)       a byte is on the line
    """

    def __init__(self, divisor):
        check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"bytes": In(stream.Signature(8)), "tx": Out(1, init=1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        bits = Signal(10, init=0x3FF)      # stop, data[7:0], start; shifted out from bit 0
        left = Signal(range(11))
        m.d.comb += [self.tx.eq(bits[0]), self.busy.eq(left != 0), self.bytes.ready.eq(left == 0)]
        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += [bits.eq((1 << 9) | (self.bytes.payload << 1)), left.eq(10),
                         timer.eq(self.divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [bits.eq((bits >> 1) | (1 << 9)), left.eq(left - 1), timer.eq(self.divisor - 1)]
        return m
