"""The simulated board: the link top in Verilator, its serial line driven by
cocotbext-uart behind a TCP socket (``layerpipe.sim.link_bench``), trained
by the host driver over ``socket://``.

Small on purpose, to stay in the fast suite: iris on a 4-8-3 net, a store of
128 samples and a UART of 8 clock cycles per bit (12.5 Mbaud at the
simulation's 100 MHz); the protocol and the on-chip training are those of a
board.
"""
import socket
import threading

import numpy as np
import pytest

from layerpipe.hw.config import NetConfig
from layerpipe.hw.plan import plan_design
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.link import protocol
from layerpipe.hw.link.protocol import Cmd, Error
from layerpipe.sim import datasets, link_serve
from layerpipe.sim.link_host import LinkError, connect, check_board, read_weights, train_on_board

PLAN = plan_design(NetConfig((4, 8, 3)))
CFG = PLAN.config
CAPACITY = 128


@pytest.fixture(scope="module")
def board():
    model, manifest = link_serve.build(PLAN, capacity=CAPACITY)
    with link_serve.ServedBoard(model) as served:
        link, info = connect(served.url, CFG, manifest["digest"])
        yield link, info, manifest
        link.close()


def test_trains_on_chip_bit_exact(board):
    link, info, _ = board
    data = datasets.load("iris", CFG.widths)
    r = train_on_board(link, info, CFG, data, epochs=2, seed=5, clock_hz=link_serve.SIM_CLOCK_HZ)
    assert r["first_mismatch"] is None, r["first_mismatch"]
    assert r["bit_exact"] and r["weights_bit_exact"] and r["mismatches"] == 0
    assert [c["epoch"] for c in r["counters"]] == [0, 1]
    assert all(c["bit_exact"] and c["samples"] == len(data.x_train) for c in r["counters"])
    assert r["accuracy"] == r["golden_accuracy"]
    assert r["link"]["samples_per_s"] <= r["link"]["baud_limit_samples_per_s"]
    # a beat per sample at least, plus the fill and drain
    assert r["cycles_per_sample"] >= r["on_chip_cycles"] / r["samples"] > 1


def test_stream_mode_bit_exact(board):
    link, info, _ = board
    data = datasets.load("iris", CFG.widths)
    few = datasets.DataSet("iris", data.x_train[:20], data.y_train[:20], data.x_test, data.y_test, 3)
    r = train_on_board(link, info, CFG, few, epochs=1, stream=True)
    assert r["first_mismatch"] is None, r["first_mismatch"]
    assert r["bit_exact"] and r["counters"][0]["bit_exact"] and r["link"]["samples"] == 20


def snapshot(link):
    st = link.status()
    counters = [link.call(Cmd.COUNTERS, epoch=e) for e in range(st["epochs_done"])]
    return st["stored"], st["epochs_done"], read_weights(link, CFG, protocol.SampleFormat.of(CFG)), counters


def reply(link):
    f = link.receive()
    assert f.type == protocol.ERROR, f"expected an error reply, got type 0x{f.type:02x}"
    return protocol.unpack_fields(protocol.ERROR_FIELDS, f.payload)["code"]


