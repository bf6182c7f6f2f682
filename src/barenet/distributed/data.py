"""Every rank its own shard of every global batch, from one shared shuffle.

:class:`ShardedLoader` is a :class:`~barenet.data.DataLoader` over the whole training
set with the *global* batch size, its seed the same on every rank (rank 0's). All
ranks therefore draw the same permutation and the same global batches (augmented
the same way); rank ``r`` keeps the ``r``-th of ``size`` near-equal consecutive
pieces of each (``np.array_split``). Every rank has the same number of batches, so
no rank waits in an allreduce that another never reaches. A last global batch
smaller than ``size`` (which would leave a rank without samples) is dropped: at
most ``size - 1`` samples an epoch, the only difference from one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..data import DataLoader

if TYPE_CHECKING:
    from .comm import Communicator

__all__ = ["ShardedLoader", "shard_bounds"]


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """``[lo, hi)`` of rank ``rank``'s piece of ``n`` samples (``np.array_split`` order)."""
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


class ShardedLoader(DataLoader):
    """``DataLoader(x, y, batch_size, ...)`` with ``batch_size`` the global batch,
    yielding this rank's shard of each; ``local_weight`` is the last shard's share of
    its global batch (``n_r / B``), read by :class:`~.optimizer.DistributedOptimizer`."""

    def __init__(self, x, y, batch_size: int, comm: Communicator, **kw):
        super().__init__(x, y, batch_size, **kw)
        self.comm = comm
        self.seed = comm.broadcast_int(self.seed)  # one shuffle for all ranks
        if self.batch_size < comm.size:
            raise ValueError(
                f"ShardedLoader: the global batch ({self.batch_size}) must be at least the "
                f"number of processes ({comm.size})"
            )
        self.local_weight = 1.0 / comm.size

    def __len__(self) -> int:
        full, rest = divmod(len(self.x), self.batch_size)
        return full + (not self.drop_last and rest >= self.comm.size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for xb, yb in super().__iter__():
            lo, hi = shard_bounds(len(xb), self.comm.rank, self.comm.size)
            self.local_weight = (hi - lo) / len(xb)
            yield xb[lo:hi], yb[lo:hi]
