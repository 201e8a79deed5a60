"""The data sets: scikit-learn's digits, iris, wine and breast_cancer (bundled
with scikit-learn, no download), ``synthetic`` (a random teacher network), and
the user's own as a ``.csv`` or ``.npz`` file.

Scaling into the activation format (features in [0, 1], well inside Q6.10):

- digits: pixel / 16 (the pixels are 0..16);
- every other set, files included: per feature min-max over the training
  split, ``(x - min) / (max - min)``, clipped to [0, 1] (so test values
  outside the training range saturate); a feature that is constant on the
  training split becomes 0.

The train/test split is fixed: 20 % test, stratified by label,
``random_state=0`` (an ``.npz`` with ``x_test`` and ``y_test`` brings its
own). The training order of an epoch is a permutation drawn from the seed, so
the golden model and the RTL benches see the same stream.

Files (:func:`read_file`): a CSV holds one sample per line, the features
then an integer label (0..n_L - 1), comma separated, with an optional header
line (one in which no field is a number); an ``.npz`` holds ``x`` (samples,
features) and ``y`` (samples,), optionally ``x_test`` and ``y_test``. Any
fault (missing or empty file, ragged row, text or NaN in a numeric column,
label out of range, too few rows, width not that of ``--net``) is refused
with one :class:`LayerPipeError` line naming the file and the place.
"""
import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layerpipe.hw.errors import LayerPipeError

DATASETS = ("digits", "iris", "wine", "breast_cancer", "synthetic")
FILE_SUFFIXES = (".csv", ".npz")
TEST_FRACTION = 0.2
SPLIT_SEED = 0
MIN_ROWS = 5          # a split of 20 % needs a test row and a few training rows
HELP = f"{', '.join(DATASETS)}, or a .csv or .npz file (default digits)"   # --dataset of train and sim


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


def is_file(name):
    """Does ``--dataset name`` name a file rather than a built-in set?"""
    return name not in DATASETS and Path(name).suffix.lower() in FILE_SUFFIXES


def load(name, widths, seed=0):
    """The data set ``name`` (built-in, or a file path) for a net of ``widths``;
    refuses a net whose input or output width does not fit it."""
    if is_file(name):
        data = read_file(name, widths[-1])
    elif name not in DATASETS:
        raise LayerPipeError(f"dataset: {name!r} is not one of {', '.join(DATASETS)}, "
                             f"nor a file ending in {' or '.join(FILE_SUFFIXES)}")
    elif name == "synthetic":
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
    # stratified where every class can be on both sides (as in scikit-learn's own check)
    present = np.count_nonzero(np.bincount(y, minlength=classes))
    n_test = int(np.ceil(TEST_FRACTION * len(y)))
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 and present <= min(n_test, len(y) - n_test) else None
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=stratify)
    return DataSet(name, x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64), classes)


def min_max(data):
    """``data`` with every feature min-max scaled over the training split, clipped to [0, 1]."""
    lo, hi = data.x_train.min(axis=0), data.x_train.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)

    def scale(x):
        return np.clip((x - lo) / span, 0.0, 1.0)
    return DataSet(data.name, scale(data.x_train), data.y_train, scale(data.x_test), data.y_test, data.classes)


def _sklearn(name):
    from sklearn import datasets
    d = getattr(datasets, f"load_{name}")()
    classes = int(d.target.max()) + 1
    if name == "digits":
        return _split(name, d.data / 16.0, d.target, classes)
    return min_max(_split(name, d.data.astype(np.float64), d.target, classes))


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


# -- the user's files -------------------------------------------------------------

