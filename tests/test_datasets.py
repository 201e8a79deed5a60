"""Data sets: the scikit-learn ones, the user's CSV and NPZ files, and the one
line a bad file gets."""
import numpy as np
import pytest

from layerpipe.scripts.cli import main
from layerpipe.hw.config import MODES, NetConfig
from layerpipe.hw.errors import LayerPipeError
from layerpipe.sim import datasets
from layerpipe.sim.train import train

NETS = {"digits": (64, 8, 10), "iris": (4, 8, 3), "wine": (13, 8, 3), "breast_cancer": (30, 8, 2)}


@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_new_sets_are_split_stratified_and_scaled_into_0_1(name):
    from sklearn import datasets as sk
    raw = getattr(sk, f"load_{name}")()
    data = datasets.load(name, NETS[name])
    assert len(data.x_train) + len(data.x_test) == len(raw.target)
    assert len(data.x_test) == int(np.ceil(0.2 * len(raw.target)))
    # stratified: each class's share of the test split is within one sample of its share overall
    for c in range(data.classes):
        assert abs(np.sum(data.y_test == c) - 0.2 * np.sum(raw.target == c)) <= 1
    assert data.x_train.min(axis=0).tolist() == [0.0] * data.features
    assert data.x_train.max(axis=0).tolist() == [1.0] * data.features
    assert 0 <= data.x_test.min() and data.x_test.max() <= 1


def _raw_iris():
    from sklearn import datasets as sk
    d = sk.load_iris()
    return d.data, d.target


def _same_training(a, b, widths, epochs=3):
    ra, rb = (train(NetConfig(widths), d, epochs) for d in (a, b))
    assert ra.loss_curve == rb.loss_curve and ra.test_curve == rb.test_curve
    for wa, wb in zip(ra.pipeline.weights + ra.pipeline.biases, rb.pipeline.weights + rb.pipeline.biases):
        assert np.array_equal(wa, wb)


def test_a_csv_of_iris_trains_as_the_built_in_iris(tmp_path):
    x, y = _raw_iris()
    path = tmp_path / "iris.csv"
    lines = ["sepal_l,sepal_w,petal_l,petal_w,species"] + [",".join(map(str, [*r, t])) for r, t in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    built_in, own = datasets.load("iris", (4, 8, 3)), datasets.load(str(path), (4, 8, 3))
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(built_in, field), getattr(own, field)), field
    _same_training(built_in, own, (4, 8, 3))


def test_an_npz_of_iris_trains_as_the_built_in_iris(tmp_path):
    x, y = _raw_iris()
    np.savez(tmp_path / "iris.npz", x=x, y=y)
    built_in, own = datasets.load("iris", (4, 8, 3)), datasets.load(str(tmp_path / "iris.npz"), (4, 8, 3))
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(built_in, field), getattr(own, field)), field
    _same_training(built_in, own, (4, 8, 3))


def test_an_npz_brings_its_own_test_split(tmp_path):
    x, y = _raw_iris()
    np.savez(tmp_path / "split.npz", x=x[:100], y=y[:100], x_test=x[100:], y_test=y[100:])
    data = datasets.load(str(tmp_path / "split.npz"), (4, 8, 3))
    assert len(data.x_train) == 100 and len(data.x_test) == 50
    assert np.array_equal(data.y_test, y[100:])
    # scaled with the training rows' range: the test rows may saturate, never leave [0, 1]
    lo, hi = x[:100].min(axis=0), x[:100].max(axis=0)
    assert np.allclose(data.x_train, (x[:100] - lo) / (hi - lo))
    assert 0 <= data.x_test.min() and data.x_test.max() <= 1


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("mode", MODES)
def test_train_runs_every_set_in_every_mode(name, mode, capsys):
    net = "-".join(map(str, NETS[name]))
    assert main(["train", "--net", net, "--dataset", name, "--mode", mode, "--epochs", "1", "--json"]) == 0
    import json
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == mode and 0 <= out["test_accuracy"] <= 1


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


