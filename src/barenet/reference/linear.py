"""The fully connected layer: one matrix product."""

from __future__ import annotations


def linear_forward(x, w, b):
    r"""$y = x W^\top + b$ for x (..., in), W (out, in), b (out,) or None; y (..., out)."""
    y = x @ w.T
    if b is not None:
        y += b
    return y, (x, w, b is not None)


def linear_backward(dy, cache, need_dx: bool = True):
    r"""$dx = dy\, W$,  $dW = dy^\top x$,  $db = \sum_n dy$  (over every leading axis of dy).

    Returns (dx, dW, db): dx is None when not ``need_dx``, db None without a bias.
    """
    x, w, has_bias = cache
    dy2, x2 = dy.reshape(-1, w.shape[0]), x.reshape(-1, w.shape[1])
    dw = dy2.T @ x2
    db = dy2.sum(axis=0) if has_bias else None
    return (dy @ w if need_dx else None), dw, db
