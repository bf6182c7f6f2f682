"""The local executor: runs on a pool of spawned worker processes on this machine."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from ... import runtime
from .task import RunFn, RunTask, execute, record_failure

__all__ = ["PoolExecutor"]

_started = None  # in a worker: the queue on which it announces each run it starts


def _init_worker(threads: int, started) -> None:
    """Pin BLAS to ``threads`` in a worker so N workers use N x threads cores."""
    global _started
    _started = started
    runtime.pin_process_threads(threads)


def _announce_and_execute(name: str, run_fn, settings: dict, run_dir: str) -> dict:
    _started.put(name)
    return execute(run_fn, settings, run_dir)


class PoolExecutor:
    """``workers`` processes (default: cores // ``cpus_per_run``), each run's BLAS
    pinned to ``cpus_per_run`` threads; ``workers == 1`` runs in this process.

    Runs are handed out one per free worker (none queued ahead), so Ctrl-C, which
    reaches the workers too, leaves no queued run to start afterwards. When a worker
    dies, the pool breaks and takes every run in flight with it: each is handed out
    again on a new pool (resuming from its checkpoint). A run that had started spends
    one of its ``max_retries`` (the pool cannot tell whose worker died); one that had
    not started yet spends none. A run out of retries is recorded as failed."""

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

    def _new_pool(self, workers: int):
        """A pool of spawned workers and the queue on which they announce each start."""
        ctx = get_context("spawn")
        started = ctx.SimpleQueue()
        with runtime.pinned_threads(self.cpus_per_run):  # spawned workers read these as BLAS loads
            pool = ProcessPoolExecutor(
                workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self.cpus_per_run, started),
            )
        return pool, started

    def _run_pool(self, run_fn, queue: list[RunTask], finish, workers: int) -> None:
        (pool, started), inflight, attempts = self._new_pool(workers), {}, {}

        def submit_next() -> None:
            t = queue.pop(0)
            fut = pool.submit(_announce_and_execute, t.name, run_fn, t.settings, t.run_dir)
            inflight[fut] = t

        try:
            for _ in range(min(workers, len(queue))):
                submit_next()
            while inflight:
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    # A worker died (killed, out of memory): every run in flight is lost.
                    # The pool fails the futures before it stops the other workers, so
                    # read who started only once they are gone: a run announced after
                    # the failure still counts.
                    pool.shutdown(wait=True, cancel_futures=True)
                    ran = set()
                    while not started.empty():
                        ran.add(started.get())
                    for fut, t in list(inflight.items()):
                        del inflight[fut]
                        if fut.done() and fut.exception() is None:
                            finish(t, fut.result())
                            continue
                        attempts[t.name] = attempts.get(t.name, 0) + (t.name in ran)
                        if attempts[t.name] <= self.max_retries:
                            queue.insert(0, t)
                            continue
                        err = f"worker process died; gave up after {attempts[t.name]} attempts"
                        record_failure(t.run_dir, err)
                        finish(t, {"status": "failed", "error": err})
                    pool, started = self._new_pool(workers)
                else:
                    for fut in done:
                        finish(inflight.pop(fut), fut.result())
                while queue and len(inflight) < workers:
                    submit_next()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
