"""The host link on a board: :class:`~layerpipe.hw.link.link_top.LinkTop`
in front of the accelerator, on the board's USB UART pins."""
import math

from amaranth.hdl import Elaboratable, Module

from layerpipe.hw.link.link_top import LinkTop, store_capacity
from layerpipe.hw.link.uart import divisor_for

# Both boards' USB UARTs (FT231X on the ULX3S, FT2232H on the iCEBreaker) run 3 Mbaud.
BAUD = 3_000_000
# Block RAM kept free beside the store, as a share of what the pipeline leaves, per
# device family: on the iCE40 yosys places more blocks than the plan counts (12
# against 9 for 4-8-3 on the iCE40UP5K, README "Plan estimates against nextpnr");
# on the ECP5 fewer (it puts small memories in LUT RAM), and a tenth leaves room
# for digits' 1,437 samples beside 64-32-10 on the ECP5-85F.
RESERVE = {"ice40": 0.25, "ecp5": 0.10}


def link_store(plan):
    """Samples the board's store holds: the block RAM the pipeline leaves, less :data:`RESERVE`."""
    free = plan.target.ebr_blocks - plan.ebr_blocks
    reserve = math.ceil(free * RESERVE[plan.target.family])
    return max(1, store_capacity(plan, reserve=reserve) or 1)


class UartLink(Elaboratable):
    """The link top for ``board``: its UART divisor from the board's clock
    (:func:`divisor_for`), its sample store as large as the block RAM the
    pipeline leaves on the board's device (at least one sample, for STREAM).
    The board wrapper holds the accelerator; this holds the link and the pins."""

    def __init__(self, board, accelerator, baud=BAUD):
        self.board, self.accelerator = board, accelerator
        self.link = LinkTop(accelerator, divisor_for(board.clock_mhz * 1e6, baud),
                            link_store(accelerator.plan), owns_pipeline=False)

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = self.link
        uart = platform.request("uart", 0)
        m.d.comb += [self.link.rx.eq(uart.rx.i), uart.tx.o.eq(self.link.tx)]
        return m
