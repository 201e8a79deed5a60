"""The host link's units in Amaranth's simulator, and the protocol's software side."""
import math

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from layerpipe.hw.config import NetConfig
from layerpipe.hw.link import protocol
from layerpipe.hw.link.epoch_order import TAPS, EpochOrder, lfsr_bits, lfsr_step
from layerpipe.hw.link.frame_rx import FrameReceiver
from layerpipe.hw.link.frame_tx import FrameSender
from layerpipe.hw.link.protocol import Cmd, Error
from layerpipe.hw.link.uart import UartRx, UartTx, divisor_for
from layerpipe.sim import link_golden


@pytest.mark.parametrize("m", [m for m in TAPS if m <= 16])
def test_lfsr_taps_are_maximal(m):
    s, period = 1, 0
    while True:
        s, period = lfsr_step(s, m), period + 1
        if s == 1:
            break
    assert period == 2 ** m - 1


@pytest.mark.parametrize("count,seed", [(13, 7), (1, 1), (31, 30), (20, 3)])
def test_epoch_order_gateware_matches_twin(count, seed):
    m = lfsr_bits(max(count, 31))
    dut = EpochOrder(m)
    twin = link_golden.EpochOrder(count, seed, m)
    want = [twin.epoch() for _ in range(3)]
    for e in want:
        assert sorted(e) == list(range(count)), "an epoch is a permutation of the store"
    got = []

    async def bench(ctx):
        ctx.set(dut.count, count)
        ctx.set(dut.seed, seed)
        ctx.set(dut.load, 1)
        await ctx.tick()
        ctx.set(dut.load, 0)
        while len(got) < 3 * count:
            if ctx.get(dut.valid):
                got.append(ctx.get(dut.index))
                ctx.set(dut.next, 1)
            else:
                ctx.set(dut.next, 0)
            await ctx.tick()
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == [i for e in want for i in e]


def test_frames_pack_and_crc_round_trip():
    values = {"version": 1, "digest": bytes.fromhex("0123456789ab"), "capacity": 1437, "epoch_slots": 16,
              "inputs": 64, "outputs": 10, "layers": 2, "value_bytes": 2, "label_bytes": 1, "weight_bytes": 2,
              "lfsr_bits": 11, "baud_divisor": 33}
    payload = protocol.pack_fields(protocol.INFO_FIELDS, values)
    back = protocol.unpack_fields(protocol.INFO_FIELDS, payload)
    assert back["digest"] == "0123456789ab" and back["capacity"] == 1437 and back["baud_divisor"] == 33
    frame = protocol.encode_frame(Cmd.INFO | protocol.ACK, 7, payload)
    got, rest = protocol.decode_frame(b"\x00\x13" + frame + b"\xa5")
    assert (got.type, got.seq, got.payload, rest) == (Cmd.INFO | protocol.ACK, 7, payload, b"\xa5")
    bad = bytearray(frame)
    bad[8] ^= 0x10
    with pytest.raises(ValueError, match="bad CRC"):
        protocol.decode_frame(bytes(bad))


class Loopback(wiring.Component):
    """FrameSender -> UartTx -> line -> UartRx -> FrameReceiver."""

    def __init__(self, divisor, timeout):
        self.sender, self.receiver = FrameSender(), FrameReceiver(timeout)
        self.utx, self.urx = UartTx(divisor), UartRx(divisor)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules += [self.sender, self.receiver, self.utx, self.urx]
        wiring.connect(m, self.sender.bytes, self.utx.bytes)
        wiring.connect(m, self.urx.bytes, self.receiver.bytes)
        m.d.comb += self.urx.rx.eq(self.utx.tx)
        return m


