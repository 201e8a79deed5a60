from amaranth_boards.icebreaker import ICEBreakerPlatform

from layerpipe.hw.target import BOARD_TARGETS

from .board import Ice40Board


class IceBreaker(Ice40Board):
    """1BitSquared iCEBreaker with the iCE40UP5K: 12 MHz oscillator on a PLL
    pad, SB_PLL40_PAD to the design clock."""
    name = "icebreaker"
    platform = ICEBreakerPlatform
    target_name = BOARD_TARGETS[name]
    clock = ("clk12", 12.0)
    clock_mhz = 30.0
    net = "4-8-3"
    dataset = "iris"
