# barenet exercise: avgpool-backward
"""Exercise: the backward of average pooling.

The forward below is written for you:

    y[n, c, p, q] = (1 / kh·kw) Σ_{i,j} x[n, c, p·sh + i, q·sw + j].

Every pixel of a window gets the same share of its output's gradient:

    dx[n, c, p·sh + i, q·sw + j] += dy[n, c, p, q] / (kh·kw)    for every offset (i, j).

Where windows overlap the shares ADD UP; pixels in no window (the dropped last rows and
columns) get 0.

Fill in the function below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.avgpool2d_backward.
"""

import numpy as np


def _offset(a, i, j, sh, sw, oh, ow):
    """a[..., i + p·sh, j + q·sw] for every output (p, q): offset (i, j) of every window."""
    return a[..., i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]


def avgpool2d_forward(x, kernel, stride):
    """Given. x (N, C, H, W), kernel (kh, kw), stride (sh, sw) -> (y (N, C, OH, OW), cache)
    with cache = (x.shape, kernel, stride)."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    total = _offset(x, 0, 0, sh, sw, oh, ow).copy()
    for t in range(1, kh * kw):
        total += _offset(x, t // kw, t % kw, sh, sw, oh, ow)
    return total / (kh * kw), (x.shape, kernel, stride)


def avgpool2d_backward(dy, cache):
    """dy (N, C, OH, OW) and the forward's cache -> dx (N, C, H, W)."""
    raise NotImplementedError("avgpool2d_backward: spread dy / (kh·kw) over each window")
