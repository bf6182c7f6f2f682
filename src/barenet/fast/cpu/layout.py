"""Memory orders of (N, C, H, W) activations.

The fast kernels hand on an activation in whatever memory order produced it cheapest
(a convolution's GEMM writes (C, N, H, W) or (N, H, W, C) memory) as an (N, C, H, W)
view: a transpose of axes, never a copy. The next kernel asks which order it got.
"""

from __future__ import annotations

import math

import numpy as np

# The axes of (N, C, H, W) in the order they are laid out in memory.
LAYOUTS = {"nchw": (0, 1, 2, 3), "cnhw": (1, 0, 2, 3), "nhwc": (0, 2, 3, 1)}


def view_in(buf: np.ndarray, layout: str, shape: tuple[int, ...]) -> np.ndarray:
    """The (N, C, H, W) view of ``shape`` of the contiguous ``buf``, whose memory is in
    ``layout``'s axis order."""
    axes = LAYOUTS[layout]
    return buf.reshape([shape[a] for a in axes]).transpose(np.argsort(axes))


def empty_in(layout: str, shape: tuple[int, ...], dtype, zero: bool = False) -> np.ndarray:
    """An (N, C, H, W) array of ``shape`` whose memory is ordered as ``layout`` says."""
    make = np.zeros if zero else np.empty
    return view_in(make(math.prod(shape), dtype=dtype), layout, shape)


def in_layout(a: np.ndarray, layout: str) -> bool:
    """True when the (N, C, H, W) array ``a`` is a transpose of a C-contiguous array in
    ``layout``'s axis order."""
    return a.ndim == 4 and a.transpose(LAYOUTS[layout]).flags.c_contiguous


def memory_order(x: np.ndarray):
    """(x's memory as a C-contiguous array, its layout "cnhw", "nchw" or "nhwc"), or None
    when x is laid out none of these ways."""
    for layout in ("cnhw", "nchw", "nhwc"):  # a Conv2d's orders first
        if in_layout(x, layout):
            return x.transpose(LAYOUTS[layout]), layout
    return None


def to_memory(a: np.ndarray, layout: str) -> np.ndarray:
    """The (N, C, H, W) array ``a`` as a C-contiguous array in ``layout``'s axis order
    (a copy only when ``a`` is laid out otherwise)."""
    return np.ascontiguousarray(a.transpose(LAYOUTS[layout]))
