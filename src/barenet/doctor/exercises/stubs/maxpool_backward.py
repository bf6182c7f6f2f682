# barenet exercise: maxpool-backward
"""Exercise: the backward of max pooling.

The forward below is written for you: y[n, c, p, q] is the maximum of the window
x[n, c, p·sh : p·sh + kh, q·sw : q·sw + kw]; it keeps, for every output, t = i·kw + j,
the offset of the winner within its window. Rows and columns that do not fill a whole
window are dropped.

The backward routes each dy[n, c, p, q] to its window's winner:

    dx[n, c, p·sh + i, q·sw + j] += dy[n, c, p, q]    where t = i·kw + j is the winner.

When windows overlap (stride below the window), one pixel can win two windows: its
shares must ADD UP.

Fill in the function below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.maxpool2d_backward.
"""

import numpy as np


def _offset(a, i, j, sh, sw, oh, ow):
    """a[..., i + p·sh, j + q·sw] for every output (p, q): offset (i, j) of every window."""
    return a[..., i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]


def maxpool2d_forward(x, kernel, stride):
    """Given. x (N, C, H, W), kernel (kh, kw), stride (sh, sw) -> (y (N, C, OH, OW), cache)
    with cache = (arg, x.shape, kernel, stride), arg (N, C, OH, OW) the winners' offsets t."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    y = _offset(x, 0, 0, sh, sw, oh, ow).copy()
    arg = np.zeros(y.shape, dtype=np.int64)
    for t in range(1, kh * kw):
        v = _offset(x, t // kw, t % kw, sh, sw, oh, ow)
        wins = v > y
        y = np.where(wins, v, y)
        arg = np.where(wins, t, arg)
    return y, (arg, x.shape, kernel, stride)


def maxpool2d_backward(dy, cache):
    """dy (N, C, OH, OW) and the forward's cache -> dx (N, C, H, W)."""
    raise NotImplementedError("maxpool2d_backward: route each dy to its window's winner")
