from amaranth.hdl import Const, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out


class MacArray(wiring.Component):
    """``lanes`` signed multipliers: the one place the design multiplies.

    Parameters
    ----------
    lanes : int
    a_width, b_width : int
        Operand widths (two's complement). At most 18 maps each multiplier onto
        one ECP5 MULT18X18D, at most 16 onto one iCE40 SB_MAC16 (``-dsp``).

    Members
    -------
    a, b : In(ArrayLayout(signed(a_width|b_width), lanes))
        Operands, one pair per lane.
    en : In(1)
        Whether this cycle's operands make a new product (else ``p`` holds).
    p : Out(ArrayLayout(signed(a_width + b_width), lanes))
        ``p[j] = a[j] * b[j]`` of the operands of ``latency`` cycles before, exact.

    ``operand_registers`` (default 1; a target's
    :attr:`~layerpipe.hw.target.Target.operand_registers`): register stages in
    front of each multiplier, 0, 1 or 2; latency ``operand_registers + 1``
    cycles, the operand stages, then the product register. One stage keeps the
    memory reads and the selects that feed the operands (weight banks, delay
    FIFO groups, the pass's delta) out of the multiplier's cycle, so that each
    DSP block sits between two registers (nextpnr-ecp5 times a MULT18X18D
    without its own registers as combinational logic). A second stage splits
    the route from a block RAM to the DSP block: on the ECP5-85F the block
    RAM's clock-to-output (5.6 ns without its output register) and the route
    from the block-RAM row to the DSP row (8.4 ns) filled one 13.3 ns cycle
    (75 MHz) by themselves (the README's synthesis section). No register has a
    reset, so that ``synth_ice40 -dsp`` can pack them into the SB_MAC16;
    yosys's ECP5 flow keeps them in fabric flip-flops, which nextpnr places
    along the route.
    """

    def __init__(self, lanes, a_width, b_width, operand_registers=1):
        self.lanes, self.a_width, self.b_width = lanes, a_width, b_width
        self.operand_registers = operand_registers
        self.latency = self.latency_of(operand_registers)
        super().__init__(self.signature_of(lanes, a_width, b_width))

    @staticmethod
    def latency_of(operand_registers):
        """Cycles from the operands to their product: the operand register stages, then the
        product register."""
        return int(operand_registers) + 1

    @staticmethod
    def signature_of(lanes, a_width, b_width):
        return wiring.Signature({
            "a": In(data.ArrayLayout(signed(a_width), lanes)),
            "b": In(data.ArrayLayout(signed(b_width), lanes)),
            "en": In(1, init=1),
            "p": Out(data.ArrayLayout(signed(a_width + b_width), lanes)),
        })

    @staticmethod
    def attach(m, unit, lanes, a_width, b_width):
        """The multipliers of ``unit``: its own MacArray, added to ``m``, or,
        when ``unit.own_mac`` is false, its ``mac`` port (an
        ``In(MacArray.signature_of(...))`` member: the unit drives ``a`` and
        ``b`` and takes ``p`` back ``latency`` cycles later from a shared array
        with the unit's ``operand_registers``)."""
        if unit.own_mac:
            m.submodules.mac_array = mac = MacArray(lanes, a_width, b_width, unit.operand_registers)
            return mac
        return unit.mac

    def elaborate(self, platform):
        m = Module()
        stages = int(self.operand_registers)
        en = delayed(m, self.en, stages, "en", reset_less=True)
        for j in range(self.lanes):
            a = delayed(m, self.a[j], stages, f"a{j}", reset_less=True)
            b = delayed(m, self.b[j], stages, f"b{j}", reset_less=True)
            product = Signal(signed(self.a_width + self.b_width), name=f"product{j}", reset_less=True)
            with m.If(en):
                m.d.sync += product.eq(a * b)
            m.d.comb += self.p[j].eq(product)
        return m


def delayed(m, value, cycles, name, reset_less=False):
    """``value`` as it was ``cycles`` cycles ago: a chain of registers named
    ``{name}_t1``, ``{name}_t2``, ... in ``m``'s sync domain (without a reset
    where ``reset_less``)."""
    for k in range(cycles):
        value_k = Signal.like(value, name=f"{name}_t{k + 1}", reset_less=reset_less)
        m.d.sync += value_k.eq(value)
        value = value_k
    return value


def adder_tree_to(values, n):
    """Pairwise adder levels over ``values`` (Amaranth values) until at most ``n``
    remain; each adder is one bit wider than its operands, so nothing overflows."""
    values = list(values)
    while len(values) > n:
        values = [values[k] + values[k + 1] if k + 1 < len(values) else values[k]
                  for k in range(0, len(values), 2)]
    return values


def adder_tree(values):
    """The exact sum of ``values`` as a balanced tree of adders, depth ceil(log2(len(values)))."""
    return adder_tree_to(values, 1)[0]


def times_constant(x, k):
    """``x * k`` for an unsigned Amaranth value ``x`` and an integer constant ``k`` >= 0, as
    a sum of shifted copies of ``x`` (one per set bit of ``k``), so that an address or byte
    count scaled by a constant takes a few adders, not a DSP block (yosys's ``mul2dsp``
    puts every ``$mul`` of operands 2 bits or wider on one, constants included)."""
    if k < 0:
        raise ValueError(f"times_constant: k {k} must be >= 0")
    terms = [x << s for s in range(k.bit_length()) if k >> s & 1]
    return adder_tree(terms) if terms else Const(0, 1)
