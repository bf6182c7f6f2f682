"""Data-parallel training over MPI: one model, N processes, one allreduce per step.

``mpiexec -n N barenet train MODEL ...`` runs N copies of the command that train one
model together, Horovod-style, without touching the training loop:

- :class:`ShardedLoader`: one shuffle shared by all ranks, each rank a disjoint
  shard of every global batch (``--batch-size`` stays the global batch);
- :class:`DistributedOptimizer`: ``step()`` sums the flat gradient buffer over the
  ranks (weighted so that it is the global batch's mean gradient), then steps the
  wrapped optimizer — the same step everywhere;
- :class:`BroadcastState`, :class:`AverageBatchNormStats`, :class:`GlobalMetrics`:
  callbacks for the common start, BatchNorm's statistics and the logged metrics;
- :func:`abort_on_error`: an exception on one rank ends every rank with its message.

mpi4py is imported only by :func:`init` (when a launcher started more than one
process): ``pip install barenet[mpi]``. :func:`distribute` assembles the pieces.

Learning rate: with the global batch fixed, N changes nothing — the same batch,
the same mean gradient, the same learning rate. To keep each process's share of
work constant when adding processes, grow the global batch with N and scale the
learning rate with it (linear scaling, with a few epochs of warm-up for large
batches), the usual rule for SGD; Adam tolerates a fixed rate over a wider range.
"""

from __future__ import annotations

from .callbacks import AverageBatchNormStats, BroadcastState, GlobalMetrics
from .comm import Communicator, abort_on_error, init, launched_size, share_cores
from .data import ShardedLoader, shard_bounds
from .optimizer import DistributedOptimizer, ShardedLoss
from .parallel import data_parallel, distribute

__all__ = [
    "AverageBatchNormStats",
    "BroadcastState",
    "Communicator",
    "DistributedOptimizer",
    "GlobalMetrics",
    "ShardedLoader",
    "ShardedLoss",
    "abort_on_error",
    "data_parallel",
    "distribute",
    "init",
    "launched_size",
    "shard_bounds",
    "share_cores",
]
