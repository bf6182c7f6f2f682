"""Input checks shared by the layers: errors name the layer and both shapes."""

from __future__ import annotations

import numpy as np

from .backend import backend_name


def pair(v, layer: str, name: str) -> tuple[int, int]:
    """(a, b) from an int (a = b) or a pair of ints; ValueError naming ``layer``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{layer}: {name} must be an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def as_input(layer, x, dtype=None):
    """``x`` as an array in ``dtype`` (no copy when it already is one). Arrays of another
    array module (CuPy) stay in it; anything else goes through ``np.asarray``."""
    if not isinstance(x, np.ndarray) and backend_name(x) == "numpy":
        try:
            x = np.asarray(x)
        except Exception as exc:  # noqa: BLE001 - re-raised with the layer's name
            raise TypeError(f"{layer._label()}: input is not array-like: {exc}") from exc
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{layer._label()}: expected a numeric array, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    elif dtype is None and x.dtype.kind != "f":
        from .config import get_default_dtype

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