IRIS_ROWS = "\n".join(f"{0.1 * k},{0.2 * k},{0.3 * k},{0.4 * k},{k % 3}" for k in range(10)) + "\n"
BAD_CSV = {
    "empty": ("", "no data rows"),
    "header only": ("a,b,c,d,label\n", "no data rows"),
    "ragged row": (IRIS_ROWS + "1,2,3,1\n", "line 11 has 4 columns, the first row has 5"),
    "text in a numeric column": (IRIS_ROWS.replace("0.4,1", "0.4,one"), "line 2 column 5: 'one' is not a number"),
    "text in a feature": ("1,2,x,4,0\n" + IRIS_ROWS, "line 1 column 3: 'x' is not a number"),
    "NaN": (IRIS_ROWS + "1,nan,3,4,0\n", "line 11 column 2 is nan"),
    "infinity": (IRIS_ROWS + "1,2,inf,4,0\n", "line 11 column 3 is inf"),
    "label out of range": (IRIS_ROWS + "1,2,3,4,3\n", "line 11: label 3 is not an integer in 0..2"),
    "negative label": (IRIS_ROWS + "1,2,3,4,-1\n", "line 11: label -1 is not an integer in 0..2"),
    "fractional label": (IRIS_ROWS + "1,2,3,4,1.5\n", "line 11: label 1.5 is not an integer in 0..2"),
    "too few rows": ("1,2,3,4,0\n2,3,4,5,1\n", "2 rows; at least 5"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_a_bad_csv_is_one_line_before_any_work(case, tmp_path, capsys):
    text, message = BAD_CSV[case]
    path = _write(tmp_path, "data.csv", text)
    for command in ("train", "sim"):
        assert main([command, "--net", "4-8-3", "--dataset", path]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"layerpipe: error: dataset: {path}: ") and message in err, err


def test_a_missing_file_and_a_width_mismatch_are_one_line(tmp_path, capsys):
    missing = str(tmp_path / "nope.csv")
    assert main(["train", "--net", "4-8-3", "--dataset", missing]) == 2
    assert capsys.readouterr().err == f"layerpipe: error: dataset: {missing}: no such file\n"
    path = _write(tmp_path, "data.csv", IRIS_ROWS)
    assert main(["sim", "--net", "5-8-3", "--dataset", path]) == 2
    assert capsys.readouterr().err == \
        f"layerpipe: error: net: input width 5 does not fit {path}, which has 4 features\n"
    assert main(["train", "--net", "4-8-2", "--dataset", path]) == 2     # labels 0..2 need 3 outputs
    assert "label 2 is not an integer in 0..1 (the net has 2 outputs)" in capsys.readouterr().err
    assert main(["train", "--net", "4-8-3", "--dataset", "data.txt"]) == 2
    assert "nor a file ending in .csv or .npz" in capsys.readouterr().err


BAD_NPZ = {
    "no y": ({"x": np.zeros((10, 4))}, "no array 'y'"),
    "1-D x": ({"x": np.zeros(10), "y": np.zeros(10)}, "x must be a non-empty 2-D array"),
    "short y": ({"x": np.zeros((10, 4)), "y": np.zeros(9)}, "y must be 1-D with one label per row of x (10)"),
    "text": ({"x": np.array([["a"] * 4] * 10), "y": np.zeros(10)}, "x holds <U1, not numbers"),
    "NaN": ({"x": np.full((10, 4), np.nan), "y": np.zeros(10)}, "x row 0 column 1 is nan"),
    "label": ({"x": np.zeros((10, 4)), "y": np.full(10, 7)}, "x row 0: label 7 is not an integer in 0..2"),
    "test alone": ({"x": np.zeros((10, 4)), "y": np.zeros(10), "x_test": np.zeros((2, 4))},
                   "x_test and y_test come together"),
    "test width": ({"x": np.zeros((10, 4)), "y": np.zeros(10), "x_test": np.zeros((2, 3)), "y_test": np.zeros(2)},
                   "x_test has 3 features, x has 4"),
}


@pytest.mark.parametrize("case", list(BAD_NPZ))
def test_a_bad_npz_is_one_line(case, tmp_path):
    arrays, message = BAD_NPZ[case]
    np.savez(tmp_path / "data.npz", **arrays)
    with pytest.raises(LayerPipeError, match=f"^dataset: .*data.npz: .*{message.replace('(', '.').replace(')', '.')}"):
        datasets.load(str(tmp_path / "data.npz"), (4, 8, 3))


def test_a_file_that_is_not_an_npz(tmp_path):
    path = _write(tmp_path, "data.npz", "not a zip")
    with pytest.raises(LayerPipeError, match="not a readable .npz"):
        datasets.load(path, (4, 8, 3))
