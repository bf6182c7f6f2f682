"""``barenet trace MODEL --data NAME [--batch N] [--html FILE]``: one training step,
recorded layer by layer (shapes, statistics of inputs, outputs and gradients, gradient
norms against weight norms, the first NaN/inf)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._common import add_data_args, int_arg, json_object_arg, out_file_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "trace",
        help="step through one forward and backward, layer by layer",
        description="Run one forward, loss and backward of MODEL (a model file, or a named "
        "model freshly built for the data) on a batch of DATASET's training split and print, "
        "per layer: the output's and the incoming gradient's mean, std, min, max and share "
        "of zeros, each parameter's gradient norm against its norm, and where a NaN or inf "
        "first appears. Nothing is updated.",
    )
    p.add_argument("model", metavar="MODEL_FILE", help="a model file or a model name")
    add_data_args(p)
    p.add_argument("--batch", type=int_arg(1, 100_000), default=8, help="samples in the batch")
    p.add_argument(
        "--html", type=out_file_arg, default=None, metavar="FILE",
        help="also write a self-contained page with the tables and histograms",
    )  # fmt: skip
    p.add_argument("--seed", type=int_arg(0, 2**31 - 1), default=0, help="batch and weights seed")
    p.add_argument(
        "--model-args", type=json_object_arg, default=None, metavar="JSON",
        help="builder arguments of a named model",
    )  # fmt: skip
    p.add_argument("--eval", action="store_true", help="trace in eval mode (no dropout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..core.config import seed as seed_all  # CLI start
    from ..doctor import trace  # CLI start
    from ..doctor.trace_table import write_trace_html  # CLI start
    from ..io import load_file  # CLI start
    from ..losses import MSELoss, SoftmaxCrossEntropy  # CLI start
    from ..models import MODELS, build_model  # CLI start
    from ..train import load_data  # CLI start

    d = load_data({"data": args.data, "data_dir": args.data_dir, "download": args.download,
                   "seed": args.seed})  # fmt: skip
    classify = d.task == "classification"
    seed_all(args.seed)
    if Path(args.model).is_file():
        model, meta = load_file(args.model)
        shape = tuple(meta.get("input_shape") or ())
        if shape and shape != tuple(d.input_shape):
            raise ValueError(
                f"{args.model}: the model takes input {shape}, but {d.name} has {d.input_shape}"
            )
    elif args.model.lower().replace("_", "-") in MODELS:
        n_out = d.num_classes if classify else int(np.prod(d.y_train.shape[1:]))
        model = build_model(args.model, d.input_shape, n_out, **(args.model_args or {}))
    else:
        raise ValueError(f"{args.model!r} is neither a model file nor one of {', '.join(MODELS)}")
    model.train(not args.eval)
    n = min(args.batch, len(d.x_train))
    pick = np.sort(np.random.default_rng(args.seed).permutation(len(d.x_train))[:n])
    x = d.x_train[pick].astype(model.dtype, copy=False)
    y = d.y_train[pick]
    loss_fn = SoftmaxCrossEntropy() if classify else MSELoss()
    rep = trace(model, loss_fn, x, y)
    print(f"{args.model} on {n} samples of {d.name}")
    print(rep)
    if args.html:
        write_trace_html(rep, args.html, title=f"barenet trace: {Path(args.model).name}")
        print(f"wrote {args.html}")
    return 0
