"""A Fashion-MNIST-sized training run on synthetic images, timed: ``cnn-deep`` (the
reports' 21-layer CNN) through ``barenet.train.fit`` on a device.

    python benchmarks/gpu_train.py --device cuda [--n-train 60000] [--epochs 2]
                                   [--batch-size 64] [--json PATH]

The data are 28x28 greyscale images of 10 classes (a fixed random pattern per class,
shifted by up to two pixels, plus noise), so the accuracies say whether the run
learns; 10,000 more are the test set. It prints and writes each epoch's wall time,
images/s, loss and accuracies, and the test accuracy after the last epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def synthetic_images(n: int, seed: int, classes: int = 10):
    """``x: (n, 1, 28, 28) float32`` in [0, 1] and ``y: (n,)`` labels."""
    patterns = np.random.default_rng(1234).uniform(0, 1, (classes, 28, 28)) > 0.7
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = np.empty((n, 1, 28, 28), np.float32)
    for k in range(classes):
        idx = np.flatnonzero(y == k)
        shifts = rng.integers(-2, 3, (len(idx), 2))
        for (dy, dx), rows in _groups(shifts, idx):
            x[rows, 0] = np.roll(patterns[k], (dy, dx), axis=(0, 1))
    x += rng.normal(0, 0.3, x.shape).astype(np.float32)
    return np.clip(x, 0, 1), y


def _groups(shifts, idx):
    """(shift, rows with that shift) for every shift used."""
    keys = (shifts[:, 0] + 2) * 5 + (shifts[:, 1] + 2)
    for key in np.unique(keys):
        yield (int(key // 5 - 2), int(key % 5 - 2)), idx[keys == key]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--n-train", type=int, default=60_000)
    p.add_argument("--n-test", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    import barenet as bn
    from barenet import optim
    from barenet.core.device import GPUUnavailableError
    from barenet.models import build_model
    from barenet.train import Callback, evaluate, fit

    t0 = time.perf_counter()
    x, y = synthetic_images(args.n_train, seed=0)
    xt, yt = synthetic_images(args.n_test, seed=1)
    data_s = time.perf_counter() - t0
    bn.seed(0)
    model = build_model("cnn-deep", (1, 28, 28), 10)
    try:
        model.to(args.device)
    except GPUUnavailableError as exc:
        print(f"gpu_train: {exc}", file=sys.stderr)
        return 3
    opt = optim.Adam(model.parameters(), lr=2e-3)
    records = []

    class Report(Callback):
        def on_epoch_end(self, ctx):
            rec = dict(ctx.logs)
            rec["images_per_s"] = args.n_train / rec["time_s"]
            records.append(rec)
            print(
                f"epoch {rec['epoch']}: {rec['time_s']:.1f} s, {rec['images_per_s']:.0f} img/s, "
                f"loss {rec['train_loss']:.4f}, train acc {rec['train_acc']:.4f}",
                flush=True,
            )

    t1 = time.perf_counter()
    fit(
        model,
        bn.SoftmaxCrossEntropy(),
        opt,
        (x, y),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[Report()],
        seed=0,
        verbose=False,
    )
    train_s = time.perf_counter() - t1
    test = evaluate(model, bn.SoftmaxCrossEntropy(), xt, yt)
    out = {
        "model": "cnn-deep",
        "device": model.device,
        "n_train": args.n_train,
        "batch_size": args.batch_size,
        "epochs": records,
        "train_wall_s": train_s,
        "data_build_s": data_s,
        "test": test,
    }
    print(
        f"cnn-deep on {model.device}: {args.epochs} epochs of {args.n_train} images in "
        f"{train_s:.1f} s; test accuracy {test['accuracy']:.4f}"
    )
    if args.json:
        tmp = f"{args.json}.tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
