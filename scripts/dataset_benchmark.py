"""Test accuracy of the golden model (LayerPipe schedule, fixed point) beside
scikit-learn's ``MLPClassifier`` with the same hidden layers, on the same
split and the same scaled features, for every built-in data set.

``python -m layerpipe.scripts.dataset_benchmark [--json]`` prints a Markdown
table (the README's) or one JSON object. A benchmark, not a test: it trains
every set for its default number of epochs.
"""
import argparse
import json
import warnings

from layerpipe.hw.config import NetConfig
from layerpipe.sim import datasets
from layerpipe.sim.train import DEFAULT_EPOCHS, train

NETS = {"digits": (64, 32, 10), "iris": (4, 8, 3), "wine": (13, 16, 3), "breast_cancer": (30, 16, 2)}


def mlp_accuracy(data, widths, seed=0):
    """``MLPClassifier`` (ReLU, Adam, scikit-learn's defaults, up to 1000 iterations)
    with hidden layers ``widths[1:-1]`` on ``data``'s split: test accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=tuple(widths[1:-1]), max_iter=1000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.x_train, data.y_train)
    return float(clf.score(data.x_test, data.y_test))


def rows(mode="layerpipe"):
    for name, widths in NETS.items():
        data = datasets.load(name, widths)
        ours = train(NetConfig(widths, mode=mode), data, DEFAULT_EPOCHS[name]).test_accuracy
        theirs = mlp_accuracy(data, widths)
        yield {"dataset": name, "net": "-".join(map(str, widths)), "epochs": DEFAULT_EPOCHS[name],
               "train_rows": len(data.x_train), "test_rows": len(data.x_test),
               "layerpipe_fixed": ours, "mlp_classifier": theirs, "difference_points": 100 * (ours - theirs)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="one JSON object")
    args = p.parse_args(argv)
    table = list(rows())
    if args.json:
        print(json.dumps({"rows": table}))
        return
    print("| data set | net | train / test rows | epochs | LayerPipe (fixed point) | MLPClassifier | difference |")
    print("|---|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r['dataset']} | {r['net']} | {r['train_rows']} / {r['test_rows']} | {r['epochs']} | "
              f"{r['layerpipe_fixed']:.4f} | {r['mlp_classifier']:.4f} | {r['difference_points']:+.1f} points |")


if __name__ == "__main__":
    main()
