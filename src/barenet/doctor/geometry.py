"""The window geometry of a convolution or pooling layer: which input pixels several
windows share (where a col2im must add, not assign) and which windows reach into the
zero padding (the border).

Read from a layer's attributes (``kernel_size``, ``stride``, ``padding``; barenet's own
layers also keep ``_pad`` as (top, bottom, left, right)) or from a function's keyword
arguments (``kernel``/``kernel_size``, ``stride``, ``padding``), the kernel otherwise from
a 4-D weight (O, C, kh, kw). A layer that says nothing of windows has no geometry, and
the doctor falls back on what the Jacobian shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Geometry", "geometry_of"]


def _pair(v) -> tuple[int, int] | None:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    if (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and all(isinstance(a, (int, np.integer)) for a in v)
    ):
        return int(v[0]), int(v[1])
    return None


def _sides(v, kernel: tuple[int, int]) -> tuple[int, int, int, int] | None:
    if v is None or v == "valid":
        return (0, 0, 0, 0)
    if v == "same":
        kh, kw = kernel
        return ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)
    if isinstance(v, (tuple, list)) and len(v) == 4:
        return tuple(int(a) for a in v)
    p = _pair(v)
    return None if p is None else (p[0], p[0], p[1], p[1])


@dataclass(frozen=True)
class Geometry:
    """kh x kw windows with stride (sh, sw) over an input padded by (top, bottom, left,
    right) zeros."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)

    def _axis(self, size: int, k: int, s: int, lo: int, hi: int):
        n_out = (size + lo + hi - k) // s + 1
        cover = np.zeros(size, dtype=np.int64)
        edge = np.zeros(size, dtype=bool)
        for p in range(max(n_out, 0)):
            start = p * s - lo
            a, b = max(start, 0), min(start + k, size)
            cover[a:b] += 1
            if start < 0 or start + k > size:
                edge[a:b] = True
        return cover, edge

    def coverage(self, h: int, w: int) -> np.ndarray:
        """(h, w): how many windows cover each input pixel."""
        (kh, kw), (sh, sw), (pt, pb, pl, pr) = self.kernel, self.stride, self.padding
        ch, _ = self._axis(h, kh, sh, pt, pb)
        cw, _ = self._axis(w, kw, sw, pl, pr)
        return ch[:, None] * cw[None, :]

    def border(self, h: int, w: int) -> np.ndarray:
        """(h, w): the pixels covered by a window that reaches into the padding."""
        (kh, kw), (sh, sw), (pt, pb, pl, pr) = self.kernel, self.stride, self.padding
        _, eh = self._axis(h, kh, sh, pt, pb)
        _, ew = self._axis(w, kw, sw, pl, pr)
        return eh[:, None] | ew[None, :]

    @property
    def padded(self) -> bool:
        return any(self.padding)

    def __str__(self) -> str:
        (kh, kw), (sh, sw) = self.kernel, self.stride
        pad = f", padding {self.padding}" if self.padded else ""
        return f"{kh}x{kw} windows, stride {sh}x{sw}{pad}"


def geometry_of(layer=None, kwargs: dict | None = None, arrays: dict | None = None):
    """The Geometry of a layer or of a function's keyword arguments, or None."""
    kwargs = kwargs or {}
    arrays = arrays or {}
    weight4 = next((a for k, a in arrays.items() if k != "input" and np.ndim(a) == 4), None)
    if layer is not None:
        attrs = getattr(layer, "__dict__", {})
        kernel = _pair(attrs.get("kernel_size"))
        stride = attrs.get("stride")
        pad = attrs.get("_pad", attrs.get("padding"))
    else:
        kernel = _pair(kwargs.get("kernel", kwargs.get("kernel_size")))
        stride, pad = kwargs.get("stride"), kwargs.get("padding")
    if kernel is None and weight4 is not None:
        kernel = tuple(int(s) for s in np.shape(weight4)[2:])
    if kernel is None:
        return None
    stride = _pair(stride) or ((1, 1) if weight4 is not None else kernel)
    sides = _sides(pad, kernel)
    if sides is None or min(stride) < 1 or min(kernel) < 1:
        return None
    return Geometry(kernel, stride, sides)
