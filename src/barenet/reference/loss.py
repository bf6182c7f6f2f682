"""Softmax and cross-entropy fused: the loss of a classifier's logits."""

from __future__ import annotations

from ..core.backend import array_module


def softmax_cross_entropy(
    z, target, reduction: str = "mean", label_smoothing: float = 0.0, keep=None
):
    r"""$L = \sum_n [\mathrm{logsumexp}(z_n) - \sum_k t_{nk} z_{nk}]$ (divided by N for
    "mean"),  $\partial L / \partial z = p \sum_k t_{nk} - t$.

    z: logits (N, K); target: int labels (N,) (t one-hot) or probabilities (N, K) (soft);
    $p = \mathrm{softmax}(z)$, computed from $z - \max z$ so that exp never overflows.
    Label smoothing $\epsilon$ (PyTorch's definition) uses $t' = (1 - \epsilon) t +
    \epsilon / K$ in place of t. ``keep`` (N,) bools, or None for all, marks the rows
    that count: the others (padding) add nothing to L nor to dL/dz, and "mean" divides by
    the rows kept. Returns (L as a 0-d array on z's device, dL/dz (N, K), p).
    """
    xp = array_module(z)
    n, k = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    e = xp.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    logp = shifted - xp.log(s)
    p = e / s
    rows = xp.arange(n)
    if target.ndim == 1 and label_smoothing:  # smoothing needs t itself: one-hot labels
        onehot = xp.zeros_like(z)
        onehot[rows, target] = 1
        target = onehot
    if target.ndim == 1:  # labels: t is one-hot, Σₖ tₙₖ = 1
        per = -logp[rows, target]
        grad = p.copy()
        grad[rows, target] -= 1
    else:
        if label_smoothing:
            eps = z.dtype.type(label_smoothing)
            target = target * (1 - eps) + eps / k
        per = -(target * logp).sum(axis=1)
        grad = p * target.sum(axis=1, keepdims=True) - target
    count = n
    if keep is not None:
        per = per * keep
        grad *= keep[:, None]
        count = int(keep.sum())
    scale = 1.0 / max(count, 1) if reduction == "mean" else 1.0
    grad *= z.dtype.type(scale)
    return per.sum() * scale, grad, p
