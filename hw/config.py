"""The one configuration object of a design.

A :class:`NetConfig` names a design completely: the generator, the golden
model, the simulation and the reports all take it (or the manifest written
from it) and nothing is configured twice. It is validated once, here, at the
edge; every error is a :class:`LayerPipeError` whose one-line message names
the field, the bad value and what is allowed.
"""
import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace

from .errors import LayerPipeError, check_fields
from .fixed_point import Format, acc_width

MAX_WIDTH = 4096
MAX_LAYERS = 16
MODES = ("layerpipe", "pipedream", "sequential")
ACTIVATIONS = ("relu",)
# Output layer and loss. The output is linear and the loss is the mean squared
# error against one-hot targets, so the output error is a plain subtraction,
# delta_L = a_L - y: no exponential, no division and no lookup table in
# hardware, and its gradient never saturates the way softmax/sigmoid outputs do
# in narrow integers. On digits it trains as well as cross-entropy does here.
LOSSES = ("mse",)


def parse_widths(text, field="net"):
    """Parse '64-32-10' into (64, 32, 10): at least two widths, each 1..MAX_WIDTH."""
    if not isinstance(text, str) or not re.fullmatch(r"\s*-?\d+(\s*-\s*-?\d+)+\s*", text or ""):
        raise LayerPipeError(
            f"{field}: {text!r} is not a list of layer widths like 64-32-10 "
            f"(at least two positive integers joined by '-')")
    parts = [p.strip() for p in text.strip().split("-")]
    if any(p == "" for p in parts):
        raise LayerPipeError(f"{field}: {text!r} has an empty or negative width; widths must be 1..{MAX_WIDTH}")
    widths = tuple(int(p) for p in parts)
    if len(widths) - 1 > MAX_LAYERS:
        raise LayerPipeError(f"{field}: {len(widths) - 1} layers; at most {MAX_LAYERS} are supported")
    for i, w in enumerate(widths):
        if not 1 <= w <= MAX_WIDTH:
            raise LayerPipeError(f"{field}: width {w} at position {i} is out of range 1..{MAX_WIDTH}")
    return widths


def parse_lanes(text, field="lanes"):
    """Parse '32,5' into (32, 5): MAC lanes (or columns, ``field="cols"``) per layer
    (NetConfig checks them against the widths)."""
    if not isinstance(text, str) or not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text):
        raise LayerPipeError(f"{field}: {text!r} is not a list of {field} counts per layer like 32,5")
    return tuple(int(p) for p in text.split(","))


def pipeline_delays(n_layers):
    """Per-layer gradient delay in samples, 2(L-l)+1 for l = 1..L (DESIGN.md 3)."""
    return tuple(2 * (n_layers - l) + 1 for l in range(1, n_layers + 1))


