"""Train the reports' small CNN on Fashion-MNIST with the Python API.

    python examples/fit_fashion_mnist.py [--epochs 5] [--limit 60000]

Uses fit() with a validation split, a cosine learning-rate schedule, early
stopping and checkpoints (Ctrl-C saves one; run again with --resume to continue).
"""

from __future__ import annotations

import argparse

import barenet as bn
from barenet.data import load_dataset, stratified_split
from barenet.models import build_model
from barenet.train import CosineLR, EarlyStopping, ModelCheckpoint, evaluate, fit, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--limit", type=int, default=60000)
    ap.add_argument("--out", default="fashion-run")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()

    bn.seed(0)
    d = load_dataset("fashion-mnist")
    x, y = d.x_train[: args.limit], d.y_train[: args.limit]
    tr, va = stratified_split(y, 0.1, seed=0)
    model = build_model("cnn-small", d.input_shape, d.num_classes)
    print(summary(model, d.input_shape))
    opt = bn.optim.Adam(model.parameters(), lr=1e-3)
    ckpt = ModelCheckpoint(f"{args.out}/checkpoints", monitor="val_acc")
    history = fit(
        model,
        bn.SoftmaxCrossEntropy(),
        opt,
        (x[tr], y[tr]),
        (x[va], y[va]),
        epochs=args.epochs,
        batch_size=64,
        seed=0,
        callbacks=[ckpt, CosineLR(args.epochs), EarlyStopping("val_acc", patience=3)],
        resume=ckpt.last_path if args.resume else None,
    )
    res = evaluate(model, bn.SoftmaxCrossEntropy(), d.x_test, d.y_test)
    print(
        f"test accuracy {100 * res['accuracy']:.2f} % after {len(history.epochs)} epochs "
        f"({history.stopped_reason or 'completed'})"
    )
    bn.save(
        model,
        f"{args.out}/model.safetensors",
        {
            "class_names": d.class_names,
            "input_shape": list(d.input_shape),
            "task": "classification",
            "dataset": d.name,
            "metrics": res,
        },
    )
    history.save_csv(f"{args.out}/history.csv")


if __name__ == "__main__":
    main()
