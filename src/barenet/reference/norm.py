"""Batch normalisation: one mean and variance per channel (axis 1), taken over the
batch and every spatial axis: M values per channel."""

from __future__ import annotations

from ..core.backend import array_module


def _axes(x) -> tuple[int, ...]:
    return (0, *range(2, x.ndim))


def _per_channel(v, ndim: int):
    """A per-channel vector (C,) shaped to broadcast against (N, C, ...)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batchnorm_forward_train(x, gamma, beta, eps: float):
    r"""$\mu$ = mean of x, $\sigma^2 = \frac{1}{M} \sum (x - \mu)^2$,
    $\hat x = (x - \mu) / \sqrt{\sigma^2 + \epsilon}$,  $y = \gamma \hat x + \beta$.

    gamma and beta may be None (no affine part: y = x̂). Returns (y, μ, σ², cache).
    """
    xp, axes = array_module(x), _axes(x)
    mean = x.mean(axis=axes)
    var = ((x - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)
    invstd = 1 / xp.sqrt(var + eps)
    xhat = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    y = xhat if gamma is None else xhat * _per_channel(gamma, x.ndim) + _per_channel(beta, x.ndim)
    return y, mean, var, (xhat, invstd, gamma, True)


def batchnorm_forward_eval(x, gamma, beta, mean, var, eps: float):
    r"""$\hat x = (x - \mu_\mathrm{run}) / \sqrt{\sigma^2_\mathrm{run} + \epsilon}$,
    $y = \gamma \hat x + \beta$, with the running statistics."""
    invstd = 1 / array_module(x).sqrt(var + eps)
    xhat = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    y = xhat if gamma is None else xhat * _per_channel(gamma, x.ndim) + _per_channel(beta, x.ndim)
    return y, (xhat, invstd, gamma, False)


def batchnorm_backward(dy, cache):
    r"""$d\gamma = \sum dy\, \hat x$,  $d\beta = \sum dy$ (sums over all but the channel
    axis), and

    - training: $dx = \frac{\gamma}{M \sqrt{\sigma^2 + \epsilon}}
      (M\, dy - d\beta - \hat x\, d\gamma)$
    - evaluation: $dx = dy\, \gamma / \sqrt{\sigma^2_\mathrm{run} + \epsilon}$ (the
      statistics are constants)

    Returns (dx, dγ, dβ).
    """
    xhat, invstd, gamma, training = cache
    axes, nd = _axes(dy), dy.ndim
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    scale = invstd if gamma is None else gamma * invstd
    if not training:
        return dy * _per_channel(scale, nd), dgamma, dbeta
    m = dy.size // dy.shape[1]
    dx = _per_channel(scale / m, nd) * (
        m * dy - _per_channel(dbeta, nd) - xhat * _per_channel(dgamma, nd)
    )
    return dx, dgamma, dbeta
