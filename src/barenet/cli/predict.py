"""``barenet predict MODEL_FILE INPUT...``: labels for image files or a Kaggle test.csv."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np

from ._common import add_device_arg, int_arg, model_on_device, out_file_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict labels for image files or a Kaggle test.csv",
        description="Image files are read as greyscale and resized to the model's input, as "
        "in training. A single .csv input is read as a Kaggle digit-recognizer test.csv and "
        "gives a submission file (ImageId,Label).",
    )
    p.add_argument("model_file", metavar="MODEL_FILE", help="a model file written by barenet")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, or one test.csv")
    p.add_argument(
        "--out",
        type=out_file_arg,
        metavar="PATH",
        help="CSV to write (default for test.csv input: submission.csv)",
    )
    p.add_argument("--batch-size", type=int_arg(1), default=500, help="samples per forward pass")
    p.add_argument(
        "--invert",
        action="store_true",
        help="invert the images first (dark ink on light paper, for models trained "
        "on light ink on dark, as MNIST)",
    )
    add_device_arg(p)
    p.set_defaults(func=run)


def _images(paths: list[str], shape: tuple[int, ...]) -> np.ndarray:
    from ..data import load_image

    if len(shape) != 3 or shape[0] != 1:
        raise ValueError(
            f"predict: image files need a greyscale image model (1, H, W), this one takes {shape}"
        )
    return np.stack([load_image(p, shape[1:]) for p in paths])[:, None]


def run(args: argparse.Namespace) -> int:
    from ..data import kaggle_test, write_submission
    from ..io import atomic_write_bytes, load_file
    from ..train import predict

    csv_in = len(args.inputs) == 1 and args.inputs[0].lower().endswith(".csv")
    if csv_in and not args.out:
        try:  # the default output, checked before any work as --out is
            args.out = out_file_arg("submission.csv")
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"cannot write the submission: {exc}; pass --out") from None
    model, meta = load_file(args.model_file)
    model_on_device(model, args.device)
    shape = tuple(meta.get("input_shape") or ())
    if not shape:
        raise ValueError(f"{args.model_file}: no input shape recorded in the model file")
    names = meta.get("class_names")
    invert = bool((meta.get("normalisation") or {}).get("invert"))
    x = kaggle_test(args.inputs[0]) if csv_in else _images(args.inputs, shape)
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"predict: inputs have shape {x.shape[1:]}, the model takes {shape}")
    if invert != bool(args.invert):
        x = 1.0 - x
    out = predict(model, x, args.batch_size)
    if names and (out.ndim != 2 or out.shape[1] != len(names)):
        raise ValueError(
            f"{args.model_file}: {len(names)} class names recorded for outputs "
            f"{tuple(out.shape[1:])}"
        )
    if meta.get("task") == "regression":
        for p, v in zip(args.inputs, out.ravel().tolist()):
            print(f"{p}\t{v:.6g}")
        return 0
    e = np.exp(out - out.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    labels = out.argmax(axis=1)
    if csv_in:
        path = args.out
        write_submission(path, labels)
        print(f"wrote {len(labels)} predictions to {path}")
        return 0
    rows = [
        (p, int(k), names[k] if names else str(k), float(prob[i, k]))
        for i, (p, k) in enumerate(zip(args.inputs, labels))
    ]
    for p, _k, name, pr in rows:
        print(f"{p}\t{name}\t{100 * pr:.1f} %")
    if args.out:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["file", "label", "class", "probability"])
        w.writerows([(p, k, name, f"{pr:.6f}") for p, k, name, pr in rows])
        atomic_write_bytes(Path(args.out), [buf.getvalue().encode()])
    return 0
