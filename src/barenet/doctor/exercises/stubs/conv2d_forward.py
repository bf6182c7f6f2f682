# barenet exercise: conv2d-forward
"""Exercise: the forward of a 2-D convolution, by im2col and one matrix product.

x (N, C, H, W), weight W (O, C, kh, kw), bias b (O,) or None, stride (sh, sw), zero
padding (top, bottom, left, right). The output y is (N, O, OH, OW) with

    OH = (H + top + bottom - kh) // sh + 1,   OW likewise,
    y[n, o, p, q] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x_pad[n, c, p·sh + i, q·sw + j].

im2col lays out every receptive field as a column,

    cols[(c, i, j), (n, p, q)] = x_pad[n, c, p·sh + i, q·sw + j]     (C·kh·kw, N·OH·OW),

so that y₂ = W₂ cols + b with W₂ = W as (O, C·kh·kw) and y₂ = y as (O, N·OH·OW).
One strided slice of x_pad per kernel offset (i, j) fills a whole row block of cols.

The backward is given (barenet's conv2d_backward): it expects the cache
(cols, x_pad.shape, W, b is not None, stride, padding).

Fill in the two functions below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.im2col, conv2d_forward.
"""

import numpy as np

from barenet.reference import conv2d_backward, out_size, pad2d  # given


def im2col(x_pad, kh, kw, sh, sw, oh, ow):
    """x_pad (N, C, Hp, Wp) -> cols (C·kh·kw, N·OH·OW), as in the docstring above."""
    raise NotImplementedError("im2col: one strided slice of x_pad per kernel offset (i, j)")


def conv2d_forward(x, w, b, stride, padding):
    """x (N, C, H, W), w (O, C, kh, kw), b (O,) or None, stride (sh, sw), padding
    (top, bottom, left, right) -> (y (N, O, OH, OW), cache for conv2d_backward).

    pad2d(x, padding) pads, out_size(H, kh, sh, top, bottom) gives OH."""
    raise NotImplementedError("conv2d_forward: pad, im2col, one matrix product, reshape")
