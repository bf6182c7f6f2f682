"""Helpers shared by the sub-commands: argument types that check every value at parse
time (finite, in range, the flag named in the message by argparse), output paths
checked before any work starts, and the data arguments."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from ..core.checks import bounded_int
from ..ensemble import Ensemble
from ..io import ModelFileError, load_file, load_tensors
from ..train.checkpoint import CHECKPOINT_FORMAT
from . import _flags

__all__ = [
    "add_data_args",
    "add_device_arg",
    "add_setting_args",
    "emit_json",
    "float_arg",
    "int_arg",
    "json_object_arg",
    "load_models",
    "out_dir_arg",
    "out_file_arg",
    "parse_json_arg",
    "parse_shape",
    "shape_arg",
]

#: Largest value an integer flag takes (sizes and counts; NumPy's int32-safe range).
MAX_INT = 2**31 - 1


def _bounds(lo, hi, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


def int_arg(lo: int | None = 1, hi: int | None = MAX_INT):
    """An argparse ``type``: an integer in [lo, hi] (``1.5``, ``1e3``, ``nan`` refused)."""

    def parse(text: str) -> int:
        try:
            v = int(str(text).strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r:.40}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(
                f"must be an integer {_bounds(lo, hi, False, False)}, got {v}"
            )
        return v

    parse.__name__ = "integer"
    return parse


def float_arg(lo=None, hi=None, lo_open: bool = False, hi_open: bool = False):
    """An argparse ``type``: a finite number in the given range (``nan``/``inf`` refused)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r:.40}") from None
        low_bad = lo is not None and (v <= lo if lo_open else v < lo)
        high_bad = hi is not None and (v >= hi if hi_open else v > hi)
        if not math.isfinite(v) or low_bad or high_bad:
            rng = _bounds(lo, hi, lo_open, hi_open)
            raise argparse.ArgumentTypeError(
                f"must be a finite number{' ' + rng if rng else ''}, got {text!r:.40}"
            )
        return v

    parse.__name__ = "number"
    return parse


def _first_existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_writable(folder: Path, text: str) -> None:
    """``folder`` (or its first existing parent, where it would be created) must be a
    folder this process can write in."""
    base = _first_existing(folder)
    if not base.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r:.80}: {base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r:.80}: cannot write in {base}")


def out_dir_arg(text: str) -> str:
    """An argparse ``type``: a folder to write into (created later if absent). Refuses
    an empty name, an existing file, and a place that cannot be written."""
    if not str(text).strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty name")
    p = Path(text).expanduser()
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r:.80} exists and is not a folder")
    _check_writable(p, text)
    return text


def out_file_arg(text: str) -> str:
    """An argparse ``type``: a file to write (replaced atomically). Refuses an empty
    name, a folder, anything but a regular file (``/dev/null`` is not replaced), and a
    place that cannot be written."""
    if not str(text).strip():
        raise argparse.ArgumentTypeError("expected a file name, got an empty name")
    p = Path(text).expanduser()
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r:.80} is a folder; name a file")
    if p.exists() and not p.is_file():
        raise argparse.ArgumentTypeError(f"{text!r:.80} exists and is not a regular file")
    _check_writable(p.parent, text)
    return text


def json_object_arg(text: str) -> dict:
    """An argparse ``type``: a JSON object (``'{"hidden": [64]}'``)."""
    try:
        return parse_json_arg(text, "expected")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,28,28"`` (or ``1x28x28``) -> ``(1, 28, 28)``; ``ValueError`` otherwise."""
    parts = str(text).replace("x", ",").split(",")
    try:
        shape = tuple(int(p.strip(), 10) for p in parts)
    except ValueError:
        raise ValueError(
            f"bad shape {text!r:.40}: expected comma-separated integers like 1,28,28"
        ) from None
    if not shape or min(shape) < 1 or max(shape) > MAX_INT or len(shape) > 4:
        raise ValueError(f"bad shape {text!r:.40}: expected 1 to 4 positive sizes like 1,28,28")
    return shape


def shape_arg(text: str) -> tuple[int, ...]:
    """An argparse ``type``: a shape like ``1,28,28`` of positive integers."""
    try:
        return parse_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_json_arg(text: str | None, what: str) -> dict:
    """A JSON object given on the command line (``--model-args '{"hidden": [64]}'``)."""
    if not text:
        return {}
    try:
        v = json.loads(text, parse_int=bounded_int)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{what} must be a JSON object, e.g. '{{\"hidden\": [64]}}' ({exc})"
        ) from None
    except ValueError as exc:  # bounded_int
        raise ValueError(f"{what} must be a JSON object; it holds {exc}") from None
    if not isinstance(v, dict):
        raise ValueError(f"{what} must be a JSON object, got {text!r}")
    return v


#: The suffixes of the model files barenet writes.
MODEL_SUFFIXES = (".safetensors", ".npz")


def _is_checkpoint(path) -> bool:
    try:
        return load_tensors(path)[1].get("format") == CHECKPOINT_FORMAT
    except (OSError, ValueError):
        return False


def load_models(paths: list[str]) -> tuple[object, dict]:
    """(model, metadata) of one model file, or (their :class:`~barenet.Ensemble`, the first
    file's metadata) of several. A file that does not load and lacks a model-file suffix
    is called what it likely is, not a model file; a file named twice gets a warning (it
    would count twice in the average)."""
    loaded = []
    for path in paths:
        try:
            model, meta = load_file(path)
        except ModelFileError as exc:
            if _is_checkpoint(path):
                raise ValueError(
                    f"{path} is a training checkpoint, not a model file: the run's model file "
                    "is model.safetensors in the run folder (an unfinished run writes it when "
                    "barenet train --resume completes it)"
                ) from None
            if str(path).lower().endswith(MODEL_SUFFIXES):
                raise
            why = str(exc).removeprefix(f"{path}: ")
            raise ValueError(
                f"{path} is not a model file ({why}); the model files are the .safetensors "
                "or .npz files that barenet train writes"
            ) from None
        loaded.append((str(path), model, meta))
    if len(loaded) == 1:
        return loaded[0][1], loaded[0][2]
    for path in dict.fromkeys(paths):
        n = paths.count(path)
        if n > 1:
            print(
                f"warning: {path} is given {n} times; the ensemble counts it {n} times",
                file=sys.stderr,
            )
    ens = Ensemble._of_loaded(loaded)
    return ens, ens.members[0].metadata


#: The data settings every command that reads a dataset takes.
DATA_SETTINGS = ("data", "data_dir", "download")


def add_setting_args(p: argparse.ArgumentParser, names=None, **kw) -> list[str]:
    """The flags of training settings ``names``, derived from their declarations (see
    :mod:`barenet.cli._flags`); ``--model-args`` is read by :func:`json_object_arg`."""
    return _flags.add_setting_args(p, names, table=json_object_arg, **kw)


def add_data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    add_setting_args(p, DATA_SETTINGS, required=["data"] if required else [])


def emit_json(obj: dict) -> None:
    """Exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def add_device_arg(p: argparse.ArgumentParser) -> None:
    add_setting_args(p, ["device"])


def model_on_device(model, device: str):
    """``model`` moved to ``device`` (a GPU without CuPy or a GPU: GPUUnavailableError,
    one line naming ``pip install barenet[gpu]``)."""
    return model if device == "cpu" else model.to(device)
