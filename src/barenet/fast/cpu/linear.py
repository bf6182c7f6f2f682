"""Linear, fast: 2-D products computed transposed, the orientation OpenBLAS runs fastest.

Same numbers as ``barenet.reference.linear``. For x (N, in), yᵀ = W xᵀ is an (out, N)
product in row-major memory, which OpenBLAS runs faster than x Wᵀ; y is handed on as
its (N, out) view, so the next Linear finds xᵀ already contiguous. Likewise
dxᵀ = Wᵀ dyᵀ. These GEMMs use the BLAS's own threads.
"""

from __future__ import annotations

import numpy as np


def linear_forward(x: np.ndarray, w: np.ndarray, b):
    """y = x Wᵀ + b for x (..., in); returns (y, cache)."""
    x2 = x.reshape(-1, w.shape[1])
    if x.ndim == 2:
        y = np.matmul(w, x2.T).T
    else:  # a feature-major y would need a copy to take the (..., out) shape
        y = x2 @ w.T
    if b is not None:
        y += b
    return y.reshape(x.shape[:-1] + (w.shape[0],)), (x2, x.shape, w, b is not None)


def linear_backward(dy: np.ndarray, cache, need_dx: bool = True):
    """(dx, dW, db): dx = dy W, dW = dyᵀ x, db = Σₙ dy; dx None when not ``need_dx``,
    db None without a bias."""
    x2, in_shape, w, has_bias = cache
    dy2 = dy.reshape(-1, w.shape[0])
    dw = dy2.T @ x2
    db = dy2.sum(axis=0) if has_bias else None
    if not need_dx:
        return None, dw, db
    if len(in_shape) == 2:  # dxᵀ = Wᵀ dyᵀ, as in forward
        return np.matmul(w.T, dy2.T).T, dw, db
    return (dy2 @ w).reshape(in_shape), dw, db
