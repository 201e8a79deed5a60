"""``layerpipe train``: train the golden model (integer, or float with
``--float``) on a data set with the beat schedule of the chosen mode."""
import json
import sys
from dataclasses import dataclass

import numpy as np

from layerpipe.hw import strict_json
from layerpipe.hw.config import NetConfig
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.options import add_config_arguments, config_from_args, integer
from layerpipe.hw.output_paths import check_output

from . import datasets
from .golden import FloatArithmetic, IntegerArithmetic, Pipeline, Sample, mse

# Passes over the training split (iris has only 120 training samples, wine 142);
# a file gets 10.
DEFAULT_EPOCHS = {"digits": 10, "iris": 30, "wine": 30, "breast_cancer": 30, "synthetic": 10}


@dataclass
class TrainResult:
    cfg: NetConfig
    float: bool
    epochs: int
    train_accuracy: float
    test_accuracy: float
    final_loss: float          # mean MSE over the last epoch's samples
    loss_curve: list           # mean MSE per epoch
    test_curve: list           # test accuracy after each epoch
    pipeline: Pipeline

    def to_json(self):
        return {"test_accuracy": self.test_accuracy, "train_accuracy": self.train_accuracy,
                "final_loss": self.final_loss, "delays": list(self.cfg.delays), "mode": self.cfg.mode,
                "numbers": "float64" if self.float else self.cfg.numbers, "epochs": self.epochs,
                "net": "-".join(map(str, self.cfg.widths)), "seed": self.cfg.seed,
                "loss_curve": self.loss_curve, "test_curve": self.test_curve,
                "saturation": self.pipeline.arith.saturated}


def sample_stream(data, arith, epochs, seed):
    """The training stream: ``epochs`` seeded permutations of the training
    split, numbered from 0, one continuous stream (the pipeline is not drained
    between epochs)."""
    index = 0
    xs = arith.input(data.x_train)
    for epoch in range(epochs):
        for i in data.epoch_order(epoch, seed):
            yield Sample(index, xs[i], int(data.y_train[i]))
            index += 1


def accuracy(pipeline, arith, x, y):
    return float(np.mean(np.argmax(pipeline.predict(arith.input(x)), axis=1) == y))


