"""Training curves of the three schedule modes, fixed point and float, in one figure."""
from layerpipe.hw.config import MODES


def plot_modes(cfg, data, epochs, path, known=None):
    """Train every mode in fixed point and float (reusing results in ``known``,
    keyed by (mode, float)) and draw loss and test accuracy per epoch to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .train import train

    known = dict(known or {})
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs_axis = range(1, epochs + 1)
    for mode in MODES:
        for use_float in (False, True):
            r = known.get((mode, use_float)) or train(cfg.replace(mode=mode), data, epochs, use_float)
            style = dict(label=f"{mode} {'float' if use_float else 'fixed'}", linestyle="--" if use_float else "-",
                         marker="o" if mode == "sequential" else None, markersize=3)
            ax_loss.plot(epochs_axis, r.loss_curve, **style)
            ax_acc.plot(epochs_axis, r.test_curve, **style)
    ax_loss.set(xlabel="epoch", ylabel="mean squared error (training stream)", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy")
    ax_acc.legend(fontsize=8)
    delays = list(cfg.replace(mode="layerpipe").delays)
    fig.suptitle(f"{data.name} {'-'.join(map(str, cfg.widths))}: LayerPipe delays {delays} vs plain SGD")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
