"""Max and average pooling over kh x kw windows with stride (sh, sw), no padding.

The window at output (p, q) covers x[..., p·sh : p·sh + kh, q·sw : q·sw + kw]; rows and
columns that do not fill a whole window are dropped (PyTorch's floor mode). Each
function loops over the kh·kw offsets (i, j) of a window, taking one strided slice of
x per offset: x[..., i + p·sh, j + q·sw] for every (p, q) at once.
"""

from __future__ import annotations

from ..core.backend import array_module
from .conv import out_size


def _offset(a, i: int, j: int, sh: int, sw: int, oh: int, ow: int):
    """a[..., i + p·sh, j + q·sw] for p < oh, q < ow: the offset (i, j) of every window."""
    return a[..., i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]


def maxpool2d_forward(x, kernel, stride):
    r"""$y_{n,c,p,q}$ = max over the window; the cache keeps $t = i k_w + j$ of the winner.

    The first maximum in row-major order wins a tie; a NaN wins over numbers, and the
    last NaN of a window wins over earlier ones (PyTorch's rule).
    """
    xp = array_module(x)
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = out_size(x.shape[2], kh, sh, 0, 0), out_size(x.shape[3], kw, sw, 0, 0)
    y = _offset(x, 0, 0, sh, sw, oh, ow).copy()
    arg = xp.zeros(y.shape, dtype=xp.int64)
    for t in range(1, kh * kw):
        v = _offset(x, t // kw, t % kw, sh, sw, oh, ow)
        wins = (v > y) | xp.isnan(v)
        y = xp.where(wins, v, y)
        arg = xp.where(wins, t, arg)
    return y, (arg, x.shape, kernel, stride)


def maxpool2d_backward(dy, cache):
    r"""dx = dy routed to the winner of each window:
    $dx[\text{window offset } t] \mathrel{+}= dy \cdot [\mathrm{arg} = t]$."""
    arg, x_shape, (kh, kw), (sh, sw) = cache
    oh, ow = dy.shape[2:]
    dx = array_module(dy).zeros(x_shape, dtype=dy.dtype)
    for t in range(kh * kw):
        _offset(dx, t // kw, t % kw, sh, sw, oh, ow)[...] += dy * (arg == t)
    return dx


def avgpool2d_forward(x, kernel, stride):
    r"""$y_{n,c,p,q} = \frac{1}{k_h k_w} \sum_{i,j} x_{n,\, c,\, p s_h + i,\, q s_w + j}$."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = out_size(x.shape[2], kh, sh, 0, 0), out_size(x.shape[3], kw, sw, 0, 0)
    total = _offset(x, 0, 0, sh, sw, oh, ow).copy()
    for t in range(1, kh * kw):
        total += _offset(x, t // kw, t % kw, sh, sw, oh, ow)
    return total / (kh * kw), (x.shape, kernel, stride)


def avgpool2d_backward(dy, cache):
    r"""$dx_{n,\, c,\, p s_h + i,\, q s_w + j} \mathrel{+}= dy_{n,c,p,q} / (k_h k_w)$ for every
    offset (i, j)."""
    x_shape, (kh, kw), (sh, sw) = cache
    oh, ow = dy.shape[2:]
    dx = array_module(dy).zeros(x_shape, dtype=dy.dtype)
    share = dy / (kh * kw)
    for t in range(kh * kw):
        _offset(dx, t // kw, t % kw, sh, sw, oh, ow)[...] += share
    return dx


def global_avgpool2d_forward(x):
    r"""(N, C, H, W) → (N, C):  $y_{n,c} = \frac{1}{H W} \sum_{h,w} x_{n,c,h,w}$."""
    return x.mean(axis=(2, 3)), x.shape


def global_avgpool2d_backward(dy, x_shape):
    r"""$dx_{n,c,h,w} = dy_{n,c} / (H W)$ everywhere."""
    h, w = x_shape[2:]
    xp = array_module(dy)
    return xp.broadcast_to((dy / (h * w))[:, :, None, None], x_shape).copy()
