"""``barenet demo``: train two small networks end to end in about a minute.

1. the CNN with BatchNorm (``cnn-bn``) on scikit-learn's bundled 8x8 digits;
2. the ``[1, 16, 32, 1]`` LeakyReLU MLP on y = sin x.

Each run writes its model file, history, metrics and plots into ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..train import run_training
from ._common import out_dir_arg

DIGITS = {
    "model": "cnn-bn",
    "data": "digits",
    "epochs": 10,
    "batch_size": 32,
    "optimizer": "adam",
    "lr": 2e-3,
    "schedule": "cosine",
    "seed": 0,
}
SINE = {
    "model": "mlp",
    "model_args": {"widths": [1, 16, 32, 1], "activation": "leaky_relu"},
    "data": "sine",
    "epochs": 200,
    "batch_size": 16,
    "optimizer": "adam",
    "lr": 0.01,
    "schedule": "cosine",
    "seed": 0,
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train a CNN on the bundled digits and an MLP on a sine (about a minute)",
        description="Train cnn-bn on the bundled 8x8 digits and a [1,16,32,1] LeakyReLU MLP "
        "on y = sin x; print the test figures and write models, histories and plots.",
    )
    p.add_argument(
        "--out",
        type=out_dir_arg,
        default="runs/demo",
        metavar="DIR",
        help="output folder (default runs/demo, beside the sweeps' runs/<name>; a "
        "checkout's .gitignore leaves runs/ out)",
    )
    p.add_argument("--quick", action="store_true", help="a few epochs only (a smoke test)")
    p.add_argument("--quiet", action="store_true", help="only the final figures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    digits, sine = dict(DIGITS), dict(SINE)
    if args.quick:
        digits.update(epochs=2, limit_train=400)
        sine.update(epochs=3, n_train=200, n_test=50)
    t0 = time.perf_counter()
    print(f"[1/2] {digits['model']} on the 8x8 digits, {digits['epochs']} epochs", flush=True)
    m1 = run_training({**digits, "quiet": args.quiet}, out / "digits")
    print(f"      test accuracy {100 * m1['test_accuracy']:.2f} %  ({m1['wall_time_s']:.1f} s)")
    print(f"[2/2] MLP [1,16,32,1] LeakyReLU on y = sin x, {sine['epochs']} epochs", flush=True)
    m2 = run_training({**sine, "quiet": True}, out / "sine")
    print(f"      test MSE {m2['test_mse']:.2e}  ({m2['wall_time_s']:.1f} s)")
    print(f"done in {time.perf_counter() - t0:.1f} s; models, histories and plots in {out}/")
    print(
        f"  {out / 'digits' / 'learning_curves.png'}\n  {out / 'digits' / 'confusion_matrix.png'}"
        f"\n  {out / 'sine' / 'fit.png'}"
    )
    return 0
