"""The simulated board: the link top (:class:`~layerpipe.hw.link.link_top.LinkTop`)
in Verilator behind a TCP socket, for ``layerpipe sim --serve`` and the tests.

The simulation builds the UART with a small baud divisor (:data:`SIM_DIVISOR`
clock cycles per bit) so that a test runs in seconds; the protocol, the
frame timeout (in byte times) and the on-chip training are those of a board.
"""
import threading
from pathlib import Path

from layerpipe.hw import generator
from layerpipe.hw.link.link_top import LinkTop, check_store, store_capacity

from . import verilator

SIM_DIVISOR = 8
SIM_CLOCK_HZ = 100e6          # the bench's clock period is 10 ns
BUILD_DIR = Path("build")


DEFAULT_STORE = 2048          # samples, where the target sets no memory limit


def default_store(plan):
    """What the target's block RAM leaves for the store, or :data:`DEFAULT_STORE`."""
    most = store_capacity(plan)
    return DEFAULT_STORE if most is None else most


def build(plan, divisor=SIM_DIVISOR, capacity=256):
    """Verilog of the link top of ``plan`` and its Verilator model; returns (Model, manifest)."""
    from amaranth.back import verilog
    check_store(plan, capacity)
    top = LinkTop(generator.build(plan), divisor, capacity)
    name = f"{plan.name}_link"
    out = BUILD_DIR / "generated" / f"{plan.digest}_link_d{divisor}_c{capacity}"
    out.mkdir(parents=True, exist_ok=True)
    vfile = out / f"{name}.v"
    text = verilog.convert(top, name=name, emit_src=False)
    if not (vfile.is_file() and vfile.read_text() == text):
        vfile.write_text(text)
    return verilator.build(vfile, name, BUILD_DIR / "verilator"), plan.manifest()


def serve(model, host, port, divisor, on_listen=None, stall_s=0.5):
    """Run the model behind ``host:port`` until the client disconnects
    (blocking). ``on_listen(port)`` hears the port once it listens."""
    return verilator.test(model, "layerpipe.sim.link_bench",
                          params={"host": host, "port": port, "divisor": divisor, "stall_s": stall_s},
                          progress=on_listen)


class ServedBoard:
    """A simulated board served on a free local port while the ``with`` block runs;
    ``url`` is its pyserial URL. On exit the client must have disconnected."""

    def __init__(self, model, divisor=SIM_DIVISOR, stall_s=0.5):
        self.model, self.divisor, self.stall_s = model, divisor, stall_s
        self.result, self.error = None, None

    def __enter__(self):
        ready = threading.Event()
        self.port = None

        def listening(port):
            self.port = port
            ready.set()

        def run():
            try:
                self.result = serve(self.model, "127.0.0.1", 0, self.divisor, listening, self.stall_s)
            except Exception as e:       # reported by __exit__
                self.error = e
            ready.set()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(120)
        if self.port is None:
            raise RuntimeError(f"the simulated board did not start: {self.error}")
        self.url = f"socket://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc):
        self.thread.join(60)
        if self.error is not None and exc[0] is None:
            raise self.error
