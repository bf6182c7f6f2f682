"""Input checks shared by the layers: errors name the layer and both shapes."""

from __future__ import annotations

import numpy as np


def as_input(layer, x, dtype=None) -> np.ndarray:
    """``x`` as an ndarray in ``dtype`` (no copy when it already is one)."""
    if not isinstance(x, np.ndarray):
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


def expect_shape(layer, x: np.ndarray, ndim: int, fixed: dict[int, int], pattern: str) -> None:
    """Raise ValueError unless x has ``ndim`` axes and ``x.shape[i] == fixed[i]``."""
    ok = x.ndim == ndim and all(x.shape[i] == n for i, n in fixed.items())
    if not ok:
        raise ValueError(f"{layer._label()}: expected {pattern}, got {tuple(x.shape)}")


def check_backward(layer, dy, expected_shape: tuple[int, ...] | None) -> np.ndarray:
    """dy must match the shape of the last forward's output."""
    if expected_shape is None:
        raise RuntimeError(f"{layer._label()}: backward called before forward")
    dy = np.asarray(dy)
    if dy.shape != tuple(expected_shape):
        raise ValueError(
            f"{layer._label()}: backward expected dy of shape {tuple(expected_shape)} "
            f"(the forward output), got {dy.shape}"
        )
    return dy
