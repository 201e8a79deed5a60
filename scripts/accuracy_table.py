"""Markdown table of golden-model test accuracy: fixed point and float x the
three schedule modes, on digits (64-32-10) and iris (4-8-3), default epochs.

    python -m layerpipe.scripts.accuracy_table
"""
from layerpipe.hw.config import MODES, NetConfig
from layerpipe.sim import datasets
from layerpipe.sim.train import DEFAULT_EPOCHS, train

NETS = {"digits": (64, 32, 10), "iris": (4, 8, 3)}


def main():
    print("| data set | net | epochs | numbers | " + " | ".join(MODES) + " |")
    print("|---|---|---|---|" + "---|" * len(MODES))
    for name, widths in NETS.items():
        data = datasets.load(name, widths)
        for use_float in (False, True):
            accs = [train(NetConfig(widths, mode=m), data, DEFAULT_EPOCHS[name], use_float).test_accuracy
                    for m in MODES]
            numbers = "float64" if use_float else "fixed (default formats)"
            print(f"| {name} | {'-'.join(map(str, widths))} | {DEFAULT_EPOCHS[name]} | {numbers} | "
                  + " | ".join(f"{a:.4f}" for a in accs) + " |")


if __name__ == "__main__":
    main()
