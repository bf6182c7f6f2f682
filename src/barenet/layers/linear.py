"""Fully connected layer and Flatten."""

from __future__ import annotations

import math

import numpy as np

from .. import init
from ..core.checks import as_input, check_backward, config_bool, config_int
from ..core.config import get_default_dtype
from ..core.memory import check_parameters_fit
from ..core.module import Module, Parameter, register


@register
class Linear(Module):
    """y = x Wᵀ + b,   x: (N, in) or (..., in),  W: (out, in),  b: (out,).

    Backward:  dx = dy W,   dW += dyᵀ x,   db += Σₙ dy   (dx skipped, None returned,
    when ``needs_input_grad`` is False). For 2-D x, y and dx are computed transposed
    (yᵀ = W xᵀ) and returned as (N, ·) views of feature-major memory.
    Initialised like PyTorch: W, b ~ U(-1/√in, 1/√in).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear: sizes must be positive, got ({in_features}, {out_features})")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dt = get_default_dtype()
        shapes = [(self.out_features, self.in_features), (self.out_features,)]
        check_parameters_fit(shapes, dt, f"{self._label()} (weights and gradients)")
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dt))
        init.uniform(self.weight, -bound, bound)
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dt))
            init.uniform(self.bias, -bound, bound)
        else:
            self.bias = None
        self._x = None
        self._out_shape = None

    def forward(self, x):
        x = as_input(self, x, self.weight.data.dtype)
        if x.ndim < 2 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self._label()}: expected (N, {self.in_features}), got {tuple(x.shape)}"
            )
        x2 = x.reshape(-1, self.in_features)
        if x.ndim == 2:
            # yᵀ = W xᵀ: the (out, N) product in row-major memory is the GEMM OpenBLAS runs
            # fastest (64x784x256: 180 µs against 265 µs for x Wᵀ), and y is its (N, out)
            # view, so the next Linear finds xᵀ already contiguous.
            y = np.matmul(self.weight.data, x2.T).T
        else:  # a feature-major y would need a copy to take the (..., out) shape
            y = x2 @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        self._x, self._in_shape = x2, x.shape
        self._out_shape = x.shape[:-1] + (self.out_features,)
        return y.reshape(self._out_shape)

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        dy2 = dy.reshape(-1, self.out_features).astype(self.weight.data.dtype, copy=False)
        self.weight.grad += dy2.T @ self._x
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=0)
        if not self.needs_input_grad:
            return None
        if len(self._in_shape) == 2:  # dxᵀ = Wᵀ dyᵀ, as in forward
            return np.matmul(self.weight.data.T, dy2.T).T
        return (dy2 @ self.weight.data).reshape(self._in_shape)

    def _clear_cache(self):
        self._x = None

    def config(self):
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
        }

    @classmethod
    def state_shapes(cls, config):
        n_in = config_int("Linear", config, "in_features")
        n_out = config_int("Linear", config, "out_features")
        shapes = {"weight": (n_out, n_in)}
        if config_bool("Linear", config, "bias", True):
            shapes["bias"] = (n_out,)
        return shapes

    def output_shape(self, in_shape):
        if len(in_shape) < 2 or in_shape[-1] != self.in_features:
            return None
        return tuple(in_shape[:-1]) + (self.out_features,)

    def _label(self):
        return f"Linear({self.in_features}→{self.out_features})"


@register
class Flatten(Module):
    """(N, d1, d2, …) → (N, d1·d2·…);  backward reshapes dy back."""

    def __init__(self):
        super().__init__()
        self._in_shape = None

    def forward(self, x):
        x = as_input(self, x)
        if x.ndim < 1:
            raise ValueError(f"{self._label()}: expected (N, ...), got a scalar")
        self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        if self._in_shape is None:
            raise RuntimeError("Flatten: backward called before forward")
        n = self._in_shape[0]
        dy = check_backward(self, dy, (n, int(np.prod(self._in_shape[1:], dtype=np.int64))))
        return dy.reshape(self._in_shape)

    def output_shape(self, in_shape):
        if len(in_shape) < 1:
            return None
        return (in_shape[0], math.prod(in_shape[1:]))
