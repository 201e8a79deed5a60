"""The seeded initial parameters of a design, shared by the gateware (memory
initial contents) and the golden model (its starting point)."""
import numpy as np


def initial_parameters(cfg):
    """He-uniform weights from ``cfg.seed`` (halved), zero biases, as real
    numbers: per layer an (n_l, n_{l-1}) matrix and an n_l vector."""
    rng = np.random.default_rng(cfg.seed)
    weights, biases = [], []
    for n_in, n_out in zip(cfg.widths[:-1], cfg.widths[1:]):
        limit = np.sqrt(6.0 / n_in)
        weights.append(rng.uniform(-limit, limit, size=(n_out, n_in)) / 2)
        biases.append(np.zeros(n_out))
    return weights, biases


def quantized(cfg, weights, biases):
    """Real weights and biases in ``cfg.weight``'s integers (round half up, saturate)."""
    return [cfg.weight.quantize(w) for w in weights], [cfg.weight.quantize(b) for b in biases]


def initial_integer_parameters(cfg):
    """:func:`initial_parameters` as the integers the hardware starts from."""
    return quantized(cfg, *initial_parameters(cfg))
