"""A block RAM whose read/write collisions are left undefined, so that yosys
maps it onto the device's block RAM without emulating either behaviour."""
from amaranth.hdl import Signal
from amaranth.lib.memory import Memory


def block_ram(m, name, shape, depth, granularity=None):
    """Add a ``shape`` x ``depth`` memory called ``name`` to module ``m``;
    returns ``(write_port, read_port, read_data)``.

    ``read_data`` shows the word at ``read_port.addr`` one cycle later, as a
    synchronous read port does. The read is built as an asynchronous port and
    a register (no reset) so that yosys's ``memory_dff`` merges the two and
    honours the ``no_rw_check`` attribute: a read of the word written in the
    same cycle is undefined. Neither iCE40 nor ECP5 block RAM defines it, and a
    synchronous Amaranth read port (read-first or transparent) makes yosys
    emulate it with a register and a multiplexer per data bit and a copy of
    the write address, enable and data (about 2 x width flip-flops; 109 for
    the epoch counters' 52-bit memory). The caller must not read a word in the
    cycle it is written (the link never does: a word is written before the
    command that reads it is decided).
    """
    mem = Memory(shape=shape, depth=depth, init=[], attrs={"no_rw_check": 1})
    m.submodules[name] = mem
    write = mem.write_port(granularity=granularity) if granularity else mem.write_port()
    read = mem.read_port(domain="comb")
    data = Signal(shape, reset_less=True, name=f"{name}_data")
    m.d.sync += data.eq(read.data)
    return write, read, data
