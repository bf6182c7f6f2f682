"""The thread pool: big element-wise jobs split over a few threads, and many small jobs
(a convolution's runs of images) spread over them.

NumPy releases the GIL inside ufunc loops and array copies, so a large copy or
comparison split into disjoint chunks runs on several cores at once. ``chunked``
calls ``fn(lo, hi)`` for consecutive ranges covering ``0..n`` on a persistent
thread pool, the calling thread taking the last range itself. Each call must write
only its own part of the output, so results do not depend on the thread count
(no reduction is ever split).

Jobs with less output than ``settings.parallel_min_bytes`` stay on the calling thread:
waking a sleeping thread and waiting for it costs more than they take. The thread count
is ``BARENET_NUM_THREADS`` when set (1 disables threading), else
the BLAS thread setting (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS``) capped by ``os.cpu_count()``. Never call it around a BLAS call:
they would compete for the same cores (a call from inside a chunk runs serially).

``for_each`` is the other pattern: many small independent jobs (a convolution's
runs of images), each with its own GEMMs. There the BLAS is set to one thread for
the duration, so that the jobs, not the BLAS, are what runs side by side; a small
GEMM on its own core beats a small GEMM split over two.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

import numpy as np

from ...runtime import at_fork_in_child
from .tuning import settings

# Ranges per thread: small enough to even out a paused thread, big enough to be cheap.
_PIECES = 4

_PREFIX = "barenet-worker"
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()
_local = threading.local()  # .inside: this thread is running a job of for_each
_blas: list | None = None  # threadpoolctl controllers of the loaded BLAS libraries


_CORES = os.cpu_count() or 1  # asked once: the call is not free, and for_each asks often


def num_threads() -> int:
    """Threads the element-wise kernels may use (>= 1)."""
    cores = _CORES
    env = os.environ.get("BARENET_NUM_THREADS")
    if env is not None:
        try:
            want = int(env)
        except ValueError:
            raise ValueError(f"BARENET_NUM_THREADS must be an integer, got {env!r}") from None
        return max(1, want)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        v = os.environ.get(var, "")
        if v.isdigit() and int(v) > 0:
            return max(1, min(cores, int(v)))
    return max(1, cores)


def _get_pool(k: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < k - 1:  # a smaller old pool is left to finish
            _pool = ThreadPoolExecutor(max_workers=k - 1, thread_name_prefix=_PREFIX)
            _pool_size = k - 1
        return _pool


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool on demand."""
    global _pool, _pool_size, _lock, _local
    _pool, _pool_size, _lock, _local = None, 0, threading.Lock(), threading.local()


def _inside() -> bool:
    """True on a pool thread or on a thread running jobs of for_each: work started
    there stays on that thread."""
    return getattr(_local, "inside", False) or threading.current_thread().name.startswith(_PREFIX)


