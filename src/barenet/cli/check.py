"""``barenet check FILE.py:NAME --input-shape N,C,H,W``: diagnose a hand-written layer.

Exit status: 0 when every gradient is right, 1 when one is wrong, 2 when the file, the
name, the shape or the arguments cannot be used or the layer raises (one line on
stderr saying where, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from ._common import emit_json, parse_shape

EXIT_WRONG = 1
EXIT_UNUSABLE = 2


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check",
        help="check a hand-written layer's gradients and say what is wrong",
        description="Check, in float64, the gradient of the input and of every parameter of "
        "a layer against central differences (and a PyTorch twin), and give each tensor a "
        "diagnosis: ok, scaled, sign, transposed, missing-accumulation, border, partial, zero, "
        "mutates-input, not-deterministic, shape or wrong. NAME is a layer class (a "
        "barenet.Module with forward and backward, built with --args), a layer object, or "
        "the prefix of two functions NAME_forward(x, *params, **args) -> (y, cache) and "
        "NAME_backward(dy, cache) -> (dx, *dparams), whose parameter shapes --args gives "
        'as {"params": {"w": [4, 3, 3, 3], "b": [4]}, "stride": [2, 2], ...}. '
        "Exit 0: all ok; 1: a gradient is wrong; 2: unusable input or the layer raises.",
    )
    p.add_argument("target", metavar="FILE.py:NAME", help="the file and the layer in it")
    p.add_argument(
        "--input-shape", required=True, metavar="N,C,H,W", help="the input's shape, batch included"
    )
    p.add_argument(
        "--args", default=None, metavar="JSON", help="the constructor's (or functions') arguments"
    )
    p.add_argument(
        "--twin", default=None, metavar="torch.nn.NAME",
        help="a PyTorch class computing the same (built with --args, the state dict copied); "
        "by default the known twin of a barenet layer type and its subclasses when PyTorch "
        "is installed; 'none' for no twin",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    p.add_argument("--seed", default="0", help="seed of the weights, the input and dy")
    p.set_defaults(func=run)


def _args(text: str | None) -> dict:
    from ..doctor import DoctorInputError  # CLI start

    if text is None:
        return {}
    try:
        v = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DoctorInputError(f"--args is not JSON: {exc}") from None
    if not isinstance(v, dict):
        raise DoctorInputError(f"--args must be a JSON object, got {text!r:.60}")
    return v


def run(args: argparse.Namespace) -> int:
    from ..core.config import seed as seed_all  # CLI start
    from ..doctor import DoctorInputError, LayerError, check_layer  # CLI start
    from ..doctor.loading import resolve  # CLI start

    try:
        try:
            shape = parse_shape(args.input_shape)
        except ValueError as exc:
            raise DoctorInputError(f"--input-shape: {exc}") from None
        if not args.seed.isdigit():
            raise DoctorInputError(f"--seed: expected a non-negative integer, got {args.seed!r}")
        seed_all(int(args.seed))  # the layer's initial weights, for a reproducible report
        obj, kwargs, ctor_args = resolve(args.target, _args(args.args))
        twin = False if args.twin is not None and args.twin.lower() == "none" else args.twin
        if twin and "params" in kwargs:
            raise DoctorInputError("--twin needs a layer class; NAME names two functions")
        if ctor_args is not None:
            kwargs["args"] = ctor_args  # what a named twin is built with
        report = check_layer(obj, shape, twin, seed=int(args.seed), **kwargs)
    except (DoctorInputError, LayerError) as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"barenet check: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.json:
        emit_json(report.to_dict())
    else:
        print(report)
    return 0 if report.ok else EXIT_WRONG
