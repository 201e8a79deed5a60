"""What a long command is doing, told on stderr (stdout stays for results and
``--json``): one line as each step starts, and, while a step runs longer than
``every`` seconds, a line every ``every`` seconds saying it still runs."""
import sys
import threading
import time
from contextlib import contextmanager


class Steps:
    """Announces the steps of one command, e.g. ``Steps("784-512-512-10")``.

    ``with steps.step("writing Verilog"):`` prints ``784-512-512-10: writing
    Verilog ...`` on entry and ``... still writing Verilog (30 s)`` every
    ``every`` seconds while the block runs; a step that took longer than
    ``every`` ends with its time. ``enabled=False`` prints nothing.
    """

    def __init__(self, name, *, enabled=True, every=15.0, stream=None):
        self.name, self.enabled, self.every = name, enabled, every
        self.stream = stream if stream is not None else sys.stderr

    def say(self, text):
        if self.enabled:
            print(f"{self.name}: {text}", file=self.stream, flush=True)

    @contextmanager
    def step(self, what):
        if not self.enabled:
            yield
            return
        self.say(f"{what} ...")
        start = time.monotonic()
        with periodically(self.every, lambda: self.say(f"... still {what} ({time.monotonic() - start:.0f} s)")):
            yield
        seconds = time.monotonic() - start
        if seconds >= self.every:
            self.say(f"{what}: done in {seconds:.0f} s")


@contextmanager
def periodically(seconds, action):
    """While the block runs, call ``action()`` every ``seconds`` from a daemon thread
    (the first call ``seconds`` after entry; none after the block ends)."""
    stop = threading.Event()

    def loop():
        while not stop.wait(seconds):
            action()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