def _blas_controllers() -> list:
    """The BLAS libraries whose thread count can be set (empty without threadpoolctl)."""
    global _blas
    if _blas is None:
        try:  # optional engine: threadpoolctl, loaded when used
            from threadpoolctl import ThreadpoolController

            _blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
        except Exception:  # noqa: BLE001 - no control means: do not run GEMMs side by side
            _blas = []
    return _blas


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with every BLAS library set to one thread, then restore the counts."""
    libs = _blas_controllers()
    old = [c.get_num_threads() for c in libs]
    for c in libs:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c, n in zip(libs, old):
            c.set_num_threads(n)


at_fork_in_child(_forget_pool)


def splits(n: int, nbytes: int) -> list[tuple[int, int]]:
    """Ranges (lo, hi) over 0..n-1, one per thread: a single range when the job of
    ``nbytes`` is small, n < 2, or only one thread is allowed."""
    k = min(num_threads(), n) if nbytes >= settings.parallel_min_bytes else 1
    if k <= 1:
        return [(0, n)]
    bounds = [n * i // k for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


def chunked(fn: Callable[[int, int], object], n: int, nbytes: int) -> None:
    """Run ``fn(lo, hi)`` over ranges covering 0..n-1, in parallel when the job of
    ``nbytes`` bytes is big enough; returns when every range is done (re-raising the
    first error).

    The job is cut into a few ranges per thread, handed out in order to whichever
    thread is free (the caller included): a thread the OS pauses does not hold up
    the others. Which thread runs a range never changes what it writes.
    """
    parts = splits(n, nbytes)
    if len(parts) == 1 or _inside():
        fn(0, n)  # small, single-threaded, or already inside a chunk: no nesting
        return
    k = len(parts)
    m = min(n, k * _PIECES)
    bounds = [n * i // m for i in range(m + 1)]
    _spread(lambda i, _slot: fn(bounds[i], bounds[i + 1]), m, k)


def for_each(fn: Callable[[int, int], object], n: int, gemm: bool = False) -> None:
    """Call ``fn(i, slot)`` for every job i in 0..n-1, on up to ``num_threads()`` threads.

    Jobs are handed out in order to whichever thread is free; ``slot`` (0..threads-1)
    names the thread running the job, so ``fn`` can keep one workspace per slot. Each
    job must write only its own outputs: then the result does not depend on the thread
    count. ``gemm=True`` says the jobs call BLAS: the BLAS then runs one thread while
    they do, and where its thread count cannot be set (no threadpoolctl) the jobs run
    one after another on the calling thread. Returns when all are done, re-raising the
    first error.
    """
    k = min(num_threads(), n)
    if k > 1 and gemm and not _blas_controllers():
        k = 1
    if k <= 1 or _inside():
        # Serial: still with a one-thread BLAS, so that its threads never wake (an idle
        # OpenBLAS thread spins for a while after a job, taking a core from ours).
        with single_threaded_blas() if gemm and not _inside() else nullcontext():
            for i in range(n):
                fn(i, 0)
        return
    with single_threaded_blas() if gemm else nullcontext():
        _spread(fn, n, k)


def _spread(job: Callable[[int, int], object], n: int, k: int) -> None:
    """``job(i, slot)`` for i in 0..n-1 on k threads, the caller being slot 0: jobs are
    handed out in order to whichever thread is free, so a thread the OS pauses does not
    hold up the others. Returns when all are done, re-raising the first error."""
    ticket = itertools.count()

    def worker(slot: int) -> None:
        _local.inside = True  # work started from a job stays on its thread
        try:
            while (i := next(ticket)) < n:
                job(i, slot)
        finally:
            _local.inside = False

    pool = _get_pool(k)
    futures = [pool.submit(worker, s) for s in range(1, k)]
    try:
        worker(0)
    finally:
        for f in futures:
            if not f.cancel():  # one that never started has nothing left to do: no wait
                f.result()


_scratch = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A work array of ``shape`` private to the calling thread, reused from call to call
    (its contents are whatever the thread last left in it). Threads of the pool live as
    long as the process, so a layer's per-job buffers cost one allocation per thread."""
    dtype = np.dtype(dtype)
    size = math.prod(shape) * dtype.itemsize
    buf = getattr(_scratch, name, None)
    if buf is None or buf.nbytes < size:
        buf = np.empty(max(size, 1), dtype=np.uint8)
        setattr(_scratch, name, buf)
    return buf[:size].view(dtype).reshape(shape)


def outer_axis(a: np.ndarray) -> int:
    """The axis of ``a`` with the largest stride among those longer than 1 (the outermost
    in memory), along which chunks are contiguous blocks; 0 for a 0-d or all-ones shape."""
    best, axis = -1, 0
    for ax, (size, st) in enumerate(zip(a.shape, a.strides)):
        if size > 1 and abs(st) > best:
            best, axis = abs(st), ax
    return axis


def _sl(a: np.ndarray, axis: int, lo: int, hi: int) -> np.ndarray:
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(lo, hi)
    return a[tuple(idx)]


def map_into(ufunc, out: np.ndarray, *args, axis: int | None = None, **kw) -> np.ndarray:
    """``ufunc(*args, out=out, **kw)`` split along ``axis`` of out (default its outermost
    axis in memory); every array argument must have out's shape (scalars are passed
    as they are). Returns out."""
    if out.ndim == 0:
        ufunc(*args, out=out, **kw)
        return out
    ax = outer_axis(out) if axis is None else axis

    def run(lo, hi):
        parts = [_sl(a, ax, lo, hi) if isinstance(a, np.ndarray) and a.ndim else a for a in args]
        ufunc(*parts, out=_sl(out, ax, lo, hi), **kw)

    chunked(run, out.shape[ax], out.nbytes)
    return out


def copy_into(dst: np.ndarray, src: np.ndarray, axis: int | None = None) -> np.ndarray:
    """``dst[...] = src`` (same shapes), split along ``axis`` of dst (default its outermost
    axis in memory). Returns dst."""
    if dst.ndim == 0:
        dst[...] = src
        return dst
    ax = outer_axis(dst) if axis is None else axis

    def run(lo, hi):
        _sl(dst, ax, lo, hi)[...] = _sl(src, ax, lo, hi)

    chunked(run, dst.shape[ax], dst.nbytes)
    return dst


def dense_flat(*arrays: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """1-D views of arrays that share one dense memory order (that of the first: its axes
    sorted by stride, outermost first), element k of each view being the same index of
    every array; None when one of them is not dense in that order."""
    first = arrays[0]
    if all(a.flags.c_contiguous and a.shape == first.shape for a in arrays):
        return tuple(a.reshape(-1) for a in arrays)
    perm = sorted(range(first.ndim), key=lambda ax: -abs(first.strides[ax]))
    flats = []
    for a in arrays:
        if a.shape != first.shape:
            return None
        t = a.transpose(perm)
        if not t.flags.c_contiguous:
            return None
        flats.append(t.reshape(-1))
    return tuple(flats)
