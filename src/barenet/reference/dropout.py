"""Inverted dropout: scale at training time, so evaluation is the identity."""

from __future__ import annotations


def dropout_forward(x, p: float, rng):
    r"""$y = x \cdot m / (1 - p)$, $m \sim \mathrm{Bernoulli}(1 - p)$ per element, drawn
    from ``rng`` (uniform u in [0, 1) and $m = [u \ge p]$); the cache is the scaled mask
    $m / (1 - p)$."""
    u = rng.random(x.shape, dtype="float32" if x.dtype == "float32" else "float64")
    mask = (u >= p).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return x * mask, mask


def dropout_backward(dy, mask):
    r"""$dx = dy \cdot m / (1 - p)$."""
    return dy * mask
