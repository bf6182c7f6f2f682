"""Where a sweep's runs execute: one small interface, two engines.

An executor takes the sweep's pending runs and calls ``finish(task, result)`` once
for every one of them, in any order; ``result`` is what
:func:`barenet.experiments.executors.task.execute` returns (``{"status": "done",
"metrics"}`` or ``{"status": "failed", "error"}``). Everything else — which runs are
pending, resuming, the tables — is the sweep's, so a sweep interrupted under one
executor continues under the other.

- ``pool`` (:class:`PoolExecutor`): worker processes on this machine;
- ``ray`` (:class:`RayExecutor`): one plain Ray task per run, on a local Ray or on
  the cluster at ``address``. Needs ``pip install barenet[ray]``.

A worker that dies (killed, out of memory) is retried up to ``max_retries`` times,
resuming from the run's last checkpoint, then recorded as failed: a run is never
dropped silently.
"""

from __future__ import annotations

from .pool import PoolExecutor
from .ray_cluster import RayExecutor
from .task import Executor, Finish, RunTask

__all__ = ["EXECUTORS", "Executor", "Finish", "RunTask", "make_executor"]

EXECUTORS = ("pool", "ray")


def make_executor(
    kind: str = "pool",
    *,
    workers: int | None = None,
    address: str | None = None,
    cpus_per_run: int = 1,
    max_retries: int = 2,
) -> Executor:
    """The executor named ``kind`` (``"pool"`` or ``"ray"``).

    ``workers``: pool processes (default: cores // ``cpus_per_run``; 1 runs in this
    process); ``address``: the Ray cluster (``None`` starts a local Ray for the
    sweep's duration, ``"auto"`` finds one started on this machine with ``ray start``,
    ``"HOST:PORT"`` a remote head); ``cpus_per_run``: cores each run gets, with its
    BLAS pinned to that many threads; ``max_retries``: new attempts for a run whose
    worker died."""

    def positive(v) -> bool:
        return not isinstance(v, bool) and int(v) == v and v >= 1

    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if not positive(cpus_per_run):
        raise ValueError(f"cpus_per_run must be a positive int, got {cpus_per_run!r}")
    if not positive(max_retries + 1):
        raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
    if workers is not None and not positive(workers):
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if kind == "ray":
        if workers is not None:
            raise ValueError("workers applies to the pool executor; Ray runs as many as fit")
        return RayExecutor(address, cpus_per_run=int(cpus_per_run), max_retries=int(max_retries))
    if address is not None:
        raise ValueError("address applies to the ray executor, not to the pool")
    return PoolExecutor(workers, cpus_per_run=int(cpus_per_run), max_retries=int(max_retries))
