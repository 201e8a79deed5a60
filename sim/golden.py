"""Golden model: the beat schedule of DESIGN.md 3, beat by beat, in integers
(bit-exact with the RTL) and in floating point (what quantisation costs).

The per-task functions carry the names of the gateware units they model
(``forward``, ``output_error``, ``act_grad_b``, ``act_grad_a``,
``weight_grad``, :class:`DelayFifo`), so each unit's test compares it with its
twin here. :class:`Pipeline` is the only place the schedule is written; the
integer and the float model differ only in the :class:`IntegerArithmetic` or
:class:`FloatArithmetic` object it is given.
"""
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from layerpipe.hw.fixed_point import narrow, round_shift, saturate
from layerpipe.hw.initial_parameters import initial_parameters, quantized


# the quantities whose saturation IntegerArithmetic counts
SATURATING = ("act", "grad", "weight")


class IntegerArithmetic:
    """The hardware's arithmetic: int64 NumPy, narrowing as in fixed_point.py.

    Formats: inputs, activations, targets in ``cfg.act``; weights and biases in
    ``cfg.weight``; g and delta in ``cfg.grad``. Every dot product is exact
    before it is narrowed, so the order of summation does not matter.

    ``saturated`` counts the values clipped to their format while training,
    per quantity (:data:`SATURATING`: ``act`` the forward's z, ``grad`` the
    output error and act_grad_a's g, ``weight`` the updated weights and
    biases); :meth:`uncounted` leaves evaluation out of the counts.
    """
    exact = True

    def __init__(self, cfg):
        self.cfg = cfg
        self.saturated = dict.fromkeys(SATURATING, 0)
        self._counting = True

    def _tally(self, quantity):
        if not self._counting:
            return None

        def add(n):
            self.saturated[quantity] += n
        return add

    @contextmanager
    def uncounted(self):
        """Within the block, clipped values are not counted (inference on a test split)."""
        saved, self._counting = self._counting, False
        try:
            yield
        finally:
            self._counting = saved

    def input(self, x):
        """Real-valued features (already scaled to the data set's range) to activations."""
        return self.cfg.act.quantize(x)

    def target(self, label):
        y = np.zeros(self.cfg.widths[-1], dtype=np.int64)
        y[label] = self.cfg.act.one
        return y

    def parameters(self, weights, biases):
        return quantized(self.cfg, weights, biases)

    def forward(self, w, b, a, hidden):
        """z = W a + b narrowed to act; returns (a_out, f'(z)) with f' a 0/1 vector."""
        c = self.cfg
        acc = a @ w.T + (b << c.act.frac)   # a: one sample, or a batch of rows
        z = narrow(acc, c.weight.frac, c.act, self._tally("act"))
        if hidden:      # ReLU
            fprime = (z > 0).astype(np.int64)
            return z * fprime, fprime
        return z, np.ones_like(z)

    def output_error(self, a_out, y):
        """delta_L = a_L - y (MSE on one-hot targets), in the gradient format."""
        c = self.cfg
        return narrow(a_out - y, c.act.frac - c.grad.frac, c.grad, self._tally("grad"))

    def act_grad_b(self, g, fprime):
        """delta = g * f'(z): with ReLU a select, no multiplication."""
        return g * fprime

    def act_grad_a(self, w, delta):
        """g = W^T delta narrowed to grad."""
        return narrow(w.T @ delta, self.cfg.weight.frac, self.cfg.grad, self._tally("grad"))

    def weight_grad(self, w, b, delta, a):
        """W - lr delta a^T and b - lr delta, rounded to weight.frac and saturated."""
        c = self.cfg
        w_new = saturate(w - round_shift(np.outer(delta, a), c.update_shift), c.weight, self._tally("weight"))
        b_new = saturate(b - round_shift(delta, c.bias_shift), c.weight, self._tally("weight"))
        return w_new, b_new

    def output_value(self, a_out):
        return self.cfg.act.to_float(a_out)


