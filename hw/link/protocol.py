"""The host link's frames: one definition for the gateware and the host.

A frame, in both directions::

    SOF  type  seq  len_lo len_hi  payload[len]  crc_hi crc_lo

``SOF`` is 0xA5; ``seq`` is the host's sequence number, echoed in the reply;
``len`` counts the payload bytes; the CRC is CRC-16/IBM-3740 (CCITT-FALSE:
polynomial 0x1021, initial 0xFFFF, no reflection; :data:`CRC`, from
``amaranth.lib.crc``'s catalogue) over type, seq, len and payload, sent most
significant byte first, so the CRC of a whole frame after SOF leaves the
residue (what the gateware checks). Every request gets exactly one reply:
``type | ACK`` with the command's reply payload, or ``ERROR`` with the payload
``code, request type``. A request that is answered with ``ERROR`` changed
nothing. Numbers are little endian; signed values are two's complement in
whole bytes, sign-extended.

The host waits for each reply before it sends the next frame (stop and wait).
A frame whose bytes stop for :data:`TIMEOUT_BYTES` byte times is dropped and
answered with ``TIMEOUT``; the receiver then hunts for the next ``SOF``.
"""
from dataclasses import dataclass
from enum import IntEnum

from amaranth.lib.crc import catalog

SOF = 0xA5
ACK = 0x80
ERROR = 0x7F
VERSION = 1
CRC_ALGORITHM = catalog.CRC16_IBM_3740
CRC = CRC_ALGORITHM(data_width=8)      # the host's, a byte at a time (the gateware's runs a bit at a time)
HEADER_BYTES = 5        # SOF, type, seq, len (2)
TRAILER_BYTES = 2       # CRC
MAX_PAYLOAD = 0xFFFF
TIMEOUT_BYTES = 64      # a frame's bytes may pause this many byte times (10 bits each)
DIGEST_BYTES = 6        # the manifest's 12 hex digits


class Cmd(IntEnum):
    """Request types. The reply to ``c`` has type ``c | ACK``."""
    INFO = 0x01         # -> INFO_FIELDS: what the board holds (design digest, store capacity, formats)
    STATUS = 0x02       # -> STATUS_FIELDS
    WRITE = 0x03        # samples appended to the store -> WRITE_FIELDS (samples stored)
    CLEAR = 0x04        # empty the store -> nothing
    STREAM = 0x05       # samples trained straight away, in order, then drained -> their outputs a_L
    START = 0x06        # START_ARGS: run epochs over the store in the background -> nothing
    WEIGHTS = 0x07      # WEIGHTS_ARGS: one row of W_l and its bias -> n_{l-1} weights, then b_l[row]
    COUNTERS = 0x08     # COUNTERS_ARGS: one epoch's counters -> COUNTER_FIELDS


class Error(IntEnum):
    """Codes of an ``ERROR`` reply's first payload byte."""
    BAD_CRC = 1         # the CRC does not match (checked first: nothing else is trusted)
    UNKNOWN_TYPE = 2
    BAD_LENGTH = 3      # not the command's argument length, or not whole samples
    TIMEOUT = 4         # the frame stopped mid-way
    BUSY = 5            # training runs: only INFO, STATUS and COUNTERS are served
    FULL = 6            # the samples do not fit the store's free space
    BAD_ARG = 7         # an argument out of range (layer, row, epochs, seed state, empty store)
    DUPLICATE = 8       # a STREAM frame with the seq of the last one: it was trained already


# Field lists: (name, bytes). The gateware packs replies with them, the host unpacks.
START_ARGS = (("epochs", 2), ("lfsr_state", 3))
WEIGHTS_ARGS = (("layer", 1), ("row", 2))
COUNTERS_ARGS = (("epoch", 2),)
ARGS = {Cmd.INFO: (), Cmd.STATUS: (), Cmd.CLEAR: (), Cmd.START: START_ARGS, Cmd.WEIGHTS: WEIGHTS_ARGS,
        Cmd.COUNTERS: COUNTERS_ARGS}
INFO_FIELDS = (("version", 1), ("digest", DIGEST_BYTES), ("capacity", 4), ("epoch_slots", 2),
               ("inputs", 2), ("outputs", 2), ("layers", 1), ("value_bytes", 1), ("label_bytes", 1),
               ("weight_bytes", 1), ("lfsr_bits", 1), ("baud_divisor", 3))
# cycles: a free-running clock count (32 bits, wraps); run_cycles: from the last START until its drain ended
STATUS_FIELDS = (("running", 1), ("stored", 4), ("epochs_done", 4), ("beats", 4), ("trained", 4),
                 ("bad_frames", 2), ("last_error", 1), ("cycles", 4), ("run_cycles", 4))
