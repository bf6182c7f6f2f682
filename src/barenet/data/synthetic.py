"""Small seeded synthetic tasks: sine regression and separable classification.

Everything is float32 and deterministic for a given ``seed``; train and test
are drawn from the same distribution with independent samples.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sine", "xor", "blobs_images"]

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _check_counts(fn: str, n_train: int, n_test: int) -> None:
    if n_train <= 0 or n_test < 0:
        raise ValueError(f"{fn}: need n_train > 0 and n_test >= 0, got {n_train}, {n_test}")


def sine(n_train: int = 1000, n_test: int = 200, seed: int = 0, noise: float = 0.0) -> Split:
    """``x ~ U[-pi, pi]``, ``y = sin(x) (+ N(0, noise^2))``; ``x, y: (N, 1) float32``.

    The test targets are always noise-free.
    """
    _check_counts("sine", n_train, n_test)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n_train + n_test, 1))
    y = np.sin(x)
    if noise > 0:
        y[:n_train] += rng.normal(0.0, noise, size=(n_train, 1))
    x, y = x.astype(np.float32), y.astype(np.float32)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def xor(n_train: int = 400, n_test: int = 100, seed: int = 0, noise: float = 0.1) -> Split:
    """Four Gaussian clusters at (+-1, +-1); label 1 when the signs differ.

    ``x: (N, 2) float32``, ``y: (N,) int64``. Not linearly separable; an MLP
    with one hidden layer solves it.
    """
    _check_counts("xor", n_train, n_test)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n, 2))
    x = (signs + rng.normal(0.0, noise, size=(n, 2))).astype(np.float32)
    y = (signs[:, 0] != signs[:, 1]).astype(np.int64)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def blobs_images(
    n_train: int = 400,
    n_test: int = 100,
    n_classes: int = 4,
    size: int = 8,
    seed: int = 0,
    noise: float = 0.1,
) -> Split:
    """Images with one bright square whose position depends on the class.

    Class ``k`` lights a ``size//2`` square at the ``k``-th of ``n_classes``
    positions spread along the diagonal band; uniform noise of amplitude
    ``noise`` is added and values clipped to [0, 1]. ``x: (N, 1, size, size)
    float32``, ``y: (N,) int64``; easily separable by a small conv net or MLP.
    """
    _check_counts("blobs_images", n_train, n_test)
    if not 2 <= n_classes <= size // 2 + 1:
        raise ValueError(f"blobs_images: n_classes must be in 2..{size // 2 + 1}, got {n_classes}")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = rng.integers(0, n_classes, size=n)
    side = size // 2
    starts = np.linspace(0, size - side, n_classes).round().astype(int)
    templates = np.zeros((n_classes, size, size))
    for k, s in enumerate(starts):
        templates[k, s : s + side, s : s + side] = 1.0
        if k % 2:  # mirror every other class so neighbours differ strongly
            templates[k] = templates[k, :, ::-1]
    x = templates[y] + rng.uniform(-noise, noise, size=(n, size, size))
    x = np.clip(x, 0.0, 1.0).astype(np.float32)[:, None]
    y = y.astype(np.int64)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
