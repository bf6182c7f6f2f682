"""Softmax and cross-entropy fused: the loss of a classifier's logits."""

from __future__ import annotations

from ..core.backend import array_module


def softmax_cross_entropy(z, target, reduction: str = "mean"):
    """L = Σₙ [logsumexp(zₙ) - Σₖ tₙₖ zₙₖ] (divided by N for "mean"),  dL/dz = p Σₖ tₙₖ - t.

    z: logits (N, K); target: int labels (N,) (t one-hot) or probabilities (N, K) (soft);
    p = softmax(z), computed from z - max z so that exp never overflows. Returns
    (L as a float, dL/dz (N, K), p).
    """
    xp = array_module(z)
    n = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    e = xp.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    logp = shifted - xp.log(s)
    p = e / s
    if target.ndim == 1:  # labels: t is one-hot, Σₖ tₙₖ = 1
        rows = xp.arange(n)
        per = -logp[rows, target]
        grad = p.copy()
        grad[rows, target] -= 1
    else:
        per = -(target * logp).sum(axis=1)
        grad = p * target.sum(axis=1, keepdims=True) - target
    scale = 1.0 / n if reduction == "mean" else 1.0
    grad *= z.dtype.type(scale)
    return float(per.sum() * scale), grad, p
