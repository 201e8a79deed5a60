"""The data sets the package ships: scikit-learn's digits and iris (bundled
with scikit-learn, no download) and ``synthetic`` (a random teacher network).

Features are scaled into [0, 1] (digits: pixel / 16; iris: per-feature
min-max over the training split) so they sit well inside the activation
format. The train/test split is fixed: 20 % test, stratified,
``random_state=0``. The training order of an epoch is a permutation drawn
from the seed, so the golden model and the RTL bench see the same stream.
"""
from dataclasses import dataclass

import numpy as np

from layerpipe.hw.errors import LayerPipeError

DATASETS = ("digits", "iris", "synthetic")
TEST_FRACTION = 0.2
SPLIT_SEED = 0


@dataclass(frozen=True)
class DataSet:
    name: str
    x_train: np.ndarray   # float features in [0, 1], one row per sample
    y_train: np.ndarray   # class labels 0..classes-1
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def features(self):
        return self.x_train.shape[1]

    def epoch_order(self, epoch, seed):
        """The order of the training samples in ``epoch`` (a seeded permutation)."""
        return np.random.default_rng([seed, epoch]).permutation(len(self.x_train))


def load(name, widths, seed=0):
    """The data set ``name`` for a net of ``widths``; refuses a net whose input
    or output width does not fit it."""
    if name not in DATASETS:
        raise LayerPipeError(f"dataset: {name!r} is not one of {', '.join(DATASETS)}")
    if name == "synthetic":
        data = _synthetic(widths[0], widths[-1], seed)
    else:
        data = _sklearn(name)
    if widths[0] != data.features:
        raise LayerPipeError(
            f"net: input width {widths[0]} does not fit {name}, which has {data.features} features")
    if widths[-1] != data.classes:
        raise LayerPipeError(
            f"net: output width {widths[-1]} does not fit {name}, which has {data.classes} classes")
    return data


def _split(name, x, y, classes):
    from sklearn.model_selection import train_test_split
    stratify = y if np.min(np.bincount(y, minlength=classes)) >= 2 else None
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=stratify)
    return DataSet(name, x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64), classes)


def _sklearn(name):
    from sklearn import datasets
    if name == "digits":
        d = datasets.load_digits()
        return _split(name, d.data / 16.0, d.target, 10)
    d = datasets.load_iris()
    data = _split(name, d.data, d.target, 3)
    lo, hi = data.x_train.min(axis=0), data.x_train.max(axis=0)
    def scale(x):
        return np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return DataSet(name, scale(data.x_train), data.y_train, scale(data.x_test), data.y_test, 3)


def _synthetic(n_in, n_out, seed, samples=1000):
    """Uniform [0, 1) inputs labelled by a fixed random teacher (one hidden
    layer of 16 tanh units); any input and output width."""
    rng = np.random.default_rng([seed, 0x5EED])
    x = rng.random((samples, n_in))
    w1 = rng.normal(size=(16, n_in)) / np.sqrt(n_in)
    w2 = rng.normal(size=(n_out, 16))
    logits = np.tanh((x - 0.5) @ w1.T * 3) @ w2.T
    y = np.argmax(logits, axis=1) if n_out > 1 else np.zeros(samples, dtype=np.int64)
    return _split("synthetic", x, y, n_out)
