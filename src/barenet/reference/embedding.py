"""The embedding: a table lookup, and its gradient scattered back into the table."""

from __future__ import annotations

from ..core.backend import array_module


def embedding_forward(idx, w):
    """y = W[idx]: row idxᵢ of W (num, dim) for every index; y (*idx.shape, dim)."""
    return w[idx], (idx, w.shape)


def embedding_backward(dy, cache, padding_idx=None):
    """dW = Oᵀ dy, O the one-hot rows of the indices (O[i, k] = [idxᵢ = k]): the lookup
    is a Linear layer on one-hot vectors, so the row k of dW sums dyᵢ over every position
    with idxᵢ = k (repeated indices add up); the row of ``padding_idx`` gets no gradient.
    Returns dW (num, dim)."""
    idx, (num, dim) = cache
    xp = array_module(dy)
    onehot = (idx.reshape(-1, 1) == xp.arange(num)[None, :]).astype(dy.dtype)
    dw = onehot.T @ dy.reshape(-1, dim)
    if padding_idx is not None:
        dw[padding_idx] = 0
    return dw
