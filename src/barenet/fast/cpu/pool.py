"""Max and average pooling, fast: threads over images, pairwise 2x2 max, tiled averages.

Same numbers as ``barenet.reference.pool``:

- MaxPool2d in general: one strided view per window offset (a running maximum), the
  winner's offset found for all offsets at once by packing the equalities as bits,
  split over threads along x's outermost axis in memory; y keeps x's memory order.
- MaxPool2d 2x2 / stride 2 on even sizes: two stages of pairs over long rows (see
  ``_forward_2x2``), in whichever of the three memory orders x comes.
- AvgPool2d with stride == kernel: a reshape and one mean.
"""

from __future__ import annotations

import numpy as np

from .columns import windows
from .layout import empty_in, in_layout, memory_order, to_memory, view_in
from .parallel import chunked, scratch
from .tuning import settings


def _sizes(x_shape, kernel, stride) -> tuple[int, int]:
    (kh, kw), (sh, sw) = kernel, stride
    return (x_shape[2] - kh) // sh + 1, (x_shape[3] - kw) // sw + 1


_LUTS: dict[int, np.ndarray] = {}
# NumPy's loops pay a fixed cost per row of a strided view, more than a copy pays per row:
# rows of fewer numbers than this are first copied into contiguous halves, a piece of
# settings.pool_piece_bytes per half at a time.
LONG_ROW = 128