def read_file(path, classes):
    """A :class:`DataSet` from a ``.csv`` or ``.npz`` at ``path`` whose labels are
    0..``classes``-1 (the net's output width), split and min-max scaled as the
    built-in sets. Raises :class:`LayerPipeError` (one line) on any fault."""
    p = Path(path)
    if not p.is_file():
        raise LayerPipeError(f"dataset: {path}: no such file")
    if p.suffix.lower() == ".csv":
        x, y = _read_csv(p, classes)
        x_test = y_test = None
    else:
        x, y, x_test, y_test = _read_npz(p, classes)
    if x_test is None:
        if len(x) < MIN_ROWS:
            raise LayerPipeError(f"dataset: {path}: {len(x)} rows; at least {MIN_ROWS} are needed "
                                 f"for a {TEST_FRACTION:.0%} test split")
        return min_max(_split(str(path), x, y, classes))
    return min_max(DataSet(str(path), x, y, x_test, y_test, classes))


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def _read_csv(path, classes):
    with open(path, newline="") as f:
        rows = [(k, row) for k, row in enumerate(csv.reader(f), 1) if any(field.strip() for field in row)]
    if rows and all(_number(field) is None for field in rows[0][1]):
        rows = rows[1:]           # a header
    if not rows:
        raise LayerPipeError(f"dataset: {path}: no data rows")
    width = len(rows[0][1])
    if width < 2:
        raise LayerPipeError(f"dataset: {path}: line {rows[0][0]} has {width} column; "
                             "a row is the features, then the label")
    values = np.empty((len(rows), width))
    for i, (line, row) in enumerate(rows):
        if len(row) != width:
            raise LayerPipeError(f"dataset: {path}: line {line} has {len(row)} columns, "
                                 f"the first row has {width}")
        for col, field in enumerate(row, 1):
            v = _number(field)
            if v is None:
                raise LayerPipeError(f"dataset: {path}: line {line} column {col}: "
                                     f"{field.strip()!r} is not a number")
            values[i, col - 1] = v
    return _checked(path, values[:, :-1], values[:, -1], classes, [line for line, _ in rows], "line")


def _read_npz(path, classes):
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise LayerPipeError(f"dataset: {path}: not a readable .npz ({e})") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise LayerPipeError(f"dataset: {path}: no array {key!r} (it has {', '.join(arrays) or 'none'})")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise LayerPipeError(f"dataset: {path}: x_test and y_test come together")
    parts = [("x", "y")] + ([("x_test", "y_test")] if "x_test" in arrays else [])
    out, width = [], None
    for xk, yk in parts:
        x, y = arrays[xk], arrays[yk]
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise LayerPipeError(f"dataset: {path}: {xk} must be a non-empty 2-D array "
                                 f"(samples, features), not of shape {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise LayerPipeError(f"dataset: {path}: {yk} must be 1-D with one label per row of {xk} "
                                 f"({len(x)}), not of shape {y.shape}")
        if width is not None and x.shape[1] != width:
            raise LayerPipeError(f"dataset: {path}: {xk} has {x.shape[1]} features, x has {width}")
        width = x.shape[1]
        for key, a in ((xk, x), (yk, y)):
            if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
                raise LayerPipeError(f"dataset: {path}: {key} holds {a.dtype}, not numbers")
        out += _checked(path, x.astype(np.float64), y.astype(np.float64), classes,
                        range(len(x)), f"{xk} row")
    return tuple(out) if len(out) == 4 else (*out, None, None)


def _checked(path, x, y, classes, places, place):
    """(x, integer y) after refusing non-finite values and labels that are not 0..classes-1."""
    bad = ~np.isfinite(x)
    if bad.any():
        i, col = np.argwhere(bad)[0]
        raise LayerPipeError(f"dataset: {path}: {place} {places[i]} column {col + 1} is {x[i, col]} "
                             "(features must be finite numbers)")
    for i, label in enumerate(y):
        if not (math.isfinite(label) and label == int(label) and 0 <= label < classes):
            raise LayerPipeError(f"dataset: {path}: {place} {places[i]}: label {label:g} is not an integer "
                                 f"in 0..{classes - 1} (the net has {classes} outputs)")
    return x, y.astype(np.int64)
