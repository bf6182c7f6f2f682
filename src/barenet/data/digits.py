"""scikit-learn's bundled 8x8 handwritten digits (1797 images, values 0..16).

Returned as ``x: (N, 1, 8, 8) float32`` in [0, 1] (divided by 16) and
``y: (N,) int64`` in 0..9, split by :func:`barenet.data.split.stratified_split`.
No download is needed: the data ship with scikit-learn.
"""

from __future__ import annotations

import numpy as np

from .split import stratified_split

__all__ = ["digits"]


def digits(
    test_size: float = 0.2, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)``; stratified, the same for the same seed."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 8x8 digits ship with scikit-learn: pip install scikit-learn (or barenet[all])"
        ) from None
    bunch = load_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))[:, None, :, :]
    y = np.asarray(bunch.target, dtype=np.int64)
    tr, te = stratified_split(y, test_size, seed)
    return (x[tr], y[tr]), (x[te], y[te])
