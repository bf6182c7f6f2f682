# barenet exercise: batchnorm-backward
"""Exercise: the backward of batch normalisation in training mode.

The forward below is written for you. Per channel c (axis 1), over the M = x.size / C
values of the batch and the spatial axes:

    μ = (1/M) Σ x,   σ² = (1/M) Σ (x - μ)²,   x̂ = (x - μ) / √(σ² + ε),   y = γ x̂ + β.

μ and σ² depend on every x of their channel, so dx is not just dy·γ/√(σ² + ε):

    dβ = Σ dy,   dγ = Σ dy x̂                     (sums over all axes but 1)
    dx = γ / (M √(σ² + ε)) · (M dy - dβ - x̂ dγ)

Shapes: x and dy (N, C), (N, C, L) or (N, C, H, W); γ, β, dγ, dβ (C,).

Fill in the function below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.batchnorm_backward.
"""

import numpy as np


def _axes(x):
    """Every axis but the channel axis 1."""
    return (0, *range(2, x.ndim))


def _per_channel(v, ndim):
    """A (C,) vector shaped to broadcast against (N, C, ...)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batchnorm_forward_train(x, gamma, beta, eps):
    """Given. x (N, C, ...), gamma and beta (C,) -> (y, μ, σ², cache) with
    cache = (x̂, 1/√(σ² + ε), γ, True)."""
    axes = _axes(x)
    mean = x.mean(axis=axes)
    var = ((x - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    y = xhat * _per_channel(gamma, x.ndim) + _per_channel(beta, x.ndim)
    return y, mean, var, (xhat, invstd, gamma, True)


def batchnorm_backward(dy, cache):
    """dy (N, C, ...) and the forward's cache -> (dx (N, C, ...), dγ (C,), dβ (C,))."""
    raise NotImplementedError("batchnorm_backward: dβ, dγ, then dx from the formula above")
