"""Input checks shared by the layers: errors name the layer and both shapes."""

from __future__ import annotations

import math
import re
import sys

import numpy as np

from .backend import backend_name
from .config import get_default_dtype
from .device import check_same_device


def is_int(v) -> bool:
    """A Python int that is not a bool (what JSON's integers load as)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    """A Python int or float that is not a bool."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_finite_number(v) -> bool:
    """``is_number`` and neither NaN nor infinite."""
    return is_number(v) and math.isfinite(v)


def max_int_digits() -> int:
    """The most digits ``int()`` reads from text in this interpreter (4300 unless
    changed with ``sys.set_int_max_str_digits``; 0 there means no limit)."""
    return getattr(sys, "get_int_max_str_digits", lambda: 0)() or 10**9


def bounded_int(text: str) -> int:
    """``int(text)`` for ``json.loads(..., parse_int=bounded_int)``: an integer longer
    than ``int()`` reads is a ``ValueError`` saying so (the caller adds the file or
    setting), instead of int()'s own message naming neither."""
    digits = len(text.lstrip("+-"))
    if digits > max_int_digits():
        raise ValueError(f"an integer of {digits} digits (at most {max_int_digits()})")
    return int(text)


def long_integer_at(text: str) -> str | None:
    """Where ``text`` holds a run of digits longer than ``int()`` reads, as "line L,
    column C: an integer of N digits (at most M)" (1-based), else None: for the
    readers (TOML, CSV) that fail on one with int()'s message naming no place."""
    limit = max_int_digits()
    m = re.compile(rf"[0-9](?:_?[0-9]){{{limit},}}").search(text)  # TOML allows 1_000
    if m is None:
        return None
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    digits = len(m.group().replace("_", ""))
    return f"line {line}, column {col}: an integer of {digits} digits (at most {limit})"


def pair(v, layer: str, name: str) -> tuple[int, int]:
    """(a, b) from an int (a = b) or a pair of ints; ValueError naming ``layer``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{layer}: {name} must be an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def as_input(layer, x, dtype=None, like=None):
    """``x`` as an array in ``dtype`` (no copy when it already is one). Arrays of another
    array module (CuPy) stay in it; anything else goes through ``np.asarray``. With
    ``like`` (one of the layer's weights), ``x`` must be on its device: ``ValueError``
    naming the layer and both devices otherwise."""
    if not isinstance(x, np.ndarray) and backend_name(x) == "numpy":
        try:
            x = np.asarray(x)
        except Exception as exc:  # noqa: BLE001 - re-raised with the layer's name
            raise TypeError(f"{layer._label()}: input is not array-like: {exc}") from exc
    if like is not None and not (type(x) is np.ndarray and type(like) is np.ndarray):
        check_same_device(layer, x, like)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{layer._label()}: expected a numeric array, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    elif dtype is None and x.dtype.kind != "f":
        x = x.astype(get_default_dtype())
    return x


def check_backward(layer, dy, expected_shape: tuple[int, ...] | None, dtype=None):
    """dy as an array of the shape of the last forward's output; in ``dtype`` when given,
    else in a float dtype (an integer dy becomes floating)."""
    if expected_shape is None:
        raise RuntimeError(f"{layer._label()}: backward called before forward")
    if not isinstance(dy, np.ndarray) and backend_name(dy) == "numpy":
        dy = np.asarray(dy)
    if dy.shape != tuple(expected_shape):
        raise ValueError(
            f"{layer._label()}: backward expected dy of shape {tuple(expected_shape)} "
            f"(the forward output), got {dy.shape}"
        )
    if dtype is not None:
        return dy.astype(dtype, copy=False)
    if dy.dtype.kind != "f":
        return dy.astype(np.result_type(dy.dtype, np.float32))
    return dy


_REQUIRED = object()


def config_int(who: str, config: dict, key: str, default=_REQUIRED, minimum: int = 1) -> int:
    """``config[key]`` (a layer's constructor argument read from a spec) as an int of at
    least ``minimum``; bools, floats and strings are refused, not rounded."""
    if key not in config:
        if default is _REQUIRED:
            raise ValueError(f"{who}: config lacks {key!r}")
        return default
    v = config[key]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"{who}: {key} must be an integer, got {type(v).__name__} {v!r:.40}")
    if v < minimum:
        raise ValueError(f"{who}: {key} must be >= {minimum}, got {v}")
    return int(v)


def config_pair(who: str, config: dict, key: str, default=_REQUIRED) -> tuple[int, int]:
    """An int or a list of two ints (``kernel_size``), each >= 1."""
    v = config.get(key, default)
    if v is _REQUIRED:
        raise ValueError(f"{who}: config lacks {key!r}")
    items = v if isinstance(v, (list, tuple)) else [v]
    if len(items) not in (1, 2):
        raise ValueError(f"{who}: {key} must be an int or a pair, got {v!r:.40}")
    a, b = (config_int(who, {key: item}, key) for item in (items * 2)[:2])
    return a, b


def config_bool(who: str, config: dict, key: str, default: bool) -> bool:
    """``config[key]`` as a bool (true/false in JSON), ``default`` when absent."""
    v = config.get(key, default)
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{who}: {key} must be true or false, got {v!r:.40}")
    return bool(v)
