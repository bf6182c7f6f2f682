"""``barenet profile MODEL``: per-layer forward/backward time of one training step."""

from __future__ import annotations

import argparse
import os

import numpy as np

from ._common import add_device_arg, int_arg, model_on_device, shape_arg

NAMES = ("mlp", "cnn-small", "cnn-deep")


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


def _known_names() -> tuple[str, ...]:
    try:
        from ..models import MODELS
    except ImportError:
        return NAMES
    return tuple(MODELS)


def build_named(name: str, input_shape: tuple[int, ...], num_classes: int):
    """The benchmark's models; ``barenet.models.build_model`` when that module exists."""
    try:
        from ..models import build_model
    except ImportError:
        build_model = None
    if build_model is not None:
        return build_model(name, input_shape, num_classes)
    import barenet as bn

    if name == "mlp":
        return bn.Sequential(
            bn.Flatten(), bn.Linear(int(np.prod(input_shape)), 256), bn.LeakyReLU(0.01),
            bn.Linear(256, 128), bn.LeakyReLU(0.01), bn.Linear(128, num_classes),
        )  # fmt: skip
    if name in NAMES and len(input_shape) != 3:
        raise ValueError(f"{name}: expected an input shape C,H,W, got {input_shape}")
    c, h, w = input_shape
    if name == "cnn-small":
        return bn.Sequential(
            bn.Conv2d(c, 32, 3, padding=1), bn.ReLU(), bn.MaxPool2d(2),
            bn.Conv2d(32, 64, 3, padding=1), bn.ReLU(), bn.MaxPool2d(2),
            bn.Flatten(), bn.Linear(64 * (h // 4) * (w // 4), 128), bn.ReLU(),
            bn.Linear(128, num_classes),
        )  # fmt: skip
    if name == "cnn-deep":
        layers, cin = [], c
        for ch, pad in ((16, 0), (32, 0), (64, 1)):
            layers += [bn.Conv2d(cin, ch, 3, padding=pad), bn.ReLU()]
            layers += [bn.Conv2d(ch, ch, 3, padding=pad), bn.ReLU(), bn.MaxPool2d(2)]
            h, w, cin = (h - 4 + 4 * pad) // 2, (w - 4 + 4 * pad) // 2, ch
        if h < 1 or w < 1:
            raise ValueError(f"cnn-deep: input {input_shape} is too small for three conv blocks")
        return bn.Sequential(
            *layers, bn.Flatten(), bn.Linear(64 * h * w, 50), bn.ReLU(), bn.Dropout(0.5),
            bn.Linear(50, num_classes), bn.Dropout(0.5),
        )  # fmt: skip
    raise ValueError(f"unknown model {name!r}: expected one of {', '.join(NAMES)} or a file")


def run(args: argparse.Namespace) -> int:
    import barenet as bn
    from barenet.core.device import to_device
    from barenet.core.memory import check_fits, forward_bytes, nbytes_of
    from barenet.profiler import profile

    dtype = np.dtype(args.dtype)
    shape = tuple(args.input_shape)
    bn.seed(args.seed)
    if args.model in _known_names():
        model = build_named(args.model, shape, args.classes)
    elif os.path.exists(args.model):
        model = bn.load(args.model)
    else:
        raise ValueError(
            f"{args.model!r} is neither a model file nor one of {', '.join(_known_names())}"
        )
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
