"""2-D convolution on a GPU: im2col and col2im as element-wise CUDA kernels (one thread
per column entry, one per input pixel), the products on cuBLAS.

The same numbers as ``reference.conv`` (same column layout, same order of the sums):
    cols[(c, i, j), (n, p, q)] = x[n, c, p·sh + i - top, q·sw + j - left]  (0 outside x)
    y[n, o, p, q] = (W₂ cols)[o, (n, p, q)] + b[o]
    dW = dy₂ colsᵀ,  db = Σ dy₂,  dx[n, c, y, x] = Σ_{i,j: windows covering it} dcols
The padded copy of x is never built: the kernels read outside x as zeros, and col2im
writes only the pixels of x, which is the reference's crop of the padded gradient.
"""

from __future__ import annotations

import functools
import sys


def out_size(size: int, k: int, s: int, lo: int, hi: int) -> int:
    """Output length of a window sweep: floor((size + lo + hi - k) / s) + 1."""
    return (size + lo + hi - k) // s + 1


_IM2COL = """
    long long t = i;
    const int q = t % ow; t /= ow;
    const int p = t % oh; t /= oh;
    const long long b = t % n; t /= n;
    const int j = t % kw; t /= kw;
    const int r = t % kh;
    const long long c = t / kh;
    const int y = p * sh + r - top;
    const int x = q * sw + j - left;
    col = (y >= 0 && y < h && x >= 0 && x < w) ? img[((b * ch + c) * h + y) * w + x] : (T)0;
"""

_COL2IM = """
    long long t = i;
    const int x = t % w; t /= w;
    const int y = t % h; t /= h;
    const long long c = t % ch;
    const long long b = t / ch;
    T val = 0;
    for (int r = 0; r < kh; ++r) {
        const int yy = y + top - r;
        if (yy < 0 || yy % sh != 0 || yy / sh >= oh) continue;
        const int p = yy / sh;
        for (int j = 0; j < kw; ++j) {
            const int xx = x + left - j;
            if (xx < 0 || xx % sw != 0 || xx / sw >= ow) continue;
            const int q = xx / sw;
            val += col[((((c * kh + r) * kw + j) * n + b) * oh + p) * ow + q];
        }
    }
    img = val;
"""

_LAYOUT = """
    const long long pq = i % hw;
    const long long t = i / hw;
    const long long o = t % co;
    const long long b = t / co;
    T v = y2[(o * n + b) * hw + pq];
    if (has_bias) { v += bias[o]; }
    y = v;
"""

_SCALARS = (
    "int32 n, int32 ch, int32 h, int32 w, int32 oh, int32 ow, int32 kh, int32 kw, "
    "int32 sh, int32 sw, int32 top, int32 left"
)


@functools.cache
def _kernels():
    cupy = sys.modules["cupy"]
    return (
        cupy.ElementwiseKernel(f"raw T img, {_SCALARS}", "T col", _IM2COL, "barenet_im2col"),
        cupy.ElementwiseKernel(f"raw T col, {_SCALARS}", "T img", _COL2IM, "barenet_col2im"),
        cupy.ElementwiseKernel(
            "raw T y2, raw T bias, int32 n, int32 co, int64 hw, bool has_bias",
            "T y",
            _LAYOUT,
            "barenet_conv_layout",
        ),
    )


def im2col(x, kh: int, kw: int, stride, padding, oh: int, ow: int):
    """cols (C·kh·kw, N·OH·OW) of x (N, C, H, W), the padding read as zeros."""
    cupy = sys.modules["cupy"]
    (sh, sw), (pt, _, pl, _) = stride, padding
    n, c, h, w = x.shape
    cols = cupy.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    _kernels()[0](cupy.ascontiguousarray(x), n, c, h, w, oh, ow, kh, kw, sh, sw, pt, pl, cols)
    return cols


def col2im(dcols, x_shape, kh: int, kw: int, stride, padding, oh: int, ow: int):
    """dx (N, C, H, W): every column entry added onto the pixel of x it came from."""
    cupy = sys.modules["cupy"]
    (sh, sw), (pt, _, pl, _) = stride, padding
    n, c, h, w = x_shape
    dx = cupy.empty(x_shape, dtype=dcols.dtype)
    _kernels()[1](cupy.ascontiguousarray(dcols), n, c, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dx)
    return dx


def conv2d_forward(x, w, b, stride, padding):
    """y = W ⋆ x + b (see ``reference.conv.conv2d_forward``); returns y (N, O, OH, OW)
    and the cache for conv2d_backward."""
    cupy = sys.modules["cupy"]
    o, _, kh, kw = w.shape
    (sh, sw), (pt, pb, pl, pr) = stride, padding
    n, _, h, wd = x.shape
    oh, ow = out_size(h, kh, sh, pt, pb), out_size(wd, kw, sw, pl, pr)
    cols = im2col(x, kh, kw, stride, padding, oh, ow)
    y2 = w.reshape(o, -1) @ cols
    y = cupy.empty((n, o, oh, ow), dtype=x.dtype)
    bias = b if b is not None else y2  # not read without a bias
    _kernels()[2](y2, bias, n, o, oh * ow, b is not None, y)
    return y, (cols, x.shape, w, b is not None, stride, padding)


def conv2d_backward(dy, cache, need_dx: bool = True):
    """dW = dy₂ colsᵀ,  db = Σ dy₂,  dx = col2im(W₂ᵀ dy₂); (dx or None, dW, db or None)."""
    cols, x_shape, w, has_bias, stride, padding = cache
    n, o, oh, ow = dy.shape
    kh, kw = w.shape[2:]
    dy2 = dy.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
    dw = (dy2 @ cols.T).reshape(w.shape)
    db = dy2.sum(axis=1) if has_bias else None
    if not need_dx:
        return None, dw, db
    dx = col2im(w.reshape(o, -1).T @ dy2, x_shape, kh, kw, stride, padding, oh, ow)
    return dx, dw, db
