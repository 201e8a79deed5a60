from amaranth_boards.icebreaker import ICEBreakerPlatform

from .board import Ice40Board


class IceBreaker(Ice40Board):
    """1BitSquared iCEBreaker with the iCE40UP5K: 12 MHz oscillator on a PLL
    pad, SB_PLL40_PAD to the design clock."""
    name = "icebreaker"
    platform = ICEBreakerPlatform
    target_name = "ice40up5k"
    clock = ("clk12", 12.0)
    clock_mhz = 30.0
    net = "4-8-3"
    dataset = "iris"
