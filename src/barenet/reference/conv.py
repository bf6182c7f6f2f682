"""2-D convolution by im2col and one matrix product (the textbook way).

Shapes: x (N, C, H, W), weight W (O, C, kh, kw), stride (sh, sw), zero padding
(top, bottom, left, right); the output is (N, O, OH, OW) with
OH = (H + top + bottom - kh) // sh + 1 and OW likewise.
"""

from __future__ import annotations

from ..core.backend import array_module


def out_size(size: int, k: int, s: int, lo: int, hi: int) -> int:
    r"""Output length of a window sweep: $\lfloor (\mathit{size} + lo + hi - k) / s \rfloor + 1$."""
    return (size + lo + hi - k) // s + 1


def pad2d(x, padding):
    """x (N, C, H, W) with zeros added around its last two axes: padding =
    (top, bottom, left, right)."""
    pt, pb, pl, pr = padding
    return array_module(x).pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))


def im2col(x_pad, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int):
    r"""Every receptive field of x_pad (N, C, Hp, Wp) as a column:

    $$\mathrm{cols}_{(c, i, j),\,(n, p, q)} = x^\mathrm{pad}_{n,\, c,\, p s_h + i,\, q s_w + j}
    \qquad (C k_h k_w,\ N\, OH\, OW)$$

    one strided slice per kernel offset (i, j).
    """
    xp = array_module(x_pad)
    n, c = x_pad.shape[:2]
    cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x_pad.dtype)
    for i in range(kh):
        for j in range(kw):
            window = x_pad[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im(dcols, x_pad_shape, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int):
    r"""The adjoint of im2col: each column added back onto the pixels it came from,

    $$dx^\mathrm{pad}_{n,\, c,\, p s_h + i,\, q s_w + j} \mathrel{+}=
    d\mathrm{cols}_{(c, i, j),\,(n, p, q)}$$

    (windows overlap when the stride is below the kernel: their shares must add up).
    """
    xp = array_module(dcols)
    n, c = x_pad_shape[:2]
    dx_pad = xp.zeros(x_pad_shape, dtype=dcols.dtype)
    d = dcols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        for j in range(kw):
            window = dx_pad[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            window += d[:, i, j].transpose(1, 0, 2, 3)
    return dx_pad


def conv2d_forward(x, w, b, stride, padding):
    r"""$y = W \star x + b$ as a matrix product:  $y_2 = W_2\, \mathrm{cols} + b$,

    $\mathrm{cols} = \text{im2col}(\mathrm{pad}(x))$ (C·kh·kw, N·OH·OW),
    $W_2$ = W as (O, C·kh·kw),  $y_2$ (O, N·OH·OW).
    b may be None. Returns y (N, O, OH, OW) and the cache for conv2d_backward.
    """
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


def conv2d_backward(dy, cache, need_dx: bool = True):
    r"""$dW = dy_2\, \mathrm{cols}^\top$,  $db = \sum_{n,p,q} dy$,
    $dx = \mathrm{unpad}(\text{col2im}(W_2^\top dy_2))$   ($dy_2$: (O, N·OH·OW)).

    Returns (dx, dW, db): dx is None when not ``need_dx``, db None without a bias.
    """
    cols, x_pad_shape, w, has_bias, (sh, sw), (pt, pb, pl, pr) = cache
    n, o, oh, ow = dy.shape
    kh, kw = w.shape[2:]
    dy2 = dy.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
    dw = (dy2 @ cols.T).reshape(w.shape)
    db = dy2.sum(axis=1) if has_bias else None
    if not need_dx:
        return None, dw, db
    dx_pad = col2im(w.reshape(o, -1).T @ dy2, x_pad_shape, kh, kw, sh, sw, oh, ow)
    hp, wp = x_pad_shape[2:]
    return dx_pad[:, :, pt : hp - pb, pl : wp - pr], dw, db
