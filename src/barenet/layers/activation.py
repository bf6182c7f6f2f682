"""Element-wise activations and Softmax. None has parameters; each caches what
its derivative needs and never writes into the dy it is handed."""

from __future__ import annotations

import numpy as np

from ..core.checks import as_input, check_backward
from ..core.module import Module, register
from ..core.parallel import chunked, dense_flat, map_into, maximum_const


class _Elementwise(Module):
    def __init__(self):
        super().__init__()
        self._cache = None
        self._out_shape = None

    def _clear_cache(self):
        self._cache = None

    def _in(self, x):
        x = as_input(self, x)
        self._out_shape = x.shape
        return x

    def _dy(self, dy):
        return check_backward(self, dy, self._out_shape)

    def output_shape(self, in_shape):
        return tuple(in_shape)


def _mask(cache: np.ndarray) -> np.ndarray:
    """[x > 0] from what a ReLU's forward kept: the mask itself, or x (eval mode)."""
    return cache if cache.dtype == bool else np.greater(cache, 0)


@register
class ReLU(_Elementwise):
    """y = max(x, 0);  dx = dy · [x > 0]."""

    def forward(self, x):
        x = self._in(x)
        if x.ndim == 0:
            self._cache = np.greater(x, 0)
            return np.maximum(x, x.dtype.type(0))
        y = np.empty_like(x)  # empty_like keeps x's memory order
        if not self.training:  # no mask to keep: a backward in eval mode derives it from x
            self._cache = x
            return maximum_const(x, 0, y)
        mask = np.empty_like(x, dtype=bool)
        zero = x.dtype.type(0)
        flat = dense_flat(y, x, mask)
        if flat is None:  # x not dense in memory (a strided view): plain ufuncs
            np.greater(x, zero, out=mask)
            np.maximum(x, zero, out=y)
        else:
            yf, xf, mf = flat

            def run(lo, hi):
                np.greater(xf[lo:hi], zero, out=mf[lo:hi])
                maximum_const(xf[lo:hi], zero, yf[lo:hi])

            chunked(run, yf.size, y.nbytes)
        self._cache = mask
        return y

    def backward(self, dy):
        dy = self._dy(dy)
        if dy.dtype.kind != "f":
            dy = dy.astype(np.result_type(dy.dtype, np.float32))
        mask = _mask(self._cache)
        if dy.ndim == 0:
            return np.multiply(dy, mask)
        # The mask as 0/1 numbers in its own memory order (x's), then times dy: faster
        # than a bool factor, which NumPy casts element by element inside the multiply.
        dx = mask.astype(dy.dtype)
        map_into(np.multiply, dx, dx, dy)
        return dx


@register
class LeakyReLU(_Elementwise):
    """y = x if x > 0 else a·x;  dx = dy if x > 0 else a·dy."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        x = self._in(x)
        # the mask, or in eval mode x itself (a backward then derives the mask)
        self._cache = np.greater(x, 0) if self.training else x
        a = x.dtype.type(self.negative_slope)
        y = np.multiply(x, a)
        if 0 <= self.negative_slope <= 1:  # then max(x, a·x) is the same function
            return np.maximum(x, y, out=y)
        return np.where(_mask(self._cache), x, y)

    def backward(self, dy):
        dy = self._dy(dy)
        dt = dy.dtype if dy.dtype.kind == "f" else np.result_type(dy.dtype, np.float32)
        a = dt.type(self.negative_slope)
        mask = _mask(self._cache)
        if 0 <= self.negative_slope <= 1:  # max([x > 0], a): exactly 1 where x > 0, else a
            scale = mask.astype(dt)
            maximum_const(scale, a, scale)
        else:
            scale = np.where(mask, dt.type(1), a)
        return np.multiply(scale, dy, out=scale)

    def config(self):
        return {"negative_slope": self.negative_slope}


@register
class Sigmoid(_Elementwise):
    """y = 1 / (1 + e⁻ˣ) = (1 + tanh(x/2)) / 2  (no overflow);  dx = dy · y (1 - y)."""

    def forward(self, x):
        x = self._in(x)
        y = np.tanh(x * x.dtype.type(0.5))
        y += 1
        y *= 0.5
        self._cache = y
        return y

    def backward(self, dy):
        y = self._cache
        return self._dy(dy) * (y * (1 - y))


@register
class Tanh(_Elementwise):
    """y = tanh x;  dx = dy · (1 - y²)."""

    def forward(self, x):
        y = np.tanh(self._in(x))
        self._cache = y
        return y

    def backward(self, dy):
        y = self._cache
        return self._dy(dy) * (1 - y * y)


@register
class Softmax(_Elementwise):
    """y = exp(x - max x) / Σ exp(x - max x) along ``axis`` (default 1, the classes);

    dx = y ⊙ (dy - Σ dy ⊙ y). For training, use SoftmaxCrossEntropy on logits.
    """

    def __init__(self, axis: int = 1):
        super().__init__()
        self.axis = int(axis)

    def forward(self, x):
        x = as_input(self, x)
        if x.ndim < 1 or not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self._label()}: axis {self.axis} out of range for {x.shape}")
        x = self._in(x)  # only now record the shape: a rejected call changes nothing
        z = x - x.max(axis=self.axis, keepdims=True)
        e = np.exp(z)
        y = e / e.sum(axis=self.axis, keepdims=True)
        self._cache = y
        return y

    def backward(self, dy):
        y = self._cache
        dy = self._dy(dy)
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))

    def config(self):
        return {"axis": self.axis}
