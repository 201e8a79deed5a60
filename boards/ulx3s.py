from amaranth_boards.ulx3s import ULX3S_85F_Platform

from layerpipe.hw.target import BOARD_NETS, BOARD_TARGETS

from .board import Ecp5Board


class Ulx3s85f(Ecp5Board):
    """Radiona ULX3S with the LFE5U-85F: 25 MHz oscillator, EHXPLLL to the
    design clock; trains 64-32-10 on digits (the default network)."""
    name = "ulx3s-85f"
    platform = ULX3S_85F_Platform
    target_name = BOARD_TARGETS[name]
    clock = ("clk25", 25.0)
    # the default design (64-32-10, 79 multipliers) closes timing above this: 76.4 MHz (README,
    # "Boards and synthesis"); layerpipe synth --clock-mhz builds for another clock
    clock_mhz = 75.0
    net = BOARD_NETS[name]
    dataset = "digits"
