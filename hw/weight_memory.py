import numpy as np
from amaranth.hdl import Array, Module, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from .plan import passes_of, words_of


class WeightMemory(wiring.Component):
    """The weights of one layer in ``cols * lanes`` banks, one copy.

    Row lane ``j`` holds rows ``j, j + lanes, j + 2 lanes, ...``; with
    ``cols`` > 1 its row is spread over ``cols`` banks by column, so that one
    word address gives ``cols`` adjacent columns of ``lanes`` rows: bank
    ``c * lanes + j``, word ``r * H + t`` (H = ceil(n_in / cols)) is
    ``W[r * lanes + j, t * cols + c]`` (:meth:`location`).

    A beat sweeps the addresses in order and writes every word back once, a
    fixed number of cycles after its read, with the weight update. With
    ``cols`` = 1 forward, weight-gradient and act_grad_a share that one read
    (the lockstep sweep of DESIGN.md 3), so no address is read after its
    write-back in the same beat and the read port needs no transparency: reads
    in beat k see the values at the end of beat k-1. This needs one copy of the
    weights where ping-pong banks would need two.

    With ``fwd_cols`` < ``cols`` (a divisor of it) every bank gets a second
    read port, for a forward unit that sweeps ``fwd_cols`` columns per cycle
    on its own (``fwd_addr``, ``fwd_group``); the stage that uses it must
    order its sweeps so that forward reads each word before its write-back.

    Members
    -------
    read_addr : In(range(depth)); read_data : Out(ArrayLayout(signed(width), cols * lanes))
        Synchronous read, 1 cycle latency, all banks at once.
    write_addr : In(range(depth)); write_data : In(ArrayLayout(...)); write_en : In(cols * lanes)
        Per-bank write enables.
    fwd_addr : In(range(depth)); fwd_group : In(range(cols // fwd_cols))
    fwd_data : Out(ArrayLayout(..., fwd_cols * lanes))
        Only with ``fwd_cols`` < ``cols``: element ``c * lanes + j`` is word ``fwd_addr`` of bank
        ``(fwd_group * fwd_cols + c) * lanes + j``, 1 cycle latency.

    Raises ``ValueError`` if ``fwd_cols`` does not divide ``cols``.
    """

    def __init__(self, n_in, n_out, lanes, width, init=None, cols=1, fwd_cols=None):
        fwd_cols = fwd_cols or cols
        if cols % fwd_cols:
            raise ValueError(f"fwd_cols {fwd_cols} must divide cols {cols}")
        self.n_in, self.n_out, self.lanes, self.width, self.cols = n_in, n_out, lanes, width, cols
        self.fwd_cols = fwd_cols
        self.passes = passes_of(n_out, lanes)
        self.words_per_row = words_of(n_in, cols)
        self.depth = self.passes * self.words_per_row
        self.banks = cols * lanes
        self._init = init
        members = {
            "read_addr": In(range(max(self.depth, 2))),
            "read_data": Out(data.ArrayLayout(signed(width), self.banks)),
            "write_addr": In(range(max(self.depth, 2))),
            "write_data": In(data.ArrayLayout(signed(width), self.banks)),
            "write_en": In(self.banks),
        }
        if fwd_cols < cols:
            members.update({"fwd_addr": In(range(max(self.depth, 2))), "fwd_group": In(range(cols // fwd_cols)),
                            "fwd_data": Out(data.ArrayLayout(signed(width), fwd_cols * lanes))})
        super().__init__(members)

    @staticmethod
    def location(row, col, lanes, cols, n_in):
        """(word, bank) of W[row, col]; for integers or Amaranth values (constant divisors)."""
        return (row // lanes) * words_of(n_in, cols) + col // cols, (col % cols) * lanes + row % lanes

    def bank_init(self, bank):
        """Initial contents of ``bank`` from the (n_out, n_in) integer matrix."""
        if self._init is None:
            return [0] * self.depth
        if not hasattr(self, "_banked"):
            # all banks at once, with NumPy: a Python loop per weight and bank takes
            # seconds on a 784-128-10 net
            rows, cols = np.indices((self.n_out, self.n_in))
            word, b = self.location(rows, cols, self.lanes, self.cols, self.n_in)
            self._banked = np.zeros((self.banks, self.depth), dtype=np.int64)
            self._banked[b, word] = np.asarray(self._init, dtype=np.int64)
        return self._banked[bank].tolist()

    def elaborate(self, platform):
        m = Module()
        fwd_words = []
        for b in range(self.banks):
            # block RAM, not LUT RAM: on the ECP5 a LUT-RAM bank of 64 words is 4 x 4 TRELLIS_DPR16X4
            # sharing one address, and all banks' together load the sweep's address with ~900 cells
            bank = memory.Memory(shape=signed(self.width), depth=self.depth, init=self.bank_init(b),
                                 attrs={"ram_style": "block"})
            m.submodules[f"bank{b}"] = bank
            rd = bank.read_port()
            wr = bank.write_port()
            m.d.comb += [
                rd.addr.eq(self.read_addr),
                self.read_data[b].eq(rd.data),
                wr.addr.eq(self.write_addr),
                wr.data.eq(self.write_data[b]),
                wr.en.eq(self.write_en[b]),
            ]
            if self.fwd_cols < self.cols:
                fwd = bank.read_port()
                m.d.comb += fwd.addr.eq(self.fwd_addr)
                fwd_words.append(fwd.data)
        if self.fwd_cols < self.cols:
            group = Signal.like(self.fwd_group)
            m.d.sync += group.eq(self.fwd_group)
            F, P = self.fwd_cols, self.lanes
            for k in range(F * P):
                c, j = divmod(k, P)
                m.d.comb += self.fwd_data[k].eq(
                    Array(fwd_words[(g * F + c) * P + j] for g in range(self.cols // F))[group])
        return m