WRITE_FIELDS = (("stored", 4),)
# abs_error: 32 bits, enough for 2^32 / (n_L * 2^act.width) samples an epoch (6,553 of digits)
COUNTER_FIELDS = (("epoch", 2), ("samples", 4), ("correct", 4), ("abs_error", 4))
ERROR_FIELDS = (("code", 1), ("type", 1))
REPLY_FIELDS = {Cmd.INFO: INFO_FIELDS, Cmd.STATUS: STATUS_FIELDS, Cmd.WRITE: WRITE_FIELDS, Cmd.CLEAR: (),
                Cmd.START: (), Cmd.COUNTERS: COUNTER_FIELDS}


def field_bytes(fields):
    return sum(n for _, n in fields)


def pack_fields(fields, values):
    """Bytes of ``values`` (a dict by name; ints, or bytes for ``digest``) laid out by ``fields``."""
    out = bytearray()
    for name, n in fields:
        v = values[name]
        out += bytes(v) if isinstance(v, (bytes, bytearray)) else int(v).to_bytes(n, "little")
    return bytes(out)


def unpack_fields(fields, payload):
    """Inverse of :func:`pack_fields` (every field an int, ``digest`` a hex string)."""
    values, at = {}, 0
    for name, n in fields:
        chunk = payload[at:at + n]
        values[name] = chunk.hex() if name == "digest" else int.from_bytes(chunk, "little")
        at += n
    return values


def crc16(data):
    return CRC.compute(data)


def encode_frame(type_, seq, payload=b""):
    """The bytes of one frame (either direction)."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes; at most {MAX_PAYLOAD}")
    body = bytes([type_, seq & 0xFF]) + len(payload).to_bytes(2, "little") + bytes(payload)
    return bytes([SOF]) + body + crc16(body).to_bytes(2, "big")


def frame_length(payload_bytes):
    return HEADER_BYTES + payload_bytes + TRAILER_BYTES


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


def decode_frame(data):
    """``(Frame, rest)`` from the start of ``data`` (bytes before SOF are skipped),
    or ``(None, data)`` while it is incomplete. Raises ValueError on a bad CRC."""
    start = data.find(bytes([SOF]))
    if start < 0:
        return None, b""
    data = data[start:]
    if len(data) < HEADER_BYTES:
        return None, data
    n = int.from_bytes(data[3:5], "little")
    if len(data) < frame_length(n):
        return None, data
    body, crc = data[1:HEADER_BYTES + n], data[HEADER_BYTES + n:frame_length(n)]
    if crc16(body) != int.from_bytes(crc, "big"):
        raise ValueError(f"reply with a bad CRC (type 0x{data[1]:02x}, {n} payload bytes)")
    return Frame(data[1], data[2], bytes(data[HEADER_BYTES:HEADER_BYTES + n])), data[frame_length(n):]


def whole_bytes(bits):
    return -(-bits // 8)


# The host's serial rate unless told otherwise (the boards' USB UARTs run 3 Mbaud).
DEFAULT_BAUD = 3_000_000
# A UART byte on the wire: start bit, 8 data bits, stop bit (8N1).
BITS_PER_BYTE = 10


@dataclass(frozen=True)
class SampleFormat:
    """How samples, results and weights of one design travel as bytes.

    A sample record is ``inputs`` values of ``value_bytes`` each, then the
    label in ``label_bytes``; a result is ``outputs`` values; a weight row is
    ``n_{l-1}`` weights and the bias in ``weight_bytes`` each.
    """
    inputs: int
    outputs: int
    value_bits: int
    label_bits: int
    weight_bits: int

    @classmethod
    def of(cls, cfg):
        classes = cfg.widths[-1]
        return cls(cfg.widths[0], classes, cfg.act.width, max(classes - 1, 1).bit_length(), cfg.weight.width)

    value_bytes = property(lambda self: whole_bytes(self.value_bits))
    label_bytes = property(lambda self: whole_bytes(self.label_bits))
    weight_bytes = property(lambda self: whole_bytes(self.weight_bits))
    sample_bytes = property(lambda self: self.inputs * self.value_bytes + self.label_bytes)
    result_bytes = property(lambda self: self.outputs * self.value_bytes)

    def baud_limit_samples_per_s(self, baud):
        """Sample records per second a UART of ``baud`` carries (8N1), frame overhead not counted."""
        return baud / BITS_PER_BYTE / self.sample_bytes

    def encode_samples(self, xs, labels):
        """Sample records of integer inputs ``xs`` (rows, in the act format) and ``labels``."""
        out = bytearray()
        for x, label in zip(xs, labels):
            for v in x:
                out += int(v).to_bytes(self.value_bytes, "little", signed=True)
            out += int(label).to_bytes(self.label_bytes, "little")
        return bytes(out)

    @staticmethod
    def decode_values(payload, nbytes):
        return [int.from_bytes(payload[i:i + nbytes], "little", signed=True)
                for i in range(0, len(payload), nbytes)]