class FloatArithmetic:
    """The same network and schedule in float64: no rounding, no saturation."""
    exact = False
    saturated = None

    @contextmanager
    def uncounted(self):
        yield

    def __init__(self, cfg):
        self.cfg = cfg
        self.lr = 2.0 ** -cfg.lr_shift

    def input(self, x):
        return np.asarray(x, dtype=np.float64)

    def target(self, label):
        y = np.zeros(self.cfg.widths[-1])
        y[label] = 1.0
        return y

    def parameters(self, weights, biases):
        return [np.array(w, dtype=np.float64) for w in weights], [np.array(b, dtype=np.float64) for b in biases]

    def forward(self, w, b, a, hidden):
        z = a @ w.T + b
        if hidden:
            fprime = (z > 0).astype(np.float64)
            return z * fprime, fprime
        return z, np.ones_like(z)

    def output_error(self, a_out, y):
        return a_out - y

    def act_grad_b(self, g, fprime):
        return g * fprime

    def act_grad_a(self, w, delta):
        return w.T @ delta

    def weight_grad(self, w, b, delta, a):
        return w - self.lr * np.outer(delta, a), b - self.lr * delta

    def output_value(self, a_out):
        return np.asarray(a_out, dtype=np.float64)


class DelayFifo:
    """Holds what a stage's backward will need (a_{l-1}, f'(z_l) and the
    sample's id) for exactly ``depth`` beats: pushed by the forward of beat k,
    popped by the backward of beat k + depth."""

    def __init__(self, depth):
        self.depth = depth
        self._entries = deque()

    def push(self, beat, entry):
        self._entries.append((beat, entry))

    def pop(self, beat):
        pushed, entry = self._entries.popleft()
        assert beat - pushed == self.depth, f"delay FIFO held an entry {beat - pushed} beats, not {self.depth}"
        return entry

    def __len__(self):
        return len(self._entries)


@dataclass
class Sample:
    index: int          # position in the input stream, from 0
    x: np.ndarray       # inputs, in the arithmetic's representation
    label: int


@dataclass
class StageWork:
    """What one stage did in one beat: the sample ids of its forward and backward."""
    forward: int = None
    backward: int = None


@dataclass
class BeatReport:
    beat: int
    stages: list                                  # StageWork per layer 1..L
    results: list = field(default_factory=list)   # (sample index, a_L, label) finished forward this beat
    losses: list = field(default_factory=list)    # (sample index, loss) whose output error was formed