def test_frame_through_uart_is_the_hosts_frame():
    """The gateware's frame bytes equal :func:`protocol.encode_frame` (same CRC), and
    the receiver gets header and payload back with a good verdict."""
    dut = Loopback(divisor=5, timeout=1000)
    payload = bytes([0x00, 0xFF, 0xA5, 0x12, 0x80])
    line, got, verdicts = [], [], []

    async def send(ctx):
        ctx.set(dut.sender.header, {"type": Cmd.WRITE, "seq": 9, "length": len(payload)})
        ctx.set(dut.sender.start, 1)
        await ctx.tick()
        ctx.set(dut.sender.start, 0)
        for b in payload:
            ctx.set(dut.sender.payload.valid, 1)
            ctx.set(dut.sender.payload.payload, b)
            await ctx.tick().until(dut.sender.payload.ready)
        ctx.set(dut.sender.payload.valid, 0)

    async def watch(ctx):
        async for _, _, tx_valid, tx_ready, tx_byte, pv, pb, done, err in ctx.tick().sample(
                dut.utx.bytes.valid, dut.utx.bytes.ready, dut.utx.bytes.payload, dut.receiver.payload.valid,
                dut.receiver.payload.p.byte, dut.receiver.done, dut.receiver.error):
            if tx_valid and tx_ready:
                line.append(tx_byte)
            if pv:
                got.append(pb)
            if done:
                verdicts.append(err)

    async def bench(ctx):
        await ctx.tick().repeat(60 * 12 * 5)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(send, background=True)
    sim.add_process(watch)
    sim.add_testbench(bench)
    sim.run()
    assert bytes(line) == protocol.encode_frame(Cmd.WRITE, 9, payload)
    assert bytes(got) == payload and verdicts == [0]


@pytest.mark.parametrize("case", ["corrupt", "truncated", "good"])
def test_frame_receiver_verdicts(case):
    # bytes as fast as the fastest UART delivers them (divisor 4: 40 cycles a byte)
    timeout, spacing = 100, 40
    dut = FrameReceiver(timeout)
    frame = bytearray(protocol.encode_frame(Cmd.STATUS, 3, b""))
    if case == "corrupt":
        frame[2] ^= 0x01
    if case == "truncated":
        frame = frame[:4]
    verdicts = []

    async def bench(ctx):
        for b in frame:
            ctx.set(dut.bytes.valid, 1)
            ctx.set(dut.bytes.payload, b)
            await ctx.tick()
            ctx.set(dut.bytes.valid, 0)
            await ctx.tick().repeat(spacing - 1)
        await ctx.tick().repeat(timeout + 10)

    async def watch(ctx):
        async for _, _, done, error in ctx.tick().sample(dut.done, dut.error):
            if done:
                verdicts.append(error)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(watch)
    sim.add_testbench(bench)
    sim.run()
    want = {"corrupt": Error.BAD_CRC, "truncated": Error.TIMEOUT, "good": 0}[case]
    assert verdicts == [want]


def test_sample_format_of_a_config():
    fmt = protocol.SampleFormat.of(NetConfig((64, 32, 10)))
    assert (fmt.value_bytes, fmt.label_bytes, fmt.sample_bytes, fmt.result_bytes) == (2, 1, 129, 20)
    raw = fmt.encode_samples([[1, -2] + [0] * 62], [9])
    assert raw[:4] == b"\x01\x00\xfe\xff" and raw[-1] == 9 and len(raw) == 129


def test_counters_twin():
    c = link_golden.epoch_counters([[5, 9, 9], [1, 0, -3]], [1, 2], one=8)
    # sample 0: first maximum at 1 = label; sample 1: argmax 0 != 2
    assert c == {"samples": 2, "correct": 1, "abs_error": 5 + 1 + 9 + 1 + 0 + 11}


def test_divisor_for_a_board_clock():
    assert divisor_for(100e6, 3_000_000) == 33          # 1 % fast
    assert divisor_for(12e6, 3_000_000) == 4
    with pytest.raises(ValueError, match="off"):
        divisor_for(14e6, 3_000_000)                     # 14/5 = 2.8 Mbaud: 6.7 % slow
    with pytest.raises(ValueError, match="at least 4"):
        divisor_for(6e6, 3_000_000)


