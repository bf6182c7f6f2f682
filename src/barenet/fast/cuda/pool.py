"""Max-pooling on a GPU: one thread per output finds its window's winner and keeps its
offset; the backward routes dy through those offsets, one thread per input pixel.

The same rule as ``reference.pool``: windows (kh, kw) at stride (sh, sw), floor mode;
the first maximum in row-major order wins a tie, a NaN beats numbers and the last NaN
of a window wins. The cache holds t = i·kw + j of each winner (int32).
"""

from __future__ import annotations

import functools
import sys

from .conv import out_size

_FORWARD = """
    long long t = i;
    const int q = t % ow; t /= ow;
    const int p = t % oh;
    const long long plane = t / oh;
    const T* base = &x[(plane * h + p * sh) * w + q * sw];
    T best = base[0];
    int arg = 0;
    for (int k = 1; k < kh * kw; ++k) {
        const T v = base[(k / kw) * w + k % kw];
        if (v > best || isnan(v)) { best = v; arg = k; }
    }
    y = best;
    winner = arg;
"""

_BACKWARD = """
    long long t = i;
    const int xx = t % w; t /= w;
    const int yy = t % h;
    const long long plane = t / h;
    T val = 0;
    for (int r = 0; r < kh; ++r) {
        const int py = yy - r;
        if (py < 0 || py % sh != 0 || py / sh >= oh) continue;
        for (int j = 0; j < kw; ++j) {
            const int px = xx - j;
            if (px < 0 || px % sw != 0 || px / sw >= ow) continue;
            const long long o = (plane * oh + py / sh) * ow + px / sw;
            if (winner[o] == r * kw + j) val += dy[o];
        }
    }
    dx = val;
"""

_SCALARS = "int32 h, int32 w, int32 oh, int32 ow, int32 kh, int32 kw, int32 sh, int32 sw"


@functools.cache
def _kernels():
    cupy = sys.modules["cupy"]
    return (
        cupy.ElementwiseKernel(
            f"raw T x, {_SCALARS}", "T y, int32 winner", _FORWARD, "barenet_maxpool_fwd"
        ),
        cupy.ElementwiseKernel(
            f"raw T dy, raw int32 winner, {_SCALARS}", "T dx", _BACKWARD, "barenet_maxpool_bwd"
        ),
    )


def maxpool2d_forward(x, kernel, stride):
    """y[n, c, p, q] = max over the window, and the winner's offset for the backward."""
    cupy = sys.modules["cupy"]
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, w = x.shape
    oh, ow = out_size(h, kh, sh, 0, 0), out_size(w, kw, sw, 0, 0)
    y = cupy.empty((n, c, oh, ow), dtype=x.dtype)
    winner = cupy.empty((n, c, oh, ow), dtype=cupy.int32)
    _kernels()[0](cupy.ascontiguousarray(x), h, w, oh, ow, kh, kw, sh, sw, y, winner)
    return y, (winner, x.shape, kernel, stride)


def maxpool2d_backward(dy, cache):
    """dx = dy routed to the winner of each window (summed where windows overlap)."""
    cupy = sys.modules["cupy"]
    winner, x_shape, (kh, kw), (sh, sw) = cache
    _, _, h, w = x_shape
    oh, ow = dy.shape[2:]
    dx = cupy.empty(x_shape, dtype=dy.dtype)
    _kernels()[1](cupy.ascontiguousarray(dy), winner, h, w, oh, ow, kh, kw, sh, sw, dx)
    return dx
