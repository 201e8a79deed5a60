from amaranth.hdl import Array, Module, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out


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

    With ``fwd_lanes`` (a divisor of ``lanes``) every bank gets a second read
    port for a forward unit with fewer lanes that sweeps on its own: its pass
    r reads rows ``r * fwd_lanes + j``, which lie in group ``r % k`` of
    ``fwd_lanes`` banks at word block ``r // k`` (k = lanes / fwd_lanes). The
    stage that uses it must itself order its sweeps so that no word is read
    after its write-back in the same beat.

    Members
    -------
    read_addr : In(range(depth)); read_data : Out(ArrayLayout(signed(width), lanes))
        Synchronous read, 1 cycle latency, all banks at once.
    write_addr : In(range(depth)); write_data : In(ArrayLayout(...)); write_en : In(lanes)
        Per-lane write enables.
    fwd_addr : In(range(depth)); fwd_group : In(range(k)); fwd_data : Out(ArrayLayout(..., fwd_lanes))
        Only with ``fwd_lanes``: word ``fwd_addr`` of banks ``fwd_group * fwd_lanes + j``, 1 cycle latency.
    """

    def __init__(self, n_in, n_out, lanes, width, init=None, fwd_lanes=None):
        self.n_in, self.n_out, self.lanes, self.width = n_in, n_out, lanes, width
        self.passes = -(-n_out // lanes)
        self.depth = self.passes * n_in
        self._init = init
        self.fwd_lanes = fwd_lanes
        members = {
            "read_addr": In(range(max(self.depth, 2))),
            "read_data": Out(data.ArrayLayout(signed(width), lanes)),
            "write_addr": In(range(max(self.depth, 2))),
            "write_data": In(data.ArrayLayout(signed(width), lanes)),
            "write_en": In(lanes),
        }
        if fwd_lanes is not None:
            if lanes % fwd_lanes:
                raise ValueError(f"fwd_lanes {fwd_lanes} must divide lanes {lanes}")
            self.groups = lanes // fwd_lanes
            members.update({"fwd_addr": In(range(max(self.depth, 2))), "fwd_group": In(range(max(self.groups, 2))),
                            "fwd_data": Out(data.ArrayLayout(signed(width), fwd_lanes))})
        super().__init__(members)

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
        fwd_words = []
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
            if self.fwd_lanes is not None:
                fwd = bank.read_port()
                m.d.comb += fwd.addr.eq(self.fwd_addr)
                fwd_words.append(fwd.data)
        if self.fwd_lanes is not None:
            group = Signal.like(self.fwd_group)
            m.d.sync += group.eq(self.fwd_group)
            for j in range(self.fwd_lanes):
                m.d.comb += self.fwd_data[j].eq(
                    Array(fwd_words[g * self.fwd_lanes + j] for g in range(self.groups))[group])
        return m
