"""Helpers shared by the training-side sub-commands."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["parse_shape", "add_data_args", "parse_json_arg", "emit_json"]


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,28,28"`` (or ``1x28x28``) -> ``(1, 28, 28)``; ``ValueError`` otherwise."""
    parts = [p for p in str(text).replace("x", ",").split(",") if p.strip()]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"bad shape {text!r}: expected comma-separated ints like 1,28,28"
        ) from None
    if not shape or min(shape) < 1:
        raise ValueError(f"bad shape {text!r}: expected positive sizes like 1,28,28")
    return shape


def shape_arg(text: str) -> tuple[int, ...]:
    try:
        return parse_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_json_arg(text: str | None, what: str) -> dict:
    """A JSON object given on the command line (``--model-args '{"hidden": [64]}'``)."""
    if not text:
        return {}
    try:
        v = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{what} must be a JSON object, e.g. '{{\"hidden\": [64]}}' ({exc})"
        ) from None
    if not isinstance(v, dict):
        raise ValueError(f"{what} must be a JSON object, got {text!r}")
    return v


def add_data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--data",
        required=required,
        metavar="DATASET",
        help="mnist, fashion-mnist, digits, sine, kaggle (--data-dir holds train.csv) "
        "or folder (--data-dir holds one sub-folder per class)",
    )
    p.add_argument("--data-dir", metavar="DIR", help="where the dataset's files are")
    p.add_argument("--download", action="store_true", help="download MNIST-style files if missing")


def emit_json(obj: dict) -> None:
    """Exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
