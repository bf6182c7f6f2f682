"""The local executor: runs on a pool of spawned worker processes on this machine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from . import RunTask
from .task import RunFn, execute, pinned_threads, record_failure, thread_env

__all__ = ["PoolExecutor"]


def _init_worker(threads: int) -> None:
    """Pin BLAS to ``threads`` in a worker so N workers use N x threads cores."""
    os.environ.update(thread_env(threads))
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        globals()["_limits"] = threadpool_limits(limits=threads)


class PoolExecutor:
    """``workers`` processes (default: cores // ``cpus_per_run``), each run's BLAS
    pinned to ``cpus_per_run`` threads; ``workers == 1`` runs in this process.

    Runs are handed out one per free worker (none queued ahead), so Ctrl-C, which
    reaches the workers too, leaves no queued run to start afterwards. When a worker
    dies, the pool breaks and every run in flight is handed out again on a new pool
    (resuming from its checkpoint), at most ``max_retries`` times per run. The pool
    cannot tell whose worker died, so each run in flight spends one of its retries."""

    name = "pool"

    def __init__(self, workers: int | None = None, cpus_per_run: int = 1, max_retries: int = 2):
        self.workers, self.cpus_per_run, self.max_retries = workers, cpus_per_run, max_retries

    def run(self, run_fn: RunFn | str, tasks: Sequence[RunTask], finish) -> None:
        cores = max(1, (os.cpu_count() or 1) // self.cpus_per_run)
        workers = max(1, min(self.workers or cores, len(tasks) or 1))
        if workers == 1:
            for t in tasks:
                finish(t, execute(run_fn, t.settings, t.run_dir))
        elif tasks:
            self._run_pool(run_fn, list(tasks), finish, workers)

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        # Spawned workers read the thread variables when BLAS loads.
        with pinned_threads(self.cpus_per_run):
            ctx = get_context("spawn")
            return ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=_init_worker, initargs=(self.cpus_per_run,)
            )

    def _run_pool(self, run_fn, queue: list[RunTask], finish, workers: int) -> None:
        pool, inflight, attempts = self._new_pool(workers), {}, {}

        def submit_next() -> None:
            t = queue.pop(0)
            attempts[t.name] = attempts.get(t.name, 0) + 1
            inflight[pool.submit(execute, run_fn, t.settings, t.run_dir)] = t

        try:
            for _ in range(min(workers, len(queue))):
                submit_next()
            while inflight:
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    t = inflight.pop(fut)
                    try:
                        finish(t, fut.result())
                    except BrokenProcessPool as exc:  # a worker died: killed, out of memory
                        broken = True
                        if attempts[t.name] <= self.max_retries:
                            queue.insert(0, t)
                        else:
                            err = (
                                f"worker process died ({exc}); gave up after "
                                f"{attempts[t.name]} attempts"
                            )
                            record_failure(t.run_dir, err)
                            finish(t, {"status": "failed", "error": err})
                if broken:  # every other run in flight is lost with the pool: hand it out again
                    for fut, t in list(inflight.items()):
                        queue.insert(0, t)
                        del inflight[fut]
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._new_pool(workers)
                while queue and len(inflight) < workers:
                    submit_next()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