def test_bad_frames_are_reported_and_change_nothing(board):
    link, info, _ = board
    fmt = protocol.SampleFormat.of(CFG)
    link.call(Cmd.CLEAR)
    three = fmt.encode_samples([[1, 2, 3, 4]] * 3, [0, 1, 2])
    assert protocol.unpack_fields(protocol.WRITE_FIELDS, link.request(Cmd.WRITE, three))["stored"] == 3
    link.call(Cmd.START, epochs=1, lfsr_state=1)
    while link.status()["running"]:
        pass
    before, bad0 = snapshot(link), link.status()["bad_frames"]
    good = protocol.encode_frame(Cmd.WRITE, 200, fmt.encode_samples([[9, 9, 9, 9]] * 2, [1, 1]))
    corrupt = bytearray(good)
    corrupt[9] ^= 0x04
    cases = [
        ("corrupted payload", bytes(corrupt), Error.BAD_CRC),
        ("truncated", good[:len(good) // 2], Error.TIMEOUT),
        ("unknown type", protocol.encode_frame(0x42, 201, b""), Error.UNKNOWN_TYPE),
        ("STATUS with an argument", protocol.encode_frame(Cmd.STATUS, 202, b"\x01"), Error.BAD_LENGTH),
        ("half a sample", protocol.encode_frame(Cmd.WRITE, 203, three[:-3]), Error.BAD_LENGTH),
        ("weights of layer 7", protocol.encode_frame(Cmd.WEIGHTS, 204, b"\x07\x00\x00"), Error.BAD_ARG),
    ]
    for name, frame, code in cases:
        link.send_bytes(frame)
        assert reply(link) == code, name
        assert link.status()["stored"] == 3, f"{name} was applied"
    assert_unchanged(snapshot(link), before)
    assert link.status()["bad_frames"] == bad0 + len(cases)
    # the link recovers: the next good frame is applied
    assert protocol.unpack_fields(protocol.WRITE_FIELDS, link.request(Cmd.WRITE, three))["stored"] == 6
    # a repeated WRITE (same seq, as after a lost ack) is acknowledged, not applied twice
    link.send_bytes(protocol.encode_frame(Cmd.WRITE, link.seq, three))
    assert protocol.unpack_fields(protocol.WRITE_FIELDS, link.expect(Cmd.WRITE, link.seq))["stored"] == 6


def assert_unchanged(now, before):
    stored, epochs, weights, counters = now
    assert (stored, epochs) == before[:2]
    for l, (a, b) in enumerate(zip(weights, before[2])):
        assert np.array_equal(a, b), f"layer {l + 1} weights changed"
    assert counters == before[3], "counters changed"


def test_store_too_small_is_refused_before_sending(board):
    link, info, _ = board
    data = datasets.load("synthetic", CFG.widths)
    sent = link.bytes_sent
    with pytest.raises(LayerPipeError, match=f"needs {len(data.x_train)} samples .* holds {CAPACITY}"):
        train_on_board(link, info, CFG, data, epochs=1)
    assert link.bytes_sent == sent


def test_digest_mismatch_is_one_line(board):
    _, info, manifest = board
    check_board(info, CFG, manifest["digest"])
    with pytest.raises(LayerPipeError, match="board: holds design .*, not 000000000000"):
        check_board(info, CFG, "000000000000")


def test_silent_board_and_missing_port():
    server, accepted = socket.create_server(("127.0.0.1", 0)), []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    with pytest.raises(LinkError, match="does not answer"):
        connect(f"socket://127.0.0.1:{server.getsockname()[1]}", CFG, "0" * 12, answer_s=0.3)
    server.close()
    with pytest.raises(LayerPipeError, match="^port: ./dev/does-not-exist. does not exist"):
        connect("/dev/does-not-exist", CFG, "0" * 12)


def test_cli_serve_and_run_json():
    """`layerpipe sim --board icebreaker --serve` and `layerpipe run --board icebreaker --json` as a user
    runs them: the board's default net (4-8-3) on its device target, its data set (iris), 2 epochs
    from the on-chip store, bit-exact."""
    import json
    import subprocess
    import sys
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = [sys.executable, "-m", "layerpipe.scripts.cli"]
    server = subprocess.Popen(cli + ["sim", "--serve", f"127.0.0.1:{port}", "--board", "icebreaker",
                                     "--store", str(CAPACITY), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while "serving" not in (line := server.stderr.readline()):
            assert line, f"the server stopped: {server.stderr.read()}"
        r = subprocess.run(cli + ["run", "--port", f"socket://127.0.0.1:{port}", "--board", "icebreaker",
                                  "--epochs", "2", "--json"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["first_mismatch"] is None, out["first_mismatch"]
        assert out["bit_exact"] and out["weights_bit_exact"] and out["on_chip"]
        assert [c["bit_exact"] for c in out["counters"]] == [True, True] and out["samples"] == 240
        assert (out["board"], out["net"], out["dataset"]) == ("icebreaker", "4-8-3", "iris")
        assert out["accuracy"] == out["golden_accuracy"]
        for key in ("accuracy", "cycles_per_sample", "link", "on_chip_samples_per_s"):
            assert out[key] is not None, key
        served = json.loads(server.communicate(timeout=60)[0])
        # the server saw the whole session: more bytes than the upload sent, more cycles than training took
        assert served["bytes_in"] + served["bytes_out"] > out["link"]["bytes"]
        assert served["cycles"] > out["on_chip_cycles"] > 0
    finally:
        server.kill()
