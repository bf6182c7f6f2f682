"""A convolution written by hand with the most common backward slip: a col2im that
assigns (=) where overlapping windows must add (+=). Ask the layer doctor what is wrong:

    barenet check examples/wrong_col2im.py:MyConv2d --input-shape 2,3,9,9 \\
        --args '{"in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}'

It says ``missing-accumulation`` for the input's gradient and names the pixels that two
windows share (with 3x3 windows at stride 2: the odd rows and columns of the 9x9 map).
"""

import numpy as np

import barenet as bn
from barenet import reference as R


def col2im(dcols, x_pad_shape, kh, kw, sh, sw, oh, ow):
    """dcols (C·kh·kw, N·OH·OW) back onto the padded input (N, C, Hp, Wp)."""
    n, c = x_pad_shape[:2]
    dx_pad = np.zeros(x_pad_shape)
    d = dcols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + sh * (oh - 1) + 1, sh)
            cols = slice(j, j + sw * (ow - 1) + 1, sw)
            dx_pad[:, :, rows, cols] = d[:, i, j].transpose(1, 0, 2, 3)  # the slip: = for +=
    return dx_pad


class MyConv2d(bn.Conv2d):
    """barenet's Conv2d with its forward on im2col and a backward written by hand."""

    def forward(self, x):
        y, self._c = R.conv2d_forward(x, self.weight.data, self.bias.data, self.stride, self._pad)
        return y

    def backward(self, dy):
        cols, x_pad_shape, w, _, (sh, sw), (pt, pb, pl, pr) = self._c
        n, o, oh, ow = dy.shape
        kh, kw = w.shape[2:]
        dy2 = dy.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
        self.weight.grad += (dy2 @ cols.T).reshape(w.shape)
        self.bias.grad += dy2.sum(axis=1)
        dx_pad = col2im(w.reshape(o, -1).T @ dy2, x_pad_shape, kh, kw, sh, sw, oh, ow)
        hp, wp = x_pad_shape[2:]
        return dx_pad[:, :, pt : hp - pb, pl : wp - pr]
