"""Max and average pooling over kh x kw windows with stride (sh, sw), no padding.

Max pooling runs over kh*kw strided views, one per window offset (a running max
and the index of the winner), for any stride; average pooling of non-overlapping
windows (stride == kernel) takes a reshape path. Rows and columns that do not fill
a whole window are dropped, as in PyTorch (floor mode).
"""

from __future__ import annotations

import numpy as np

from ..core.checks import as_input, check_backward
from ..core.functional import (
    LAYOUTS,
    cnhw_empty,
    in_layout,
    is_cnhw,
    out_size,
    view_in,
    windows,
)
from ..core.module import Module, register
from ..core.parallel import chunked, scratch
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


_LUTS: dict[int, np.ndarray] = {}
# NumPy's loops pay about 12 ns per row of a strided view (measured: the maximum of two
# interleaved halves with rows of 32 numbers takes 404 µs, of contiguous ones 108); rows of
# numbers shorter than this are first copied into contiguous halves (a copy pays half as
# much per row), a piece of at most _PIECE_BYTES per half at a time.
_LONG_ROW = 128
_PIECE_BYTES = 1 << 18


def _pairwise(pairs: np.ndarray, r0: int, r1: int, second_wins: np.ndarray, out: np.ndarray):
    """For pairs (R, 2, L) and rows r0..r1-1: second_wins = [second > first] and out =
    max(first, second) (NaN propagates), both (R, L) arrays."""
    length = pairs.shape[2]
    if length >= _LONG_ROW:
        first, second = pairs[r0:r1, 0], pairs[r0:r1, 1]
        np.greater(second, first, out=second_wins[r0:r1])
        np.maximum(first, second, out=out[r0:r1])
        return
    step = max(1, _PIECE_BYTES // (length * pairs.itemsize))
    for p0 in range(r0, r1, step):
        p1 = min(r1, p0 + step)
        halves = scratch("pool_halves", (2, p1 - p0, length), pairs.dtype)
        np.copyto(halves[0], pairs[p0:p1, 0])
        np.copyto(halves[1], pairs[p0:p1, 1])
        np.greater(halves[1], halves[0], out=second_wins[p0:p1])
        np.maximum(halves[0], halves[1], out=out[p0:p1])


def _unpairwise(g: np.ndarray, second_wins: np.ndarray, pairs: np.ndarray, r0: int, r1: int):
    """The adjoint of _pairwise's max for rows r0..r1-1: pairs[:, 1] = g · second_wins and
    pairs[:, 0] = g - pairs[:, 1] (the loser's share is g minus the winner's: exactly 0 or
    g for finite g); g and second_wins are (R, L), pairs (R, 2, L). Written in place, as
    strided rows: copying contiguous halves into them measured slower."""
    np.multiply(g[r0:r1], second_wins[r0:r1], out=pairs[r0:r1, 1])
    np.subtract(g[r0:r1], pairs[r0:r1, 1], out=pairs[r0:r1, 0])


def _first_max(views: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Index t of the first view equal to y, element-wise (uint8).

    Up to 16 views: the equalities are packed as bits (view t → bit K-1-t) and a table
    maps each bit pattern to its highest set bit, i.e. the first maximum. Beyond that,
    masked copies in descending order.
    """
    k = len(views)
    if k > 16:
        idx = np.zeros_like(y, dtype=np.uint8 if k <= 255 else np.int32)
        for t in range(k - 1, -1, -1):
            np.copyto(idx, t, where=np.equal(views[t], y))
        return idx
    lut = _LUTS.get(k)
    if lut is None:
        codes = np.arange(2**k)
        lut = np.zeros(2**k, dtype=np.uint8)
        for b in range(k):
            lut[codes >= (1 << b)] = k - 1 - b
        lut = _LUTS[k] = lut
    ct = np.uint8 if k <= 8 else np.uint16
    code = np.equal(views[0], y).astype(ct)
    code <<= ct(k - 1)
    for t in range(1, k):
        bit = np.equal(views[t], y).view(np.uint8).astype(ct, copy=ct is not np.uint8)
        if t < k - 1:
            bit <<= ct(k - 1 - t)
        code |= bit
    return lut[code]  # fancy indexing keeps the memory order of code


@register
class MaxPool2d(_Pool2d):
    """y[n,c,p,q] = max over the window;  dx routes dy to the argmax of each window.

    Ties send the whole gradient to the first maximum in row-major order (as PyTorch).
    """

    def forward(self, x):
        x, oh, ow = self._check(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if (kh, kw) == (sh, sw) == (2, 2) and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0:
            out = self._forward_2x2(x)
            if out is not None:
                return out
        # y and idx in x's memory order ((C, N, H, W) after a Conv2d), split over threads
        # along the outer axis of that order.
        shape, it = self._out_shape, np.uint8 if kh * kw <= 255 else np.int32
        ax = 1 if is_cnhw(x) else 0
        make = cnhw_empty if ax else (lambda sh_, dt: np.empty(sh_, dtype=dt))
        y, idx = make(shape, x.dtype), make(shape, it)

        def run(lo, hi):  # images (or channels) lo..hi-1: their windows are disjoint from others'
            sl = (slice(None),) * ax + (slice(lo, hi),)
            xs, ys = x[sl], y[sl]
            # One strided view per window offset t = i*kw + j: y is their running maximum
            # (np.maximum propagates NaN, as PyTorch does) and idx the first offset holding it.
            views = [
                xs[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
                for i in range(kh)
                for j in range(kw)
            ]
            np.copyto(ys, views[0])
            for v in views[1:]:
                np.maximum(ys, v, out=ys)
            ids = idx[sl]
            ids[...] = _first_max(views, ys)
            nan = np.isnan(ys)
            if nan.any():  # the gradient goes to the window's last NaN (as PyTorch's kernel)
                flipped = np.stack([np.isnan(v) for v in views[::-1]], axis=-1).argmax(axis=-1)
                np.copyto(ids, (kh * kw - 1 - flipped).astype(ids.dtype), where=nan)

        chunked(run, x.shape[ax], x.nbytes)
        self._cache = idx
        return y

    # -- 2x2, stride 2: two stages of pairs, so every op runs over long rows ----------------
    # Views of one window element each (x[:, :, i::2, j::2]) make NumPy loop over rows of
    # OW elements, which costs more than the arithmetic when OW is small. In memory order
    # the image is B blocks of H x W pixels of E numbers each: B = N·C planes and E = 1
    # for (N, C, H, W) or (C, N, H, W) memory, B = N and E = C for (N, H, W, C). The
    # columns of each window pair up as the two halves of x.reshape(-1, 2, E), a flat
    # loop; then the rows as the halves of (B·OH, 2, OW·E).
    #   jc = [right > left] per window row,  ib = [bottom max > top max] per window:
    #   y = the larger row max;  first max (row-major) t = 2·ib + jc[row ib].

    def _forward_2x2(self, x):
        order = _memory_order(x)
        if order is None:
            return None
        xm, layout = order
        n, c, h, w = x.shape
        b, e = (n, c) if layout == "nhwc" else (n * c, 1)
        oh, ow = h // 2, w // 2
        y = np.empty((b * oh, ow * e), dtype=x.dtype)
        jc = np.empty((b * h * ow, e), dtype=bool)
        ib = np.empty((b * oh, ow * e), dtype=bool)
        pairs = xm.reshape(b * h * ow, 2, e)
        rowmax = np.empty((b * h * ow, e), dtype=x.dtype)

        def run(lo, hi):  # blocks lo..hi-1
            _pairwise(pairs, lo * h * ow, hi * h * ow, jc, rowmax)
            _pairwise(rowmax.reshape(-1, 2, ow * e), lo * oh, hi * oh, ib, y)

        chunked(run, b, x.nbytes)
        if np.isnan(y).any():  # NaN windows follow the general path's rule
            return None
        self._cache = ("2x2", jc, ib, layout)
        return view_in(y, layout, (n, c, oh, ow))

    def _backward_2x2(self, dy):
        _, jc, ib, layout = self._cache
        n, c, oh, ow = self._out_shape
        h = 2 * oh
        b, e = (n, c) if layout == "nhwc" else (n * c, 1)
        dym = _to_memory(dy, layout).reshape(b * oh, ow * e)
        rowgrad = np.empty((b * oh, 2, ow * e), dtype=dy.dtype)  # dy sent to the winning row
        dxm = np.empty((b * h * ow, 2, e), dtype=dy.dtype)

        def run(lo, hi):  # blocks lo..hi-1: dy to the winning row, then its winning column
            _unpairwise(dym, ib, rowgrad, lo * oh, hi * oh)
            _unpairwise(rowgrad.reshape(-1, e), jc, dxm, lo * h * ow, hi * h * ow)

        chunked(run, b, dxm.nbytes)
        return view_in(dxm, layout, self._in_shape)

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        if isinstance(self._cache, tuple):
            return self._backward_2x2(dy)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        n, c, oh, ow = self._out_shape
        idx = self._cache
        h, w = self._in_shape[2:]
        disjoint = sh >= kh and sw >= kw
        covered = disjoint and sh == kh and sw == kw and oh * kh == h and ow * kw == w
        cnhw = is_cnhw(idx)
        if cnhw != is_cnhw(dy):  # element-wise work is fastest with one memory order
            dy = (
                np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
                if cnhw
                else (np.ascontiguousarray(dy))
            )
        if cnhw:
            dx = cnhw_empty(self._in_shape, dy.dtype, zero=not covered)
        else:
            dx = (np.empty if covered else np.zeros)(self._in_shape, dtype=dy.dtype)
        ax = 1 if cnhw else 0

        def run(lo, hi):  # images (or channels) lo..hi-1, split over threads
            sl = (slice(None),) * ax + (slice(lo, hi),)
            dxs, dys, ids = dx[sl], dy[sl], idx[sl]
            for t in range(kh * kw):
                i, j = divmod(t, kw)
                view = dxs[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
                if disjoint:  # every input pixel belongs to at most one window
                    np.multiply(dys, ids == t, out=view)
                else:
                    view += dys * (ids == t)

        chunked(run, dx.shape[ax], dx.nbytes)
        return dx


def _memory_order(x):
    """(x's memory as a C-contiguous array, its layout "cnhw", "nchw" or "nhwc"), or None
    when x is laid out none of these ways."""
    for layout in ("cnhw", "nchw", "nhwc"):  # a Conv2d's orders first
        if in_layout(x, layout):
            return x.transpose(LAYOUTS[layout]), layout
    return None


def _to_memory(a, layout: str) -> np.ndarray:
    """The (N, C, H, W) array ``a`` as a C-contiguous array in ``layout``'s axis order
    (a copy only when ``a`` is laid out otherwise)."""
    return np.ascontiguousarray(a.transpose(LAYOUTS[layout]))


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

    def output_shape(self, in_shape):
        return tuple(in_shape[:2]) if len(in_shape) == 4 else None

    def backward(self, dy):
        shape = None if self._in_shape is None else self._in_shape[:2]
        dy = check_backward(self, dy, shape)
        h, w = self._in_shape[2:]
        return np.broadcast_to((dy / (h * w))[:, :, None, None], self._in_shape).copy()
