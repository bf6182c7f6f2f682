"""Gradient averaging as an optimizer wrapper: the training loop stays as it is.

``DistributedOptimizer(opt, comm).step()`` packs every parameter's gradient into
one flat buffer, sums it over all ranks with a single allreduce, and then lets the
wrapped optimizer take its step — the same step on every rank, since every rank
then holds the same gradients and the same parameters.

Each rank's gradient is the mean over its shard of ``n_r`` samples; weighting it
by ``n_r / B`` before the sum gives the mean over the global batch of ``B``::

    g = Σ_r (n_r / B) · g_r = (1 / B) Σ_{i in batch} ∇ loss_i

exactly what one process computes on the whole batch (up to rounding), also when
the shards differ in size. A :class:`ShardedLoss` passed as ``loss`` rides along in
the same buffer: the global loss and accuracy cost no second message.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .comm import Communicator


__all__ = ["DistributedOptimizer", "ShardedLoss"]


class ShardedLoss:
    """A loss function that remembers, per call, ``(loss · n, correct, n)`` of the
    shard it saw; it returns and differentiates the shard's own mean loss."""

    def __init__(self, loss_fn):
        self.loss_fn = loss_fn
        self.stats = np.zeros(3)

    def __call__(self, out: np.ndarray, y: np.ndarray) -> float:
        loss = self.loss_fn(out, y)
        n = len(out)
        correct = 0
        if out.ndim == 2 and out.shape[1] > 1 and n:
            labels = y.argmax(axis=1) if np.ndim(y) == 2 else y
            correct = int(np.count_nonzero(out.argmax(axis=1) == labels))
        self.stats[:] = (loss * n, correct, n)
        return loss

    def backward(self) -> np.ndarray:
        return self.loss_fn.backward()

    def __getattr__(self, name):
        if name == "loss_fn":  # not yet set (copying): no recursion
            raise AttributeError(name)
        return getattr(self.loss_fn, name)


class DistributedOptimizer:
    """Wraps an optimizer; ``step()`` allreduces the gradients first.

    ``shard``: where the weight ``n_r / B`` of this rank's batch comes from (an object
    with ``local_weight``, e.g. :class:`~.data.ShardedLoader`; default ``1 / size``).
    ``loss``: a :class:`ShardedLoss` whose statistics are summed along.
    After each step, ``global_stats`` holds the summed ``(loss · n, correct, n)`` and
    ``allreduce_s`` the seconds spent in the last allreduce; ``nbytes`` is the size
    of the flat buffer. Everything else (``lr``, ``state_dict``, ``zero_grad``, …) is
    the wrapped optimizer's."""

    def __init__(self, optimizer, comm: Communicator, shard=None, loss: ShardedLoss | None = None):
        self.optimizer, self.comm, self.shard, self.loss = optimizer, comm, shard, loss
        self._params = [p for g in optimizer.param_groups for p in g["params"]]
        dtype = np.result_type(*(p.grad.dtype for p in self._params))
        sizes = [p.grad.size for p in self._params]
        ends = np.cumsum(sizes)
        self._slices = [slice(e - s, e) for s, e in zip(sizes, ends)]
        self._flat = np.zeros(int(ends[-1]) + 3, dtype=dtype)  # + (loss·n, correct, n)
        self.global_stats = np.zeros(3)
        self.allreduce_s = 0.0

    @property
    def nbytes(self) -> int:
        """Bytes sent into each allreduce (gradients and the three statistics)."""
        return self._flat.nbytes

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = value

    def __getattr__(self, name):
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def step(self) -> None:
        flat = self._flat
        w = getattr(self.shard, "local_weight", 1.0 / self.comm.size)
        for p, sl in zip(self._params, self._slices):
            np.multiply(p.grad.reshape(-1), w, out=flat[sl])
        flat[-3:] = self.loss.stats if self.loss is not None else 0.0
        t0 = time.perf_counter()
        self.comm.allreduce_sum_(flat)
        self.allreduce_s = time.perf_counter() - t0
        self.global_stats[:] = flat[-3:]
        for p, sl in zip(self._params, self._slices):
            p.grad[...] = flat[sl].reshape(p.grad.shape)
        self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, sd: dict) -> None:
        self.optimizer.load_state_dict(sd)
