"""BatchNorm, fast: the variance as one contraction, x̂ built in place.

Same numbers as ``barenet.reference.norm`` (up to rounding): σ² = Σ (x - μ)² / M is
one ``einsum`` over a (N, C, L) view instead of a squared copy and a mean, and x̂ is
scaled in the centred array it came from.
"""

from __future__ import annotations

import numpy as np


def _shapes(x: np.ndarray):
    return (0, *range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _affine(xhat, gamma, beta, bshape):
    if gamma is None:
        return xhat.copy()
    return xhat * gamma.reshape(bshape) + beta.reshape(bshape)


def batchnorm_forward_train(x: np.ndarray, gamma, beta, eps: float):
    """(y, μ, σ², cache) with batch statistics (see the reference)."""
    axes, bshape = _shapes(x)
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes)
    xc = x - mean.reshape(bshape)
    xc3 = xc.reshape(x.shape[0], x.shape[1], -1)
    var = np.einsum("ncl,ncl->c", xc3, xc3) / m
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = xc
    xhat *= invstd.reshape(bshape)
    cache = (xhat, invstd.astype(x.dtype), gamma, True)
    return _affine(xhat, gamma, beta, bshape), mean, var, cache


def batchnorm_forward_eval(x: np.ndarray, gamma, beta, mean, var, eps: float):
    """(y, cache) with the running statistics."""
    _, bshape = _shapes(x)
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(bshape)) * invstd.reshape(bshape)
    return _affine(xhat, gamma, beta, bshape), (xhat, invstd.astype(x.dtype), gamma, False)


def batchnorm_backward(dy: np.ndarray, cache):
    """(dx, dγ, dβ) (see the reference)."""
    xhat, invstd, gamma, training = cache
    axes, bshape = _shapes(dy)
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    scale = (invstd if gamma is None else gamma * invstd).reshape(bshape)
    if not training:
        return dy * scale, dgamma, dbeta
    m = dy.size // dy.shape[1]
    dx = (scale / m) * (m * dy - dbeta.reshape(bshape) - xhat * dgamma.reshape(bshape))
    return dx, dgamma, dbeta
