from amaranth_boards.icebreaker import ICEBreakerPlatform

from layerpipe.hw.target import BOARD_NETS, BOARD_TARGETS

from .board import Ice40Board


class IceBreaker(Ice40Board):
    """1BitSquared iCEBreaker with the iCE40UP5K: 12 MHz oscillator on a PLL
    pad, SB_PLL40_PAD to the design clock."""
    name = "icebreaker"
    platform = ICEBreakerPlatform
    target_name = BOARD_TARGETS[name]
    clock = ("clk12", 12.0)
    clock_mhz = 24.0      # place and route with the link closes just above it (README); 3 Mbaud = 24 MHz / 8
    net = BOARD_NETS[name]
    dataset = "iris"
    # The board top holds the UART link beside 4-8-3: 98 % of the UP5K's 5,280 logic
    # cells once placed (README, "Boards and synthesis"), so a larger default net
    # leaves no room for it.