class TrainingDiverged(LayerPipeError):
    """Training diverged (:func:`train`): the message names the epoch and what
    to change; ``report`` is the partial result as a JSON object."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


# An epoch whose mean loss exceeds the untrained network's this many times has diverged.
EXPLODED = 100.0


def train(cfg, data, epochs, use_float=False, progress=None):
    """Train the golden model for ``epochs`` passes over ``data``'s training split.

    Raises :class:`TrainingDiverged` as soon as a sample's loss is not finite
    (float overflow), or after an epoch whose mean loss is more than
    :data:`EXPLODED` times the untrained network's on the training split.
    """
    arith = FloatArithmetic(cfg) if use_float else IntegerArithmetic(cfg)
    pipe = Pipeline(cfg, arith)
    per_epoch = len(data.x_train)
    untrained = mse(arith, pipe.predict(arith.input(data.x_train)), data.y_train)
    losses, loss_curve, test_curve = [], [], []

    def diverged(epoch, loss, why):
        report = {"diverged_epoch": epoch, "final_loss": loss, "untrained_loss": untrained,
                  "loss_curve": loss_curve, "test_curve": test_curve, "mode": cfg.mode,
                  "numbers": "float64" if use_float else cfg.numbers, "saturation": arith.saturated}
        return TrainingDiverged(f"training diverged in epoch {epoch}: {why}; the learning rate "
                                f"2^-{cfg.lr_shift} is too large, try --lr-shift {cfg.lr_shift + 2}", report)

    # a float run that overflows is reported as divergence, not as NumPy's warnings
    with np.errstate(over="ignore", invalid="ignore"):
        for report in pipe.run(sample_stream(data, arith, epochs, cfg.seed)):
            for index, loss in report.losses:
                if not np.isfinite(loss):
                    raise diverged(index // per_epoch + 1, loss, f"the loss of sample {index} is {loss}")
                losses.append(loss)
            # an epoch's curve point once its last sample has been trained on
            if pipe.trained and len(pipe.trained) % per_epoch == 0 and len(loss_curve) < len(pipe.trained) // per_epoch:
                loss_curve.append(float(np.mean(losses[-per_epoch:])))
                test_curve.append(accuracy(pipe, arith, data.x_test, data.y_test))
                if loss_curve[-1] > EXPLODED * untrained:
                    raise diverged(len(loss_curve), loss_curve[-1],
                                   f"the mean loss {loss_curve[-1]:.4g} is over {EXPLODED:g} times the untrained "
                                   f"network's {untrained:.4g}")
                if progress:
                    progress(len(loss_curve), loss_curve[-1], test_curve[-1])
    assert pipe.trained == list(range(epochs * per_epoch)), "a sample was lost, repeated or reordered"
    return TrainResult(cfg, use_float, epochs,
                       train_accuracy=accuracy(pipe, arith, data.x_train, data.y_train),
                       test_accuracy=accuracy(pipe, arith, data.x_test, data.y_test),
                       final_loss=loss_curve[-1], loss_curve=loss_curve, test_curve=test_curve,
                       pipeline=pipe)


def add_arguments(p):
    add_config_arguments(p)
    p.add_argument("--dataset", default="digits", help=datasets.HELP)
    p.add_argument("--float", action="store_true", help="floating-point twin instead of integers")
    p.add_argument("--epochs", type=integer("epochs"), help="passes over the training split (default: "
                   + ", ".join(f"{k} {v}" for k, v in DEFAULT_EPOCHS.items()) + ")")
    p.add_argument("--save-weights", metavar="F.npz", help="write the trained weights and biases")
    p.add_argument("--plot", metavar="F.png", help="train every mode and draw their curves")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout, nothing else")


def run(args):
    cfg = config_from_args(args)
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS.get(args.dataset, 10)
    if not 1 <= args.epochs <= 1000:
        raise LayerPipeError(f"epochs: {args.epochs} is out of range 1..1000")
    if args.save_weights:
        check_output(args.save_weights, "save-weights", suffixes=(".npz",))
    if args.plot:
        check_output(args.plot, "plot", suffixes=(".png",))
    data = datasets.load(args.dataset, cfg.widths, cfg.seed)
    bar = None
    if not args.json:
        from tqdm import tqdm
        bar = tqdm(total=args.epochs, desc=f"{cfg.mode} {'float' if args.float else 'fixed'}",
                   unit="epoch", file=sys.stderr)
    progress = (lambda e, loss, acc: (bar.update(1), bar.set_postfix(loss=f"{loss:.4f}", test=f"{acc:.3f}"))) \
        if bar else None
    try:
        result = train(cfg, data, args.epochs, args.float, progress)
    except TrainingDiverged as e:
        if bar:
            bar.leave = False        # the error line is the last word, not a stopped bar
        if args.json:
            print(strict_json.dumps(e.report))
        raise
    finally:
        if bar:
            bar.close()
    if args.save_weights:
        pipe = result.pipeline
        np.savez(args.save_weights, **{f"w{l}": w for l, w in enumerate(pipe.weights, 1)},
                 **{f"b{l}": b for l, b in enumerate(pipe.biases, 1)}, config=json.dumps(cfg.to_dict()))
    if args.plot:
        from .training_plot import plot_modes
        plot_modes(cfg, data, args.epochs, args.plot, {(cfg.mode, args.float): result})
    if args.json:
        print(strict_json.dumps(result.to_json()))
    else:
        numbers = "float64" if args.float else f"act {cfg.act} weight {cfg.weight} grad {cfg.grad} lr 2^-{cfg.lr_shift}"
        print(f"{args.dataset} {'-'.join(map(str, cfg.widths))}  mode {cfg.mode}  {numbers}")
        print(f"  delays (samples)  {list(cfg.delays)}")
        print(f"  train accuracy    {result.train_accuracy:.4f}")
        print(f"  test accuracy     {result.test_accuracy:.4f}")
        print(f"  final loss        {result.final_loss:.5f}")
        if result.pipeline.arith.saturated is not None:
            print("  saturated values  " + ", ".join(f"{q} {n}" for q, n in result.pipeline.arith.saturated.items())
                  + "  (clipped to their format while training)")
    return 0
