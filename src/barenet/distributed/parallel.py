"""What a training run changes to train data-parallel over a :class:`~.comm.Communicator`:
the sharded loader, the optimizer that sums the gradients over the ranks, the loss that
keeps the global statistics, and the callbacks of a common start and true metrics.

A run reaches :func:`data_parallel` through the communicator it is handed
(:meth:`~.comm.Communicator.data_parallel`), so ``barenet.train`` needs no import of
this package, which builds on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .callbacks import AverageBatchNormStats, BroadcastState, GlobalMetrics
from .data import ShardedLoader
from .optimizer import DistributedOptimizer, ShardedLoss

if TYPE_CHECKING:
    from .comm import Communicator

__all__ = ["data_parallel", "distribute"]


def distribute(comm: Communicator, optimizer, loss_fn, loader: ShardedLoader):
    """Wrap a run's optimizer and loss for ``comm``; returns ``(optimizer, loss_fn,
    callbacks)``. Append the callbacks after the run's own (their positions in a
    checkpoint then match a one-process run's)."""
    loss = ShardedLoss(loss_fn)
    opt = DistributedOptimizer(optimizer, comm, shard=loader, loss=loss)
    callbacks = [BroadcastState(comm), GlobalMetrics(opt, loss), AverageBatchNormStats(comm)]
    return opt, loss, callbacks


def data_parallel(comm: Communicator, train, batch_size: int, optimizer, loss_fn, **loader_kw):
    """Everything a training run changes to train over ``comm``: returns ``(loader,
    optimizer, loss_fn, callbacks)`` for ``fit(model, loss_fn, optimizer, loader, ...,
    callbacks=own + callbacks)``. ``train``: the whole ``(x, y)`` on every rank;
    ``batch_size``: the global batch; ``loader_kw``: ``transform``, ``seed``, ..."""
    x, y = train
    loader = ShardedLoader(x, y, batch_size, comm, **loader_kw)
    optimizer, loss_fn, callbacks = distribute(comm, optimizer, loss_fn, loader)
    return loader, optimizer, loss_fn, callbacks