@dataclass(frozen=True)
class NetConfig:
    """A fully connected network and how it is trained.

    widths      n_0 (inputs), n_1, ..., n_L (outputs)
    activation  hidden activation; the output layer is linear (see LOSSES)
    act, weight, grad
                formats of activations (and inputs, targets), of weights and
                biases, of gradients (g and delta)
    lr_shift    learning rate 2**-lr_shift
    mode        schedule: layerpipe, pipedream (same numbers, different
                timing) or sequential (plain SGD, no delay)
    seed        initial weights (and, with the data set, sample order)
    lanes       per layer, rows a task unit (F, W and B(a) each) takes at once;
                None lets the generator choose
    cols        per layer, adjacent columns a task unit takes per cycle (a unit
                is lanes x cols multipliers); None lets the generator choose
    """
    widths: tuple
    activation: str = "relu"
    loss: str = "mse"
    act: Format = Format(16, 10)
    weight: Format = Format(16, 12)
    grad: Format = Format(16, 12)
    lr_shift: int = 5
    mode: str = "layerpipe"
    seed: int = 0
    lanes: tuple = None
    cols: tuple = None

    def __post_init__(self):
        if not isinstance(self.widths, tuple) or len(self.widths) < 2:
            raise LayerPipeError(f"net: {self.widths!r} needs at least two widths (inputs and outputs)")
        if len(self.widths) - 1 > MAX_LAYERS:
            raise LayerPipeError(f"net: {len(self.widths) - 1} layers; at most {MAX_LAYERS} are supported")
        for i, w in enumerate(self.widths):
            if not isinstance(w, int) or not 1 <= w <= MAX_WIDTH:
                raise LayerPipeError(f"net: width {w!r} at position {i} is out of range 1..{MAX_WIDTH}")
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("loss", self.loss, LOSSES)
        _choice("mode", self.mode, MODES)
        for name in ("act", "weight", "grad"):
            getattr(self, name).validate(name)
        if self.act.frac > self.act.width - 2:
            raise LayerPipeError(
                f"act: {self.act.frac} fractional bits leave no room for the target 1.0 in "
                f"{self.act.width} bits; at most {self.act.width - 2}")
        if not isinstance(self.lr_shift, int) or not 0 <= self.lr_shift <= 30:
            raise LayerPipeError(f"lr_shift: {self.lr_shift!r} is out of range 0..30")
        if self.update_shift < 0:
            raise LayerPipeError(
                f"lr_shift: {self.lr_shift} makes the weight update shift negative "
                f"(grad.frac + act.frac + lr_shift - weight.frac = {self.update_shift}); "
                f"at least {self.lr_shift - self.update_shift}")
        for l in range(1, self.n_layers + 1):
            bits = max(self.forward_acc_width(l), self.act_grad_acc_width(l), self.act.width + self.grad.width)
            if bits > 62:
                raise LayerPipeError(
                    f"act/weight/grad: layer {l} needs {bits}-bit accumulators; the golden model's int64 "
                    f"allows at most 62: use narrower formats")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise LayerPipeError(f"seed: {self.seed!r} is out of range 0..2**32-1")
        for name, bound, what in (("lanes", self.widths[1:], "its width"),
                                  ("cols", self.widths[:-1], "its inputs")):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, tuple) or len(value) != self.n_layers:
                raise LayerPipeError(f"{name}: {value!r} must give one count per layer ({self.n_layers})")
            for l, (v, n) in enumerate(zip(value, bound), 1):
                if not isinstance(v, int) or not 1 <= v <= n:
                    raise LayerPipeError(f"{name}: {v!r} for layer {l} is out of range 1..{n} ({what})")

    # -- derived quantities (never stored twice) --------------------------------
    @property
    def n_layers(self):
        return len(self.widths) - 1

    @property
    def delays(self):
        return pipeline_delays(self.n_layers) if self.mode != "sequential" else (0,) * self.n_layers

    @property
    def update_shift(self):
        """Right shift that turns delta*a (grad.frac + act.frac) into lr*delta*a in weight.frac."""
        return self.grad.frac + self.act.frac + self.lr_shift - self.weight.frac

    @property
    def bias_shift(self):
        """Right shift that turns delta (grad.frac) into lr*delta in weight.frac (may be negative)."""
        return self.grad.frac + self.lr_shift - self.weight.frac

    def forward_acc_width(self, layer):
        return acc_width(self.act, self.weight, self.widths[layer - 1] + 1)

    def act_grad_acc_width(self, layer):
        return acc_width(self.grad, self.weight, self.widths[layer])

    def to_dict(self):
        d = asdict(self)
        d["widths"] = list(self.widths)
        d["lanes"] = list(self.lanes) if self.lanes is not None else None
        d["cols"] = list(self.cols) if self.cols is not None else None
        return d

    @classmethod
    def from_dict(cls, d):
        """The config :meth:`to_dict` gave (as read back from JSON). Raises
        LayerPipeError naming the field that is missing, unknown or malformed;
        the values are then validated as any config's."""
        check_fields("config", d, cls.__dataclass_fields__, cls.__dataclass_fields__)
        values = dict(d)
        for key in ("widths", "lanes", "cols"):
            if values[key] is not None:
                if not isinstance(values[key], list):
                    raise LayerPipeError(f"config.{key}: {values[key]!r} is not a list")
                values[key] = tuple(values[key])
        for key in ("act", "weight", "grad"):
            f = values[key]
            if not isinstance(f, dict) or set(f) != {"width", "frac"}:
                raise LayerPipeError(f"config.{key}: {f!r} is not a format {{\"width\": W, \"frac\": F}}")
            values[key] = Format(f["width"], f["frac"])
        return cls(**values)

    @property
    def numbers(self):
        """The number formats as reported by the CLI and the manifest."""
        return {"act": str(self.act), "weight": str(self.weight), "grad": str(self.grad),
                "act_bits": [self.act.width, self.act.frac],
                "weight_bits": [self.weight.width, self.weight.frac],
                "grad_bits": [self.grad.width, self.grad.frac],
                "lr": f"2^-{self.lr_shift}", "rounding": "half up, then saturate"}

    def digest(self):
        """Short hash naming this exact design (build directories are cached by it)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    def replace(self, **changes):
        return replace(self, **changes)


def _choice(field, value, allowed):
    if value not in allowed:
        raise LayerPipeError(f"{field}: {value!r} is not one of {', '.join(allowed)}")
