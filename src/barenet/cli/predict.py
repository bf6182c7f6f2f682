"""``barenet predict MODEL_FILE [MODEL_FILE ...] INPUT...``: labels for image files or a
Kaggle test.csv. Several model files (the first argument, and those after it ending in
``.safetensors`` or ``.npz``) predict as an ensemble: their class probabilities are
averaged."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np

from ..data import kaggle_test, load_image, write_submission
from ..io import atomic_write_bytes
from ..train import predict
from ._common import (
    MODEL_SUFFIXES,
    add_device_arg,
    int_arg,
    load_models,
    model_on_device,
    out_file_arg,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict labels for image files or a Kaggle test.csv",
        usage="barenet predict [-h] [--out PATH] [--batch-size N] [--invert] [--device DEVICE] "
        "MODEL_FILE [MODEL_FILE ...] INPUT [INPUT ...]",
        description="Image files are read as greyscale and resized to the model's input, as "
        "in training. A single .csv input is read as a Kaggle digit-recognizer test.csv and "
        "gives a submission file (ImageId,Label). Several model files (the first argument "
        "and those after it ending in .safetensors or .npz) predict as an ensemble, "
        "averaging their class probabilities; they must agree on class names and input "
        "shape.",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="one or more model files, then image files or one test.csv",
    )
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
    if len(shape) != 3 or shape[0] != 1:
        raise ValueError(
            f"predict: image files need a greyscale image model (1, H, W), this one takes {shape}"
        )
    return np.stack([load_image(p, shape[1:]) for p in paths])[:, None]


def split_paths(paths: list[str]) -> tuple[list[str], list[str]]:
    """(model files, inputs): the first path is a model file, and so is every path after
    it that ends in a model-file suffix; the rest are inputs (image files, or one .csv)."""
    n = 1
    while n < len(paths) and paths[n].lower().endswith(MODEL_SUFFIXES):
        n += 1
    if n == len(paths):
        raise ValueError("predict: no inputs given after the model file(s)")
    inputs = paths[n:]
    late = [p for p in inputs if p.lower().endswith(MODEL_SUFFIXES)]
    if late:
        raise ValueError(
            f"predict: {late[0]} comes after the input {inputs[0]}; give every model file "
            "first, then the inputs"
        )
    csvs = [p for p in inputs if p.lower().endswith(".csv")]
    if csvs and len(inputs) > 1:
        raise ValueError(
            f"predict: a .csv input ({csvs[0]}) must be the only input, got {len(inputs)} "
            "inputs; predict image files and a test.csv in separate commands"
        )
    return paths[:n], inputs


def run(args: argparse.Namespace) -> int:
    model_files, args.inputs = split_paths(list(args.paths))
    csv_in = len(args.inputs) == 1 and args.inputs[0].lower().endswith(".csv")
    if csv_in and not args.out:
        try:  # the default output, checked before any work as --out is
            args.out = out_file_arg("submission.csv")
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"cannot write the submission: {exc}; pass --out") from None
    model, meta = load_models(model_files)
    model_on_device(model, args.device)
    shape = tuple(meta.get("input_shape") or ())
    if not shape:
        raise ValueError(f"{model_files[0]}: no input shape recorded in the model file")
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
            f"{model_files[0]}: {len(names)} class names recorded for outputs "
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
