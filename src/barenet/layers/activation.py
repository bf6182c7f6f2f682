"""Element-wise activations and Softmax. None has parameters; each keeps what its
derivative needs and never writes into the dy it is handed. The kernels are
``reference.activation`` or, for ReLU and LeakyReLU, ``fast.cpu.activation``."""

from __future__ import annotations

from ..core.checks import as_input, check_backward
from ..core.dispatch import kernels_for
from ..core.module import Module, register


class _Elementwise(Module):
    """Runs the kernels of ``_family``: ``forward(x, *self._args())`` (in eval mode the
    set's ``forward_eval`` when it has one), ``backward(dy, cache)``."""

    _family = ""

    def __init__(self):
        super().__init__()
        self._clear_cache()

    def _clear_cache(self):
        self._kernels = self._cache = self._out_shape = None

    def _args(self) -> tuple:
        return ()

    def forward(self, x):
        x = as_input(self, x)
        kernels = kernels_for(self._family, x)
        run = kernels.forward if self.training else getattr(kernels, "forward_eval", None)
        y, cache = (run or kernels.forward)(x, *self._args())
        self._kernels, self._cache, self._out_shape = kernels, cache, x.shape
        return y

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        return self._kernels.backward(dy, self._cache)

    def output_shape(self, in_shape):
        return tuple(in_shape)


@register
class ReLU(_Elementwise):
    r"""$y = \max(x, 0)$;  $dx = dy \cdot [x > 0]$."""

    _family = "relu"


@register
class LeakyReLU(_Elementwise):
    r"""$y = x$ if $x > 0$ else $a x$;  $dx = dy$ if $x > 0$ else $a\, dy$."""

    _family = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def _args(self):
        return (self.negative_slope,)

    def config(self):
        return {"negative_slope": self.negative_slope}


@register
class Sigmoid(_Elementwise):
    r"""$y = 1 / (1 + e^{-x}) = (1 + \tanh(x/2)) / 2$  (no overflow);
    $dx = dy \cdot y (1 - y)$."""

    _family = "sigmoid"


@register
class Tanh(_Elementwise):
    r"""$y = \tanh x$;  $dx = dy \cdot (1 - y^2)$."""

    _family = "tanh"


@register
class Softmax(_Elementwise):
    r"""$y = e^{x - \max x} / \sum e^{x - \max x}$ along ``axis`` (default 1, the classes);

    $dx = y \odot (dy - \sum dy \odot y)$. For training, use SoftmaxCrossEntropy on logits.
    """

    _family = "softmax"

    def __init__(self, axis: int = 1):
        super().__init__()
        self.axis = int(axis)

    def forward(self, x):
        x = as_input(self, x)
        if x.ndim < 1 or not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self._label()}: axis {self.axis} out of range for {x.shape}")
        return super().forward(x)

    def _args(self):
        return (self.axis,)

    def config(self):
        return {"axis": self.axis}
