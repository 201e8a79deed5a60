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
    # The UART link top takes about 2,450 LUT4 after yosys (4,793 with 4-8-3 against
    # 2,346 without), more than the UP5K's 5,280 cells hold beside the pipeline once
    # placed: the board top keeps the LFSR stub until the link is smaller.
    host_link = True
