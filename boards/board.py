"""What a board means for LayerPipe: a device target (its resource budget),
a clock made by the board's PLL, a default network and data set, and the top
wrapper that puts the accelerator behind the board's clock and reset."""
from amaranth.hdl import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from layerpipe.hw.target import board_target, get_target

from .link import UartLink
from .pll import Ecp5Pll, Ice40Pll
from .stub import LfsrHost

# The component that faces the host: built from the board and the accelerator,
# it drives the accelerator's ports and requests its own pins from the platform.
HOST = UartLink


class Board:
    """A board, declared by its class attributes.

    name            the ``--board`` name
    platform        the amaranth-boards platform class
    target_name     the device target (:mod:`layerpipe.hw.target`): its budgets
    target          the device under the board's default DSP budget (``board_target``),
                    what its designs are planned on unless --dsp-budget says otherwise
    device_target   the whole device (a manifest's design is checked against it)
    clock           the oscillator resource and its frequency (MHz)
    clock_mhz       the design clock the PLL makes, and the constraint nextpnr places for
    net, dataset    the default network and the data set it trains
    observe_led     the LED that shows a host's ``observed`` output (:class:`~layerpipe.boards.stub.LfsrHost`)
    """
    name = None
    platform = None
    target_name = None
    clock = None
    clock_mhz = None
    net = None
    dataset = None
    observe_led = ("led", 0)
    host_link = True        # False: the board cannot hold the link beside its default net (LfsrHost instead)

    @property
    def target(self):
        return board_target(self.name)

    @property
    def device_target(self):
        return get_target(self.target_name)

    @property
    def device(self):
        return self.platform.device

    def pll(self):
        """The PLL dividers for :attr:`clock_mhz` (the fastest setting not above it)."""
        raise NotImplementedError

    def clock_domain(self, m, platform):
        """Add the ``sync`` domain, clocked by the PLL and held in reset until it locks."""
        raise NotImplementedError


class BoardTop(Elaboratable):
    """The top of a board's bitstream: the ``sync`` domain from the board's
    PLL (reset until lock), the accelerator, and :data:`HOST` in front of it.

    Elaborated with the board's amaranth-boards platform."""

    def __init__(self, board, accelerator, host=None):
        self.board, self.accelerator = board, accelerator
        if host is None and not board.host_link:
            host = LfsrHost
        self.host = host(accelerator) if host else HOST(board, accelerator)

    def elaborate(self, platform):
        m = Module()
        self.board.clock_domain(m, platform)
        m.submodules.accelerator = self.accelerator
        m.submodules.host = self.host
        if hasattr(self.host, "observed"):
            led = platform.request(*self.board.observe_led, dir="-")
            m.submodules.observe_buf = buf = io.Buffer("o", led)
            m.d.comb += buf.o.eq(self.host.observed)
        return m


def _sync_domain(m, platform, clk, locked, f_mhz, reset_buffer=None):
    """The ``sync`` domain on ``clk``, reset until ``locked`` (synchronised to ``clk``).
    ``reset_buffer(m, rst)``, where given, returns the reset as a global net drives it."""
    m.domains.sync = cd = ClockDomain("sync")
    m.d.comb += cd.clk.eq(clk)
    platform.add_clock_constraint(cd.clk, f_mhz * 1e6)
    if reset_buffer is None:
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        return
    # the synchroniser runs in a domain of its own on the same clock, so that its
    # output can pass the buffer before it becomes the sync domain's reset
    m.domains.reset_sync = rcd = ClockDomain("reset_sync", local=True)
    m.d.comb += rcd.clk.eq(clk)
    m.submodules.reset_sync = ResetSynchronizer(~locked, domain="reset_sync")
    m.d.comb += cd.rst.eq(reset_buffer(m, rcd.rst))


class Ecp5Board(Board):
    """A board with an ECP5: the PLL is an EHXPLLL fed from the oscillator pin."""

    def pll(self):
        return Ecp5Pll.solve(self.clock[1], self.clock_mhz)

    def clock_domain(self, m, platform):
        pll = self.pll()
        clk_pin = platform.request(self.clock[0], dir="-")
        m.submodules.clk_buf = buf = io.Buffer("i", clk_pin)
        clk, locked = Signal(), Signal()
        m.submodules.pll = Instance(
            "EHXPLLL", a_FREQUENCY_PIN_CLKI=str(pll.f_in_mhz), a_FREQUENCY_PIN_CLKOP=f"{pll.f_out_mhz:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            **{f"p_{k}": v for k, v in pll.params().items()},
            i_CLKI=buf.i, i_CLKFB=clk, o_CLKOP=clk, o_LOCK=locked,
            i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
            i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0)
        _sync_domain(m, platform, clk, locked, pll.f_out_mhz, reset_buffer=_ecp5_global)


def _ecp5_global(m, signal):
    """``signal`` through a DCCA, so that nextpnr routes it on a primary clock net.
    The domain's reset reaches every flip-flop with a reset (4,558 LSR inputs in the
    ULX3S default); nextpnr-ecp5 promotes only clocks to global nets, and on general
    routing a net of that fanout crowded the routing of the whole accelerator."""
    out = Signal()
    m.submodules.reset_global = Instance("DCCA", i_CLKI=signal, i_CE=1, o_CLKO=out)
    return out


class Ice40Board(Board):
    """A board with an iCE40: the PLL is an SB_PLL40_PAD on the oscillator's pad."""

    def pll(self):
        return Ice40Pll.solve(self.clock[1], self.clock_mhz)

    def clock_domain(self, m, platform):
        pll = self.pll()
        clk_pin = platform.request(self.clock[0], dir="-")
        clk, locked = Signal(), Signal()
        m.submodules.pll = Instance(
            "SB_PLL40_PAD", **{f"p_{k}": v for k, v in pll.params().items()},
            io_PACKAGEPIN=clk_pin.io, i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=clk, o_LOCK=locked)
        _sync_domain(m, platform, clk, locked, pll.f_out_mhz)



