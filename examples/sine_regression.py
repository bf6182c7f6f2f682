"""Fit y = sin x with the [1, 16, 32, 1] LeakyReLU network of the reports.

    python examples/sine_regression.py [--epochs 800] [--optimizer sgd]

The same run as ``barenet train mlp --data sine --model-args
'{"widths": [1, 16, 32, 1], "activation": "leaky_relu"}' --batch-size 16 --lr 0.01``.
"""

from __future__ import annotations

import argparse

from barenet.train import run_training


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=800)
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--out", default="sine-run")
    args = ap.parse_args()
    m = run_training(
        {
            "model": "mlp",
            "model_args": {"widths": [1, 16, 32, 1], "activation": "leaky_relu"},
            "data": "sine",
            "epochs": args.epochs,
            "batch_size": 16,
            "lr": 0.01,
            "optimizer": args.optimizer,
            "quiet": True,
        },
        args.out,
    )
    print(f"test MSE {m['test_mse']:.2e} in {m['wall_time_s']:.0f} s; plot: {args.out}/fit.png")


if __name__ == "__main__":
    main()