class Pipeline:
    """The training pipeline, advanced one beat at a time.

    ``beat(sample)`` runs one beat of DESIGN.md 3 (pass ``None`` once the
    input stream has ended, to drain). In ``sequential`` mode a beat is one
    whole sample, forward and back, before the next starts. Reads of the
    weights in beat k see the values at the end of beat k-1; the updates of
    beat k are applied when the beat ends.
    """

    def __init__(self, cfg, arith=None, parameters=None):
        self.cfg = cfg
        self.arith = arith if arith is not None else IntegerArithmetic(cfg)
        weights, biases = parameters if parameters is not None else initial_parameters(cfg)
        self.weights, self.biases = self.arith.parameters(weights, biases)
        L = cfg.n_layers
        self.delay_fifos = [DelayFifo(d) for d in cfg.delays]
        self.k = 0                       # beats run so far
        self._act = [None] * (L + 1)     # _act[l]: (sample, a_l) made by stage l last beat
        self._grad = [None] * (L + 2)    # _grad[l]: (sample, g_l) for stage l, made last beat
        self.pushed = 0
        self.trained = []                # sample indices in the order their updates landed

    @property
    def in_flight(self):
        return any(v is not None for v in self._act) or any(v is not None for v in self._grad) \
            or any(len(f) for f in self.delay_fifos)

    def beat(self, sample=None):
        if self.cfg.mode == "sequential":
            return self._sequential_beat(sample)
        ar, L = self.arith, self.cfg.n_layers
        k = self.k
        report = BeatReport(k, [StageWork() for _ in range(L)])
        new_w, new_b = list(self.weights), list(self.biases)
        act, grad = [None] * (L + 1), [None] * (L + 2)
        if sample is not None:
            assert sample.index == self.pushed, "samples must enter in order"
            self.pushed += 1
        for l in range(1, L + 1):
            i = l - 1
            w, b = self.weights[i], self.biases[i]
            # forward: sample k-(l-1)
            inp = (sample, sample.x) if l == 1 and sample is not None else (self._act[l - 1] if l > 1 else None)
            if inp is not None:
                s, a_in = inp
                a_out, fprime = ar.forward(w, b, a_in, hidden=l < L)
                self.delay_fifos[i].push(k, (s, a_in, fprime))
                act[l] = (s, a_out)
                report.stages[i].forward = s.index
                if l == L:
                    report.results.append((s.index, a_out, s.label))
            # backward: sample k-(2L-l); g_l arrived from stage l+1 (or the output error) last beat
            if self._grad[l] is not None:
                s, g = self._grad[l]
                s_fifo, a_in, fprime = self.delay_fifos[i].pop(k)
                assert s_fifo is s, "delay FIFO out of step with the gradient stream"
                delta = ar.act_grad_b(g, fprime)
                if l > 1:
                    grad[l - 1] = (s, ar.act_grad_a(w, delta))
                new_w[i], new_b[i] = ar.weight_grad(w, b, delta, a_in)
                report.stages[i].backward = s.index
                if l == 1:
                    self.trained.append(s.index)
        # the output error of the sample stage L ran forward becomes delta_L next beat
        if act[L] is not None:
            s, a_out = act[L]
            e = ar.output_error(a_out, ar.target(s.label))
            grad[L] = (s, e)
            report.losses.append((s.index, mse(ar, a_out, s.label)))
        self.weights, self.biases = new_w, new_b
        self._act, self._grad = act, grad
        self.k += 1
        return report

    def _sequential_beat(self, sample):
        ar, L = self.arith, self.cfg.n_layers
        report = BeatReport(self.k, [StageWork() for _ in range(L)])
        self.k += 1
        if sample is None:
            return report
        assert sample.index == self.pushed, "samples must enter in order"
        self.pushed += 1
        a, saved = sample.x, []
        for l in range(1, L + 1):
            a_out, fprime = ar.forward(self.weights[l - 1], self.biases[l - 1], a, hidden=l < L)
            saved.append((a, fprime))
            report.stages[l - 1].forward = sample.index
            a = a_out
        report.results.append((sample.index, a, sample.label))
        report.losses.append((sample.index, mse(ar, a, sample.label)))
        g = ar.output_error(a, ar.target(sample.label))
        for l in range(L, 0, -1):
            a_in, fprime = saved[l - 1]
            w, b = self.weights[l - 1], self.biases[l - 1]
            delta = ar.act_grad_b(g, fprime)
            if l > 1:
                g = ar.act_grad_a(w, delta)
            self.weights[l - 1], self.biases[l - 1] = ar.weight_grad(w, b, delta, a_in)
            report.stages[l - 1].backward = sample.index
        self.trained.append(sample.index)
        return report

    def run(self, samples):
        """Push ``samples`` one per beat, then drain; yields every BeatReport."""
        for s in samples:
            yield self.beat(s)
        while self.in_flight:
            yield self.beat(None)

    def predict(self, xs):
        """Outputs for a batch (rows of xs, in the arithmetic's representation),
        forward only, with the current weights."""
        a = xs
        with self.arith.uncounted():
            for l in range(1, self.cfg.n_layers + 1):
                a, _ = self.arith.forward(self.weights[l - 1], self.biases[l - 1], a, hidden=l < self.cfg.n_layers)
        return a


def mse(arith, a_out, label):
    """Mean squared error of outputs ``a_out`` (one sample, or rows of a batch)
    against one-hot targets ``label`` (an int, or one per row), in real units."""
    out = arith.output_value(a_out)
    y = np.eye(out.shape[-1])[label]
    return float(np.mean((out - y) ** 2))
