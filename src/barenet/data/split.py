"""Deterministic stratified train/test split."""

from __future__ import annotations

import numpy as np

__all__ = ["stratified_split"]


def stratified_split(
    y: np.ndarray, test_size: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train_idx, test_idx)`` splitting labels ``y: (N,)`` per class.

    Each class sends ``round(n_c * test_size)`` of its samples to the test set
    (at least one when it has two or more samples and ``test_size > 0``). The
    same ``y``, ``test_size`` and ``seed`` always give the same split; both index
    arrays are sorted, so the original order is kept within each part.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"stratified_split: labels must be 1-D, got shape {y.shape}")
    if not 0.0 <= test_size < 1.0:
        raise ValueError(f"stratified_split: test_size must be in [0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    test_parts = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = int(round(len(idx) * test_size))
        if test_size > 0 and k == 0 and len(idx) >= 2:
            k = 1
        k = min(k, len(idx) - 1) if len(idx) > 1 else 0
        test_parts.append(rng.permutation(idx)[:k])
    test_idx = np.sort(np.concatenate(test_parts)) if test_parts else np.zeros(0, np.int64)
    mask = np.ones(len(y), dtype=bool)
    mask[test_idx] = False
    return np.flatnonzero(mask), test_idx.astype(np.int64)
