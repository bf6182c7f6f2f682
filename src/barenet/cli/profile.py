"""``barenet profile MODEL``: per-layer forward/backward time of one training step."""

from __future__ import annotations

import argparse
import os

import numpy as np

import barenet as bn

from ..core.device import to_device
from ..core.memory import check_fits, forward_bytes, nbytes_of
from ..models import MODELS, build_model
from ._common import add_device_arg, int_arg, model_on_device, shape_arg


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "profile",
        help="time every layer's forward and backward",
        description="Per-layer forward and backward time of a training step (forward, "
        "softmax cross-entropy, backward) on a random batch.",
    )
    p.add_argument("model", help="a named model (mlp, cnn-small, cnn-deep, ...) or a model file")
    p.add_argument("--batch", type=int_arg(1), default=64, help="batch size")
    p.add_argument(
        "--input-shape",
        type=shape_arg,
        default=(1, 28, 28),
        metavar="C,H,W",
        help="one input's shape (default: 1,28,28)",
    )
    p.add_argument("--classes", type=int_arg(1), default=10, help="number of classes")
    p.add_argument("--repeats", type=int_arg(1, 100_000), default=5, help="timed steps")
    p.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="precision of the step"
    )
    p.add_argument("--seed", type=int_arg(0, 2**63 - 1), default=0, help="seed of the weights")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..profiler import profile  # CLI start: the profiler loads when a profile runs

    dtype = np.dtype(args.dtype)
    shape = tuple(args.input_shape)
    bn.seed(args.seed)
    if args.model in MODELS:
        model = build_model(args.model, shape, args.classes)
    elif os.path.exists(args.model):
        model = bn.load(args.model)
    else:
        raise ValueError(f"{args.model!r} is neither a model file nor one of {', '.join(MODELS)}")
    model_on_device(model.to(dtype), args.device).train()
    # A step keeps every layer's output for backward, and backward makes a gradient of
    # each: about three times the forward's outputs, checked before the batch exists.
    batch = (args.batch, *shape)
    need = forward_bytes(model, batch, dtype) or nbytes_of([batch], dtype)
    check_fits(3 * need, f"--batch {args.batch} of input {'x'.join(map(str, shape))}")
    rng = np.random.default_rng(args.seed)
    x = to_device(rng.standard_normal((args.batch, *shape)).astype(dtype), model.device)
    out = model.forward(x)
    if out.ndim != 2:
        raise ValueError(f"profile: the model gives outputs {out.shape}, expected (N, classes)")
    y = rng.integers(0, out.shape[1], args.batch)
    result = profile(model, x, y, repeats=args.repeats)
    print(f"{args.model}: input {(args.batch, *shape)} {dtype} on {model.device}")
    print(result)
    return 0