def _pairwise(pairs: np.ndarray, r0: int, r1: int, second_wins: np.ndarray, out: np.ndarray):
    """For pairs (R, 2, L) and rows r0..r1-1: second_wins = [second > first] and out =
    max(first, second) (NaN propagates), both (R, L) arrays."""
    length = pairs.shape[2]
    if length >= LONG_ROW:
        first, second = pairs[r0:r1, 0], pairs[r0:r1, 1]
        np.greater(second, first, out=second_wins[r0:r1])
        np.maximum(first, second, out=out[r0:r1])
        return
    step = max(1, settings.pool_piece_bytes // (length * pairs.itemsize))
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
    strided rows (copying contiguous halves into them is slower)."""
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


class MaxPoolCache:
    """What a fast max-pool backward needs: the winners, as offsets t = i·kw + j
    (``arg``, general path) or as the two stages' choices (``jc``, ``ib``, 2x2 path)."""

    __slots__ = ("arg", "jc", "ib", "layout", "in_shape", "out_shape", "kernel", "stride")

    def __init__(self, in_shape, out_shape, kernel, stride, arg=None, jc=None, ib=None, layout=""):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.arg, self.jc, self.ib, self.layout = arg, jc, ib, layout


def maxpool2d_forward(x: np.ndarray, kernel, stride):
    """y = the maximum of each window (see ``reference.pool.maxpool2d_forward``);
    returns (y, MaxPoolCache)."""
    (kh, kw), (sh, sw) = kernel, stride
    if (
        settings.maxpool_2x2
        and (kh, kw) == (sh, sw) == (2, 2)
        and x.shape[2] % 2 == 0
        and x.shape[3] % 2 == 0
    ):
        out = _forward_2x2(x)
        if out is not None:
            return out
    oh, ow = _sizes(x.shape, kernel, stride)
    # y and arg in x's memory order ((C, N, H, W) after a Conv2d), split over threads
    # along the outer axis of that order.
    shape, it = x.shape[:2] + (oh, ow), np.uint8 if kh * kw <= 255 else np.int32
    ax = 1 if in_layout(x, "cnhw") else 0
    make = (lambda s, dt: empty_in("cnhw", s, dt)) if ax else (lambda s, dt: np.empty(s, dt))
    y, arg = make(shape, x.dtype), make(shape, it)

    def run(lo, hi):  # images (or channels) lo..hi-1: their windows are disjoint from others'
        sl = (slice(None),) * ax + (slice(lo, hi),)
        xs, ys = x[sl], y[sl]
        # One strided view per window offset t = i*kw + j: y is their running maximum
        # (np.maximum propagates NaN, as PyTorch does) and arg the first offset holding it.
        views = [
            xs[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            for i in range(kh)
            for j in range(kw)
        ]
        np.copyto(ys, views[0])
        for v in views[1:]:
            np.maximum(ys, v, out=ys)
        args = arg[sl]
        args[...] = _first_max(views, ys)
        nan = np.isnan(ys)
        if nan.any():  # the gradient goes to the window's last NaN (as PyTorch's kernel)
            flipped = np.stack([np.isnan(v) for v in views[::-1]], axis=-1).argmax(axis=-1)
            np.copyto(args, (kh * kw - 1 - flipped).astype(args.dtype), where=nan)

    chunked(run, x.shape[ax], x.nbytes)
    return y, MaxPoolCache(x.shape, shape, kernel, stride, arg=arg)


# -- 2x2, stride 2: two stages of pairs, so every op runs over long rows ----------------------
# Views of one window element each (x[:, :, i::2, j::2]) make NumPy loop over rows of
# OW elements, which costs more than the arithmetic when OW is small. In memory order
# the image is B blocks of H x W pixels of E numbers each: B = N·C planes and E = 1
# for (N, C, H, W) or (C, N, H, W) memory, B = N and E = C for (N, H, W, C). The
# columns of each window pair up as the two halves of x.reshape(-1, 2, E), a flat
# loop; then the rows as the halves of (B·OH, 2, OW·E).
#   jc = [right > left] per window row,  ib = [bottom max > top max] per window:
#   y = the larger row max;  first max (row-major) t = 2·ib + jc[row ib].


def _forward_2x2(x: np.ndarray):
    """(y, cache) of a 2x2 / stride 2 max-pool of x (even H and W), or None when x is in
    none of the three memory orders or a window holds NaN (the general path's rule)."""
    order = memory_order(x)
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
    if np.isnan(y).any():
        return None
    cache = MaxPoolCache(x.shape, (n, c, oh, ow), (2, 2), (2, 2), jc=jc, ib=ib, layout=layout)
    return view_in(y, layout, (n, c, oh, ow)), cache


def _backward_2x2(dy: np.ndarray, cache: MaxPoolCache) -> np.ndarray:
    jc, ib, layout = cache.jc, cache.ib, cache.layout
    n, c, oh, ow = cache.out_shape
    h = 2 * oh
    b, e = (n, c) if layout == "nhwc" else (n * c, 1)
    dym = to_memory(dy, layout).reshape(b * oh, ow * e)
    rowgrad = np.empty((b * oh, 2, ow * e), dtype=dy.dtype)  # dy sent to the winning row
    dxm = np.empty((b * h * ow, 2, e), dtype=dy.dtype)

    def run(lo, hi):  # blocks lo..hi-1: dy to the winning row, then its winning column
        _unpairwise(dym, ib, rowgrad, lo * oh, hi * oh)
        _unpairwise(rowgrad.reshape(-1, e), jc, dxm, lo * h * ow, hi * h * ow)

    chunked(run, b, dxm.nbytes)
    return view_in(dxm, layout, cache.in_shape)


def maxpool2d_backward(dy: np.ndarray, cache: MaxPoolCache) -> np.ndarray:
    """dx = dy routed to the winner of each window."""
    if cache.arg is None:
        return _backward_2x2(dy, cache)
    (kh, kw), (sh, sw) = cache.kernel, cache.stride
    n, c, oh, ow = cache.out_shape
    arg = cache.arg
    h, w = cache.in_shape[2:]
    disjoint = sh >= kh and sw >= kw
    covered = disjoint and sh == kh and sw == kw and oh * kh == h and ow * kw == w
    cnhw = in_layout(arg, "cnhw")
    if cnhw != in_layout(dy, "cnhw"):  # element-wise work is fastest with one memory order
        dy = (
            np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
            if cnhw
            else (np.ascontiguousarray(dy))
        )
    if cnhw:
        dx = empty_in("cnhw", cache.in_shape, dy.dtype, zero=not covered)
    else:
        dx = (np.empty if covered else np.zeros)(cache.in_shape, dtype=dy.dtype)
    ax = 1 if cnhw else 0

    def run(lo, hi):  # images (or channels) lo..hi-1, split over threads
        sl = (slice(None),) * ax + (slice(lo, hi),)
        dxs, dys, args = dx[sl], dy[sl], arg[sl]
        for t in range(kh * kw):
            i, j = divmod(t, kw)
            view = dxs[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            if disjoint:  # every input pixel belongs to at most one window
                np.multiply(dys, args == t, out=view)
            else:
                view += dys * (args == t)

    chunked(run, dx.shape[ax], dx.nbytes)
    return dx


def avgpool2d_forward(x: np.ndarray, kernel, stride):
    """y = the mean of each window; non-overlapping windows (stride == kernel) by one
    reshape, others by the strided windows. Returns (y, cache)."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = _sizes(x.shape, kernel, stride)
    n, c = x.shape[:2]
    cache = (x.shape, tuple(kernel), tuple(stride))
    if (kh, kw) == (sh, sw):
        xr = x[:, :, : oh * kh, : ow * kw].reshape(n, c, oh, kh, ow, kw)
        return xr.mean(axis=(3, 5)), cache
    return windows(x, kh, kw, sh, sw, oh, ow).mean(axis=(2, 3)), cache


def avgpool2d_backward(dy: np.ndarray, cache) -> np.ndarray:
    """dx gets dy / (kh·kw) at every position of each window."""
    x_shape, (kh, kw), (sh, sw) = cache
    n, c, oh, ow = dy.shape
    g = dy / (kh * kw)
    dx = np.zeros(x_shape, dtype=dy.dtype)
    if (kh, kw) == (sh, sw):
        tile = np.broadcast_to(g[:, :, :, None, :, None], (n, c, oh, kh, ow, kw))
        dx[:, :, : oh * kh, : ow * kw] = tile.reshape(n, c, oh * kh, ow * kw)
    else:
        for i in range(kh):
            for j in range(kw):
                dx[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += g
    return dx
