"""The embedding: a table lookup, and its gradient scattered back into the table."""

from __future__ import annotations

from ..core.backend import array_module


def embedding_forward(idx, w):
    """y = W[idx]: row idxᵢ of W (num, dim) for every index; y (*idx.shape, dim)."""
    return w[idx], (idx, w.shape)


def embedding_backward(dy, cache, padding_idx=None):
    """dW[k] = Σ over the positions i with idxᵢ = k of dyᵢ: repeated indices add up
    (``add.at``, not ``dW[idx] = dy``, which would keep only one of them); the row of
    ``padding_idx`` gets no gradient. Returns dW (num, dim)."""
    idx, shape = cache
    xp = array_module(dy)
    dw = xp.zeros(shape, dy.dtype)
    xp.add.at(dw, idx.reshape(-1), dy.reshape(-1, shape[1]))
    if padding_idx is not None:
        dw[padding_idx] = 0
    return dw
