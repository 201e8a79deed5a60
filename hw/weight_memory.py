from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2


class WeightMemory(wiring.Component):
    """The weights of one layer, one bank per lane, one copy.

    Lane ``j`` holds rows ``j, j + lanes, j + 2 lanes, ...``; word
    ``r * n_in + i`` of bank ``j`` is ``W[r * lanes + j, i]``. A beat sweeps
    the addresses once, in order: every address is read once (by forward,
    weight-gradient and act_grad_a together, the lockstep sweep of DESIGN.md 3)
    and written back once, a fixed number of cycles later, by the weight
    update. Because no address is read after it has been written in the same
    beat, the read port needs no transparency: reads in beat k see the values
    at the end of beat k-1, and the update of beat k is visible from beat k+1.
    This needs one copy of the weights where ping-pong banks would need two.

    Members
    -------
    read_addr : In(range(depth)); read_data : Out(ArrayLayout(signed(width), lanes))
        Synchronous read, 1 cycle latency, all banks at once.
    write_addr : In(range(depth)); write_data : In(ArrayLayout(...)); write_en : In(lanes)
        Per-lane write enables.
    """

    def __init__(self, n_in, n_out, lanes, width, init=None):
        self.n_in, self.n_out, self.lanes, self.width = n_in, n_out, lanes, width
        self.passes = -(-n_out // lanes)
        self.depth = self.passes * n_in
        self._init = init
        super().__init__({
            "read_addr": In(range(max(self.depth, 2))),
            "read_data": Out(data.ArrayLayout(signed(width), lanes)),
            "write_addr": In(range(max(self.depth, 2))),
            "write_data": In(data.ArrayLayout(signed(width), lanes)),
            "write_en": In(lanes),
        })

    def bank_init(self, j):
        """Initial contents of bank ``j`` from the (n_out, n_in) integer matrix."""
        words = []
        for r in range(self.passes):
            row = r * self.lanes + j
            for i in range(self.n_in):
                words.append(int(self._init[row][i]) if self._init is not None and row < self.n_out else 0)
        return words

    def elaborate(self, platform):
        m = Module()
        for j in range(self.lanes):
            bank = memory.Memory(shape=signed(self.width), depth=self.depth, init=self.bank_init(j))
            m.submodules[f"bank{j}"] = bank
            rd = bank.read_port()
            wr = bank.write_port()
            m.d.comb += [
                rd.addr.eq(self.read_addr),
                self.read_data[j].eq(rd.data),
                wr.addr.eq(self.write_addr),
                wr.data.eq(self.write_data[j]),
                wr.en.eq(self.write_en[j]),
            ]
        return m
