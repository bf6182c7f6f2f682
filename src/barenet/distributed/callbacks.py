"""The callbacks of data-parallel training: same start, same statistics, true metrics.

- :class:`BroadcastState` (``on_train_begin``): rank 0's parameters and buffers
  overwrite every other rank's, so all start from one model (fresh or resumed);
- :class:`AverageBatchNormStats` (after the last batch of every epoch, so before
  validation and before any checkpoint or model file is written): BatchNorm's
  running mean and variance averaged over the ranks. In training, each rank
  normalises with the mean and variance of its own shard, so the statistics — and
  the gradients — differ from one process on the whole batch;
- :class:`GlobalMetrics` (``on_batch_end``): the step's loss and the epoch's running
  sums become those of the global batch, from the statistics that
  :class:`~.optimizer.DistributedOptimizer` summed along with the gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.module import Module
from ..train.callbacks import Callback

if TYPE_CHECKING:
    from .comm import Communicator

__all__ = ["AverageBatchNormStats", "BroadcastState", "GlobalMetrics", "float_state"]

_BN_STATS = ("running_mean", "running_var")


def float_state(model: Module, names: tuple[str, ...] | None = None) -> list[np.ndarray]:
    """The arrays to keep equal across ranks: every parameter, then the floating-point
    buffers (only those called ``names`` when given), in module order."""
    arrays = [] if names else [p.data for p in model.parameters()]
    for mod in model.modules():
        for b in mod._buffer_names:
            arr = mod.__dict__[b]
            if arr.dtype.kind == "f" and (names is None or b in names):
                arrays.append(arr)
    return arrays


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    dtype = np.result_type(*(a.dtype for a in arrays))
    return np.concatenate([a.reshape(-1).astype(dtype, copy=False) for a in arrays])


def _unflat(flat: np.ndarray, arrays: list[np.ndarray]) -> None:
    i = 0
    for a in arrays:
        a[...] = flat[i : i + a.size].reshape(a.shape)
        i += a.size


class BroadcastState(Callback):
    """Rank 0's parameters and floating-point buffers to every rank, at the start."""

    def __init__(self, comm: Communicator):
        self.comm = comm

    def on_train_begin(self, ctx) -> None:
        arrays = float_state(ctx.model)
        flat = self.comm.broadcast_(_flat(arrays))
        _unflat(flat, arrays)


class AverageBatchNormStats(Callback):
    """BatchNorm running statistics averaged over the ranks after each epoch's last batch."""

    def __init__(self, comm: Communicator):
        self.comm = comm

    def on_batch_end(self, ctx) -> None:
        if ctx.batch == len(ctx.loader) - 1:
            self.average(ctx.model)

    def average(self, model: Module) -> None:
        arrays = float_state(model, _BN_STATS)
        if arrays:
            flat = self.comm.allreduce_sum_(_flat(arrays))
            _unflat(flat / self.comm.size, arrays)


class GlobalMetrics(Callback):
    """Replace this rank's step loss and the epoch's running sums by the global batch's."""

    def __init__(self, optimizer, loss):
        self.optimizer, self.loss = optimizer, loss

    def on_batch_end(self, ctx) -> None:
        local, total = self.loss.stats, self.optimizer.global_stats
        p = ctx.partial
        p["loss_sum"] += float(total[0] - local[0])
        p["count"] += int(round(total[2] - local[2]))
        if ctx.task == "classification":
            p["correct"] += int(round(total[1] - local[1]))
        ctx.loss = float(total[0] / total[2])
        ctx.history.steps[-1] = ctx.loss
