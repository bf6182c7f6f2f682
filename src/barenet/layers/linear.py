"""Fully connected layer and Flatten."""

from __future__ import annotations

import math

import numpy as np

from .. import init
from ..core.checks import as_input, check_backward, config_bool, config_int
from ..core.config import get_default_dtype
from ..core.dispatch import kernels_for
from ..core.memory import check_parameters_fit
from ..core.module import Module, Parameter, register


@register
class Linear(Module):
    r"""$y = x W^\top + b$,   x: (N, in) or (..., in),  W: (out, in),  b: (out,).

    Backward:  $dx = dy\, W$,   $dW \mathrel{+}= dy^\top x$,   $db \mathrel{+}= \sum_n dy$
    (dx skipped, None returned, when ``needs_input_grad`` is False). The kernels are
    ``reference.linear`` or ``fast.cpu.linear`` (the same products, transposed).
    Initialised like PyTorch: $W, b \sim U(-1/\sqrt{in},\ 1/\sqrt{in})$.
    """

    init_weight = "weight"

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
        self._clear_cache()

    def _clear_cache(self):
        self._kernels = self._cache = self._out_shape = None

    def flops(self, in_shape: tuple[int, ...]) -> int:
        rows = math.prod(in_shape[:-1])  # 1 for a single vector
        return 2 * rows * self.in_features * self.out_features

    def forward(self, x):
        x = as_input(self, x, self.weight.data.dtype, like=self.weight.data)
        if x.ndim < 2 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self._label()}: expected (N, {self.in_features}), got {tuple(x.shape)}"
            )
        kernels = kernels_for("linear", x)
        b = None if self.bias is None else self.bias.data
        y, cache = kernels.forward(x, self.weight.data, b)
        self._kernels, self._cache, self._out_shape = kernels, cache, y.shape
        return y

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape, self.weight.data.dtype)
        dx, dw, db = self._kernels.backward(dy, self._cache, self.needs_input_grad)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

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
