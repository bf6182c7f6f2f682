"""ReLU and LeakyReLU, fast: max against a constant row, mask and output in one pass.

Same numbers as ``barenet.reference.activation``. The work is split over threads when
big, each output keeps its input's memory order (a Conv2d's), and in eval mode no mask
is built: the cache is x itself, from which a backward (a saliency map, say) derives it.
"""

from __future__ import annotations

import numpy as np

from .parallel import chunked, dense_flat, map_into

# NumPy (2.x) runs maximum(x, scalar) without SIMD, several times slower than maximum(x, y)
# of two arrays; so a scalar bound is read as a row of CONST_ROW copies (64 KB of float32,
# held in cache) broadcast over rows of x's memory. Shorter rows lose much of the gain.
CONST_ROW = 16384
_const_rows: dict[tuple[float, str], np.ndarray] = {}


def _const_row(value, dtype) -> np.ndarray:
    key = (float(value), np.dtype(dtype).str)
    row = _const_rows.get(key)
    if row is None:
        if len(_const_rows) >= 64:  # a few values in practice (0, a slope): never grows
            _const_rows.clear()
        row = np.full(CONST_ROW, value, dtype=dtype)
        row.flags.writeable = False
        _const_rows[key] = row
    return row


def _maximum_rows(x: np.ndarray, row: np.ndarray, out: np.ndarray) -> None:
    """out = max(x, row[0]) for 1-D x and out, a row at a time."""
    n, k = x.size, row.size
    full = n - n % k
    if full:
        np.maximum(x[:full].reshape(-1, k), row, out=out[:full].reshape(-1, k))
    if full < n:
        np.maximum(x[full:], row[: n - full], out=out[full:])


def maximum_const(x: np.ndarray, value, out: np.ndarray) -> np.ndarray:
    """out = max(x, value) element-wise (NaN propagates, as in np.maximum), split over
    threads when big. x and out share a shape; returns out."""
    # up to a row's worth, the plain call costs less than the row's set-up
    flat = dense_flat(out, x) if out.size > CONST_ROW else None
    if flat is None or x.dtype != out.dtype:
        np.maximum(x, out.dtype.type(value), out=out)
        return out
    of, xf = flat
    row = _const_row(value, out.dtype)
    chunked(lambda lo, hi: _maximum_rows(xf[lo:hi], row, of[lo:hi]), of.size, of.nbytes)
    return out


def _mask(cache: np.ndarray) -> np.ndarray:
    """[x > 0] from what a forward kept: the mask itself, or x (eval mode)."""
    return cache if cache.dtype == bool else np.greater(cache, 0)


def relu_forward(x: np.ndarray):
    """y = max(x, 0); the cache is the mask [x > 0]."""
    if x.ndim == 0:
        return np.maximum(x, x.dtype.type(0)), np.greater(x, 0)
    y = np.empty_like(x)  # empty_like keeps x's memory order
    mask = np.empty_like(x, dtype=bool)
    zero = x.dtype.type(0)
    flat = dense_flat(y, x, mask)
    if flat is None:  # x not dense in memory (a strided view): plain ufuncs
        np.greater(x, zero, out=mask)
        np.maximum(x, zero, out=y)
    else:
        yf, xf, mf = flat

        def run(lo, hi):
            np.greater(xf[lo:hi], zero, out=mf[lo:hi])
            maximum_const(xf[lo:hi], zero, yf[lo:hi])

        chunked(run, yf.size, y.nbytes)
    return y, mask


def relu_forward_eval(x: np.ndarray):
    """y = max(x, 0) without a mask; the cache is x."""
    if x.ndim == 0:
        return relu_forward(x)
    return maximum_const(x, 0, np.empty_like(x)), x


def relu_backward(dy: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dy · [x > 0]."""
    mask = _mask(cache)
    if dy.ndim == 0:
        return np.multiply(dy, mask)
    # The mask as 0/1 numbers in its own memory order (x's), then times dy: faster
    # than a bool factor, which NumPy casts element by element inside the multiply.
    dx = mask.astype(dy.dtype)
    map_into(np.multiply, dx, dx, dy)
    return dx


def _leaky(x: np.ndarray, slope: float, cache):
    a = x.dtype.type(slope)
    y = np.multiply(x, a)
    if 0 <= slope <= 1:  # then max(x, a·x) is the same function
        return np.maximum(x, y, out=y), (cache, slope)
    return np.where(_mask(cache), x, y), (cache, slope)


def leaky_relu_forward(x: np.ndarray, slope: float):
    """y = x where x > 0, else a·x; the cache holds the mask [x > 0] and a."""
    return _leaky(x, slope, np.greater(x, 0))


def leaky_relu_forward_eval(x: np.ndarray, slope: float):
    """The same y without a mask; the cache holds x and a."""
    return _leaky(x, slope, x)


def leaky_relu_backward(dy: np.ndarray, cache) -> np.ndarray:
    """dx = dy where x > 0, else a·dy."""
    kept, slope = cache
    dt = dy.dtype
    a = dt.type(slope)
    mask = _mask(kept)
    if 0 <= slope <= 1:  # max([x > 0], a): exactly 1 where x > 0, else a
        scale = mask.astype(dt)
        maximum_const(scale, a, scale)
    else:
        scale = np.where(mask, dt.type(1), a)
    return np.multiply(scale, dy, out=scale)
