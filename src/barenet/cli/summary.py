"""``barenet summary MODEL``: layers, output shapes, parameters and FLOPs per image."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.memory import check_forward_fits
from ..io import load_file
from ..models import MODELS, build_model
from ..train.summary import summary
from ._common import int_arg, json_object_arg, shape_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "summary",
        help="table of layers, output shapes, parameters and FLOPs",
        description="MODEL is a name from barenet.models or a model file. FLOPs are "
        "2 x multiply-adds of Linear/Conv2d layers for one image, forward.",
    )
    p.add_argument("model", metavar="MODEL", help="a model name or a model file")
    p.add_argument(
        "--input-shape",
        type=shape_arg,
        default=None,
        metavar="C,H,W",
        help="one sample's shape (default 1,28,28, or the model file's)",
    )
    p.add_argument("--classes", type=int_arg(1), default=10, help="outputs of a named model")
    p.add_argument(
        "--model-args",
        type=json_object_arg,
        default=None,
        metavar="JSON",
        help="builder arguments of a named model, e.g. '{\"hidden\": [64]}'",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if Path(args.model).is_file():
        model, meta = load_file(args.model)
        shape = args.input_shape or tuple(meta.get("input_shape") or ())
        if not shape:
            raise ValueError(f"{args.model}: no input shape recorded; pass --input-shape")
    elif args.model.lower().replace("_", "-") in MODELS:
        shape = args.input_shape or (1, 28, 28)
        model = build_model(args.model, shape, args.classes, **(args.model_args or {}))
    else:
        raise ValueError(f"{args.model!r} is neither a model file nor one of {', '.join(MODELS)}")
    what = f"a forward pass on --input-shape {','.join(map(str, shape))}"
    check_forward_fits(model, (1, *shape), model.dtype, what)
    print(summary(model, shape))
    return 0