@pytest.mark.parametrize("name,divisor", [("ulx3s-85f", 25), ("icebreaker", 8)])   # 3 Mbaud at 75 and 24 MHz
def test_board_link_takes_the_boards_clock_and_block_ram(name, divisor):
    from layerpipe.boards import board
    from layerpipe.boards.board import BoardTop
    from layerpipe.hw import generator
    from layerpipe.hw.config import parse_widths
    from layerpipe.boards.link import RESERVE, UartLink
    from layerpipe.boards.stub import LfsrHost
    from layerpipe.hw.link.link_top import store_blocks
    from layerpipe.hw.plan import plan_design
    b = board(name)
    plan = plan_design(NetConfig(parse_widths(b.net)), b.target)
    link = UartLink(b, generator.build(plan)).link
    assert link.divisor == divisor
    # the board top holds the link beside the default net on both boards
    host = BoardTop(b, generator.build(plan)).host
    assert isinstance(host, UartLink) and b.host_link
    assert isinstance(BoardTop(b, generator.build(plan), host=LfsrHost).host, LfsrHost)
    # the store fills what the pipeline leaves less the reserve, and one more sample would not fit
    free = b.target.ebr_blocks - plan.ebr_blocks
    room = free - math.ceil(free * RESERVE[b.target.family])
    assert store_blocks(plan, link.capacity) <= room < store_blocks(plan, link.capacity + 1)


@pytest.mark.parametrize("lanes,seed", [(1, 1), (2, 2), (3, 3)])
def test_epoch_counters_gateware_matches_twin(lanes, seed):
    """EpochCounters against ``link_golden.epoch_counters`` on random outputs, extremes included
    (3 outputs: with 2 lanes a sample's last transfer has an idle lane)."""
    import random

    from amaranth.hdl import signed
    from amaranth.lib import data

    from layerpipe.hw.link.epoch_counters import EpochCounters
    outputs, one, count, epochs = 3, 1024, 4, 2
    layout = data.StructLayout({"a": data.ArrayLayout(signed(16), lanes), "label": range(outputs), "last": 1})
    dut = EpochCounters(layout, outputs, one, 4, 8)
    rng = random.Random(seed)
    values = [-2 ** 15, 2 ** 15 - 1, 0, one, -one]
    res = [[rng.choice(values + [rng.randrange(-2 ** 15, 2 ** 15)]) for _ in range(outputs)]
           for _ in range(count * epochs)]
    labels = [rng.randrange(outputs) for _ in res]
    got = []

    async def bench(ctx):
        ctx.set(dut.count, count)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        transfers = -(-outputs // lanes)
        for r, label in zip(res, labels):
            for t in range(transfers):
                lane_values = (r + [0] * lanes)[t * lanes:(t + 1) * lanes]
                ctx.set(dut.results.valid, 1)
                ctx.set(dut.results.p, {"a": lane_values, "label": label, "last": t == transfers - 1})
                await ctx.tick()
        ctx.set(dut.results.valid, 0)
        for e in range(epochs):
            ctx.set(dut.read_slot, e)
            await ctx.tick()
            got.append({k: ctx.get(getattr(dut.read_data, k)) for k in ("samples", "correct", "abs_error")})
        assert ctx.get(dut.epochs_done) == epochs
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    want = [link_golden.epoch_counters(res[e * count:(e + 1) * count], labels[e * count:(e + 1) * count], one)
            for e in range(epochs)]
    assert got == want, f"seed {seed}"


@pytest.mark.parametrize("name", ["ulx3s-85f", "icebreaker"])
def test_board_store_holds_its_default_data_set(name):
    """`layerpipe run --board B` trains the board's own data set from the store of its bitstream."""
    from layerpipe.boards import board
    from layerpipe.boards.link import link_store
    from layerpipe.hw.config import parse_widths
    from layerpipe.hw.plan import plan_design
    from layerpipe.sim import datasets
    b = board(name)
    plan = plan_design(NetConfig(parse_widths(b.net)), b.target)
    need = len(datasets.load(b.dataset, plan.widths).x_train)
    assert link_store(plan) >= need, f"{name}: a store of {link_store(plan)} samples, {b.dataset} has {need}"
