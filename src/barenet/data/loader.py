"""Mini-batches over arrays, reproducible and resumable.

Randomness is counter-based: epoch ``e`` is shuffled by
``default_rng([seed, e])`` and batch ``b`` of it is transformed with
``default_rng([seed, e, b, 1])``. A loader's whole state is therefore
``{"seed", "epoch", "batch"}`` (plain ints, JSON-serialisable); restoring it
with ``load_state_dict`` reproduces the remaining batches bit for bit, even in
the middle of an epoch, and whatever the transform draws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ..core.config import get_rng

__all__ = ["DataLoader"]


def _default_seed() -> int:
    """A seed from barenet's global generator (so ``barenet.seed(n)`` fixes it)."""
    return int(get_rng().integers(0, 2**63 - 1))


class DataLoader:
    """Iterate ``(x_batch, y_batch)`` over ``x: (N, ...)`` and ``y: (N, ...)``.

    Each pass (epoch) visits every sample exactly once, in a fresh permutation
    when ``shuffle``; ``len(loader)`` is the number of batches. ``transform``
    (``t(x_batch, rng)``) is applied to each batch with that batch's own
    generator. Breaking out of an epoch ends it: the next pass starts a new one.
    ``seed=None`` draws a seed from ``barenet``'s global generator.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 32,
        shuffle: bool = True,
        transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        drop_last: bool = False,
        seed: int | None = None,
    ):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"DataLoader: x and y need a sample axis, got {x.shape}, {y.shape}")
        if len(x) != len(y):
            raise ValueError(
                f"DataLoader: x and y lengths differ: x {x.shape} has {len(x)} samples, "
                f"y {y.shape} has {len(y)}"
            )
        if len(x) == 0:
            raise ValueError("DataLoader: empty dataset (0 samples)")
        if x.dtype.kind in "fc" and not np.all(np.isfinite(x)):
            bad = np.argwhere(~np.isfinite(x.reshape(len(x), -1)))[0, 0]
            raise ValueError(f"DataLoader: x contains NaN or inf (first in sample {bad})")
        if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
            bad = np.argwhere(~np.isfinite(y.reshape(len(y), -1)))[0, 0]
            raise ValueError(f"DataLoader: y contains NaN or inf (first in sample {bad})")
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if seed is not None and (int(seed) != seed or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.transform = transform
        self.drop_last = bool(drop_last)
        self.seed = _default_seed() if seed is None else int(seed)
        self.epoch = 0  # the epoch in progress, or the next one to start
        self.batch = 0  # batches of that epoch already handed out

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def permutation(self, epoch: int) -> np.ndarray:
        """Sample order of ``epoch`` (``arange(N)`` without shuffle)."""
        n = len(self.x)
        return (
            np.random.default_rng([self.seed, epoch]).permutation(n)
            if self.shuffle
            else (np.arange(n))
        )

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        epoch, start, nb = self.epoch, self.batch, len(self)
        order = self.permutation(epoch)
        try:
            for b in range(start, nb):
                idx = order[b * self.batch_size : (b + 1) * self.batch_size]
                xb, yb = self.x[idx], self.y[idx]
                if self.transform is not None:
                    xb = self.transform(xb, np.random.default_rng([self.seed, epoch, b, 1]))
                self.batch = b + 1
                yield xb, yb
        finally:  # finished or abandoned: the epoch is over
            if self.epoch == epoch:
                self.epoch, self.batch = epoch + 1, 0

    def state_dict(self) -> dict:
        """``{"seed", "epoch", "batch"}``: JSON-serialisable ints. ``batch`` counts
        the batches of ``epoch`` already handed out; a finished epoch reads as the
        start of the next one."""
        epoch, batch = self.epoch, self.batch
        if len(self) and batch >= len(self):
            epoch, batch = epoch + 1, 0
        return {"seed": self.seed, "epoch": epoch, "batch": batch}

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`; the next pass resumes where it left off."""
        try:
            seed, epoch, batch = (int(state[k]) for k in ("seed", "epoch", "batch"))
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"DataLoader.load_state_dict: expected ints 'seed', 'epoch', 'batch', got {state!r}"
            ) from None
        if epoch < 0 or not 0 <= batch <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: epoch/batch out of range: {state!r}")
        self.seed, self.epoch, self.batch = seed, epoch, batch

    def __repr__(self) -> str:
        return (
            f"DataLoader(n={len(self.x)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, transform={self.transform!r}, seed={self.seed})"
        )
