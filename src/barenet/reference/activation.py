"""Element-wise activations and softmax. Each forward returns (y, cache), each backward
dx from dy and that cache; none writes into the array it is handed."""

from __future__ import annotations

from ..core.backend import array_module


def relu_forward(x):
    r"""$y = \max(x, 0)$; the cache is the mask $[x > 0]$."""
    return array_module(x).maximum(x, x.dtype.type(0)), x > 0


def relu_backward(dy, mask):
    r"""$dx = dy \cdot [x > 0]$."""
    return dy * mask


def leaky_relu_forward(x, slope: float):
    r"""$y = x$ where $x > 0$, else $a x$ ($a$ = slope)."""
    mask = x > 0
    return array_module(x).where(mask, x, x * x.dtype.type(slope)), (mask, slope)


def leaky_relu_backward(dy, cache):
    r"""$dx = dy$ where $x > 0$, else $a\, dy$."""
    mask, slope = cache
    return dy * array_module(dy).where(mask, dy.dtype.type(1), dy.dtype.type(slope))


def sigmoid_forward(x):
    r"""$y = 1 / (1 + e^{-x})$, computed as $(1 + \tanh(x/2)) / 2$, which never overflows."""
    y = (1 + array_module(x).tanh(x * x.dtype.type(0.5))) * x.dtype.type(0.5)
    return y, y


def sigmoid_backward(dy, y):
    r"""$dx = dy \cdot y (1 - y)$."""
    return dy * (y * (1 - y))


def tanh_forward(x):
    r"""$y = \tanh x$."""
    y = array_module(x).tanh(x)
    return y, y


def tanh_backward(dy, y):
    r"""$dx = dy \cdot (1 - y^2)$."""
    return dy * (1 - y * y)


def softmax_forward(x, axis: int):
    r"""$y = e^{x - \max x} / \sum e^{x - \max x}$ along ``axis`` (the shift avoids
    overflow)."""
    e = array_module(x).exp(x - x.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)
    return y, (y, axis)


def softmax_backward(dy, cache):
    r"""$dx = y \odot (dy - \sum_\mathrm{axis} dy \odot y)$."""
    y, axis = cache
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))
