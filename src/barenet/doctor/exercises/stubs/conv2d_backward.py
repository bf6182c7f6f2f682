# barenet exercise: conv2d-backward
"""Exercise: the backward of a 2-D convolution: col2im and the three gradients.

The forward below is written for you: y₂ = W₂ cols + b, with
cols = im2col(pad(x)) (C·kh·kw, N·OH·OW), W₂ = W as (O, C·kh·kw) and y₂ = y as
(O, N·OH·OW). From dy (N, O, OH, OW), as dy₂ (O, N·OH·OW):

    dW = dy₂ colsᵀ  (then as (O, C, kh, kw)),      db = Σ_{n,p,q} dy,
    dcols = W₂ᵀ dy₂,   dx = unpad(col2im(dcols)).

col2im is the adjoint of im2col: each column goes back onto the pixels it came from,

    dx_pad[n, c, p·sh + i, q·sw + j] += dcols[(c, i, j), (n, p, q)].

Where windows overlap (a stride below the kernel size) a pixel belongs to several
columns, and their shares must ADD UP: an assignment keeps only one of them.

Fill in the two functions below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.col2im, conv2d_backward.
"""

import numpy as np

from barenet.reference import im2col, out_size, pad2d  # given


def conv2d_forward(x, w, b, stride, padding):
    """Given. x (N, C, H, W), w (O, C, kh, kw), b (O,) or None, stride (sh, sw), padding
    (top, bottom, left, right) -> (y (N, O, OH, OW), cache)."""
    o, _, kh, kw = w.shape
    (sh, sw), (pt, pb, pl, pr) = stride, padding
    n, _, h, wd = x.shape
    oh, ow = out_size(h, kh, sh, pt, pb), out_size(wd, kw, sw, pl, pr)
    x_pad = pad2d(x, padding)
    cols = im2col(x_pad, kh, kw, sh, sw, oh, ow)
    y2 = w.reshape(o, -1) @ cols
    if b is not None:
        y2 += b[:, None]
    y = y2.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
    return y, (cols, x_pad.shape, w, b is not None, stride, padding)


def col2im(dcols, x_pad_shape, kh, kw, sh, sw, oh, ow):
    """dcols (C·kh·kw, N·OH·OW) -> dx_pad of shape x_pad_shape (N, C, Hp, Wp):
    dx_pad[n, c, p·sh + i, q·sw + j] += dcols[(c, i, j), (n, p, q)]."""
    raise NotImplementedError("col2im: add every column back onto the pixels it came from")


def conv2d_backward(dy, cache):
    """dy (N, O, OH, OW) and the forward's cache -> (dx (N, C, H, W), dW (O, C, kh, kw),
    db (O,) or None when the forward had no bias)."""
    raise NotImplementedError("conv2d_backward: dW = dy₂ colsᵀ, db = Σ dy, dx by col2im")
