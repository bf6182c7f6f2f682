"""Batch normalisation over the batch (and spatial) axes, one statistic per channel."""

from __future__ import annotations

import numpy as np

from ..core.checks import as_input, check_backward, config_bool, config_int
from ..core.config import get_default_dtype
from ..core.dispatch import kernels_for
from ..core.memory import check_parameters_fit
from ..core.module import Module, Parameter, register


class _BatchNorm(Module):
    r"""Training:  $\mu, \sigma^2$ = mean and biased variance of x per channel over M
    values, $\hat x = (x - \mu) / \sqrt{\sigma^2 + \epsilon}$,  $y = \gamma \hat x + \beta$;
    $\mathit{running\_mean} \leftarrow (1-m)\,\mathit{running\_mean} + m \mu$,
    $\mathit{running\_var} \leftarrow (1-m)\,\mathit{running\_var} + m \sigma^2 M/(M-1)$.

    Backward (training):  $d\gamma = \sum dy\, \hat x$,  $d\beta = \sum dy$,

    $$dx = \frac{\gamma}{M \sqrt{\sigma^2 + \epsilon}} (M\, dy - d\beta - \hat x\, d\gamma).$$

    Evaluation uses the running statistics:
    $dx = dy\, \gamma / \sqrt{\mathit{running\_var} + \epsilon}$.
    The kernels are ``reference.norm`` or ``fast.cpu.norm``.
    """

    _ndims: tuple[int, ...] = ()
    _pattern = ""

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
    ):
        super().__init__()
        if int(num_features) < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be >= 1")
        if not 0.0 <= float(momentum) <= 1.0 or float(eps) <= 0:
            raise ValueError(
                f"{type(self).__name__}: need 0 <= momentum <= 1 and eps > 0, "
                f"got momentum={momentum}, eps={eps}"
            )
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        dt = get_default_dtype()
        c = self.num_features
        check_parameters_fit([(c,)] * 3, dt, f"{self._label()} (parameters and statistics)")
        if affine:
            self.weight = Parameter(np.ones(c, dtype=dt))
            self.bias = Parameter(np.zeros(c, dtype=dt))
        else:
            self.weight = self.bias = None
        self.register_buffer("running_mean", np.zeros(c, dtype=dt))
        self.register_buffer("running_var", np.ones(c, dtype=dt))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        self._clear_cache()

    def _clear_cache(self):
        self._kernels = self._cache = self._out_shape = None

    @property
    def dtype(self):
        return self.running_mean.dtype

    def forward(self, x):
        x = as_input(self, x, self.running_mean.dtype, like=self.running_mean)
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._label()}: expected {self._pattern.format(c=self.num_features)}, "
                f"got {tuple(x.shape)}"
            )
        m = x.size // self.num_features
        if self.training and m < 2:
            raise ValueError(
                f"{self._label()}: training needs more than 1 value per channel, got "
                f"input {tuple(x.shape)}"
            )
        kernels = kernels_for("batchnorm", x)
        gamma = None if self.weight is None else self.weight.data
        beta = None if self.bias is None else self.bias.data
        if self.training:
            y, mean, var, cache = kernels.forward(x, gamma, beta, self.eps)
            mo = self.momentum
            self.running_mean = (1 - mo) * self.running_mean + mo * mean
            self.running_var = (1 - mo) * self.running_var + mo * var * (m / (m - 1))
            self.num_batches_tracked = self.num_batches_tracked + 1
        else:
            y, cache = kernels.forward_eval(
                x, gamma, beta, self.running_mean, self.running_var, self.eps
            )
        self._kernels, self._cache, self._out_shape = kernels, cache, x.shape
        return y

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape, self.dtype)
        dx, dgamma, dbeta = self._kernels.backward(dy, self._cache)
        if self.weight is not None:
            self.weight.grad += dgamma
            self.bias.grad += dbeta
        return dx

    def config(self):
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.weight is not None,
        }

    @classmethod
    def state_shapes(cls, config):
        c = config_int(cls.__name__, config, "num_features")
        shapes = {}
        if config_bool(cls.__name__, config, "affine", True):
            shapes.update(weight=(c,), bias=(c,))
        shapes.update(running_mean=(c,), running_var=(c,), num_batches_tracked=())
        return shapes

    def output_shape(self, in_shape):
        return tuple(in_shape)

    def _label(self):
        return f"{type(self).__name__}({self.num_features})"


@register
class BatchNorm1d(_BatchNorm):
    __doc__ = "Batch norm of (N, C) or (N, C, L) input, per feature C.\n\n" + _BatchNorm.__doc__
    _ndims = (2, 3)
    _pattern = "(N, {c}) or (N, {c}, L)"


@register
class BatchNorm2d(_BatchNorm):
    __doc__ = "Batch norm of (N, C, H, W) input, per channel C.\n\n" + _BatchNorm.__doc__
    _ndims = (4,)
    _pattern = "(N, {c}, H, W)"
