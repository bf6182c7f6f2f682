"""Max and average pooling over kh x kw windows with stride (sh, sw), no padding.

Non-overlapping windows (stride == kernel) take a fast reshape path; any other
stride gathers windows through a strided view. Rows and columns that do not fill
a whole window are dropped, as in PyTorch (floor mode).
"""

from __future__ import annotations

import numpy as np

from ..core.checks import as_input, check_backward
from ..core.functional import out_size, windows
from ..core.module import Module, register
from .conv import _pair


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(
                f"{type(self).__name__}: kernel and stride must be positive, got "
                f"kernel={kernel_size}, stride={stride}"
            )
        self._clear_cache()

    def _clear_cache(self):
        self._in_shape = None
        self._out_shape = None
        self._cache = None

    def _check(self, x):
        x = as_input(self, x)
        if x.ndim != 4:
            raise ValueError(f"{self._label()}: expected (N, C, H, W), got {tuple(x.shape)}")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        oh, ow = out_size(x.shape[2], kh, sh, 0, 0), out_size(x.shape[3], kw, sw, 0, 0)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"{self._label()}: input {x.shape[2]}x{x.shape[3]} is smaller than the "
                f"{kh}x{kw} window"
            )
        self._in_shape = x.shape
        self._out_shape = x.shape[:2] + (oh, ow)
        return x, oh, ow

    @property
    def _tiled(self) -> bool:
        return self.kernel_size == self.stride

    def output_shape(self, in_shape):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return tuple(in_shape[:2]) + (
            out_size(in_shape[2], kh, sh, 0, 0),
            out_size(in_shape[3], kw, sw, 0, 0),
        )

    def config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}

    def _label(self):
        k, s = self.kernel_size, self.stride
        return f"{type(self).__name__}({k[0]}x{k[1]}, stride {s[0]}x{s[1]})"


@register
class MaxPool2d(_Pool2d):
    """y[n,c,p,q] = max over the window;  dx routes dy to the argmax of each window.

    Ties send the whole gradient to the first maximum in row-major order (as PyTorch).
    """

    def forward(self, x):
        x, oh, ow = self._check(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        n, c = x.shape[:2]
        if self._tiled:
            xr = x[:, :, : oh * kh, : ow * kw].reshape(n, c, oh, kh, ow, kw)
            flat = xr.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
            idx = flat.argmax(axis=-1)
            y = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
        else:
            flat = windows(x, kh, kw, sh, sw, oh, ow).reshape(n, c, kh * kw, oh, ow)
            idx = flat.argmax(axis=2)
            y = np.take_along_axis(flat, idx[:, :, None], axis=2)[:, :, 0]
        self._cache = idx.astype(np.uint8 if kh * kw <= 255 else np.int32)
        return y

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        n, c, oh, ow = self._out_shape
        idx = self._cache
        dx = np.zeros(self._in_shape, dtype=dy.dtype)
        if self._tiled:
            dflat = np.zeros((n, c, oh, ow, kh * kw), dtype=dy.dtype)
            np.put_along_axis(dflat, idx[..., None].astype(np.intp), dy[..., None], axis=-1)
            dx[:, :, : oh * kh, : ow * kw] = (
                dflat.reshape(n, c, oh, ow, kh, kw)
                .transpose(0, 1, 2, 4, 3, 5)
                .reshape(n, c, oh * kh, ow * kw)
            )
        else:
            for t in range(kh * kw):
                i, j = divmod(t, kw)
                dx[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += (
                    np.where(idx == t, dy, 0)
                )
        return dx


@register
class AvgPool2d(_Pool2d):
    """y[n,c,p,q] = mean over the window;  dx gets dy / (kh·kw) at every window position."""

    def forward(self, x):
        x, oh, ow = self._check(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        n, c = x.shape[:2]
        if self._tiled:
            xr = x[:, :, : oh * kh, : ow * kw].reshape(n, c, oh, kh, ow, kw)
            return xr.mean(axis=(3, 5))
        return windows(x, kh, kw, sh, sw, oh, ow).mean(axis=(2, 3))

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        n, c, oh, ow = self._out_shape
        g = dy / (kh * kw)
        dx = np.zeros(self._in_shape, dtype=dy.dtype)
        if self._tiled:
            tile = np.broadcast_to(g[:, :, :, None, :, None], (n, c, oh, kh, ow, kw))
            dx[:, :, : oh * kh, : ow * kw] = tile.reshape(n, c, oh * kh, ow * kw)
        else:
            for i in range(kh):
                for j in range(kw):
                    dx[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += g
        return dx


@register
class GlobalAvgPool2d(Module):
    """(N, C, H, W) → (N, C): the mean of each channel;  dx = dy / (H·W) everywhere."""

    def __init__(self):
        super().__init__()
        self._in_shape = None

    def forward(self, x):
        x = as_input(self, x)
        if x.ndim != 4:
            raise ValueError(f"{self._label()}: expected (N, C, H, W), got {tuple(x.shape)}")
        self._in_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dy):
        shape = None if self._in_shape is None else self._in_shape[:2]
        dy = check_backward(self, dy, shape)
        h, w = self._in_shape[2:]
        return np.broadcast_to((dy / (h * w))[:, :, None, None], self._in_shape).copy()
