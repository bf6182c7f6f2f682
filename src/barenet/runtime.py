"""Process-wide settings: everything barenet changes outside its own objects, in one place.

A library should not surprise the process it runs in, so each setting is listed here
with its reason and its opt-out. ``import barenet`` applies the first two, whatever
was imported before it (NumPy included), so that a training loop of your own runs as
fast as ``fit`` without calling anything; the others apply when their feature is used.

BLAS thread timeout (``set_blas_thread_timeout``, at import)
    OpenBLAS's idle threads spin for about 0.1 s after each threaded GEMM, taking a core
    from barenet's convolution threads; with ``OPENBLAS_THREAD_TIMEOUT=4`` they sleep at
    once. Opt-out: set ``OPENBLAS_THREAD_TIMEOUT`` yourself, or
    ``BARENET_BLAS_THREAD_TIMEOUT=0``.
Keep freed memory (``keep_freed_memory``, at import)
    A training step frees and allocates the same multi-megabyte arrays; served from
    fresh pages, each costs page faults (a quarter of a CNN step), kept on the heap
    (glibc's mmap and trim thresholds raised) it costs none. Opt-out:
    ``BARENET_KEEP_FREED_MEMORY=0``, or set ``MALLOC_MMAP_THRESHOLD_`` /
    ``MALLOC_TRIM_THRESHOLD_``.
Fork hooks (``at_fork_in_child``, registered by the thread pool)
    A forked child has none of its parent's threads, so the pool is forgotten there and
    started afresh on demand. Opt-out: ``BARENET_NUM_THREADS=1`` (no pool: the hook has
    nothing to do).
NumPy's global generator (``seeds_numpy_global``, asked by ``barenet.seed``)
    ``barenet.seed(n)`` also seeds ``np.random``, so code that draws from it repeats
    too. Opt-out: ``BARENET_SEED_NUMPY=0``.
Worker threads (``pinned_threads``, ``pin_process_threads``: sweep runs, MPI ranks)
    A sweep run's BLAS and kernels use ``cpus_per_run`` threads (default 1), so that N
    workers use N cores rather than N x cores' worth of threads; MPI ranks on one
    machine share its cores (``distributed.comm.share_cores``). Opt-out: ``barenet
    sweep --cpus-per-run K``; for MPI, set any thread variable yourself.

This module imports only the standard library at the top, so that
``barenet/__init__.py`` can run ``at_import()`` before NumPy loads.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable, Iterator

# -- BLAS thread timeout ---------------------------------------------------------------------
BLAS_THREAD_TIMEOUT = "4"  # OpenBLAS's unit: idle threads wait 2**4 cycles before sleeping


def set_blas_thread_timeout() -> bool:
    """Make OpenBLAS's idle threads sleep at once (``OPENBLAS_THREAD_TIMEOUT=4``); True
    when that is in effect.

    OpenBLAS reads the variable once, when it loads. Before NumPy is imported, setting it
    is enough. When NumPy came first, OpenBLAS is told to re-read its environment and its
    threads are stopped; the next threaded GEMM starts them again with the new timeout
    (the same restart OpenBLAS does in a forked child). Left alone when the variable is
    set already (the user's choice) or ``BARENET_BLAS_THREAD_TIMEOUT=0``.
    """
    if os.environ.get("BARENET_BLAS_THREAD_TIMEOUT", "1") == "0":
        return False
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return os.environ["OPENBLAS_THREAD_TIMEOUT"] == BLAS_THREAD_TIMEOUT
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = BLAS_THREAD_TIMEOUT
    if "numpy" not in sys.modules:
        return True
    return _restart_openblas_threads() > 0


def _restart_openblas_threads() -> int:
    """Have every loaded OpenBLAS (pthreads build) re-read its environment and stop its
    threads; returns how many did."""
    try:  # optional engine: threadpoolctl, loaded when used
        from threadpoolctl import ThreadpoolController

        libs = ThreadpoolController().lib_controllers
    except Exception:  # noqa: BLE001 - without threadpoolctl there is nothing to find
        return 0
    done = 0
    for lib in libs:
        if lib.internal_api != "openblas" or getattr(lib, "threading_layer", "") != "pthreads":
            continue
        try:
            so = ctypes.CDLL(lib.filepath)
            read_env, timeout = so.openblas_read_env, so.openblas_thread_timeout
            shutdown = so.blas_thread_shutdown_
        except (OSError, AttributeError):  # another build: leave it as it is
            continue
        timeout.restype = ctypes.c_uint
        read_env()
        if timeout() == int(BLAS_THREAD_TIMEOUT):
            shutdown()
            done += 1
    return done


# -- keep freed memory ----------------------------------------------------------------------
MMAP_THRESHOLD = 64 << 20  # blocks below this come from the heap
TRIM_THRESHOLD = 512 << 20  # free heap kept up to this before returning it
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers

_kept: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (once per process); True when they are in
    effect. The peak memory is the same; the resident set just does not shrink between
    steps. A no-op off Linux, on a libc without ``mallopt``, when the environment tunes
    malloc itself (``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``) or says
    ``BARENET_KEEP_FREED_MEMORY=0``."""
    global _kept
    if _kept is not None:
        return _kept
    _kept = False
    if not sys.platform.startswith("linux"):
        return False
    if os.environ.get("BARENET_KEEP_FREED_MEMORY", "1") == "0" or any(
        v in os.environ for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): leave malloc alone
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _kept = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _kept


# -- fork hooks -------------------------------------------------------------------------------
fork_hooks: list[Callable[[], None]] = []  # what runs in a forked child, in order


def _after_fork_in_child() -> None:
    for hook in fork_hooks:
        hook()


os.register_at_fork(after_in_child=_after_fork_in_child)


def at_fork_in_child(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook()`` in every child this process forks from now on; returns the hook."""
    if hook not in fork_hooks:
        fork_hooks.append(hook)
    return hook


# -- NumPy's global generator -----------------------------------------------------------------
def seeds_numpy_global() -> bool:
    """Whether ``barenet.seed`` also seeds ``np.random`` (unless ``BARENET_SEED_NUMPY=0``).
    This module loads before NumPy (it sets NumPy's thread variables), so the seeding
    itself is ``barenet.core.config.seed``'s."""
    return os.environ.get("BARENET_SEED_NUMPY", "1") != "0"


# -- worker threads (sweep runs, MPI ranks) ---------------------------------------------------
THREAD_VARS = (
    "BARENET_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

_worker_limits = None  # the threadpoolctl limit of pin_process_threads, kept with the process


def thread_env(threads: int) -> dict[str, str]:
    """The environment that makes BLAS and barenet's kernels use ``threads`` threads."""
    return {v: str(int(threads)) for v in THREAD_VARS}


def pin_process_threads(threads: int) -> None:
    """For the rest of this process (a worker): the thread variables set to ``threads``
    (libraries loaded later read them) and the BLAS already loaded resized to it."""
    global _worker_limits
    os.environ.update(thread_env(threads))
    with contextlib.suppress(ImportError):  # optional engine: threadpoolctl, loaded when used
        from threadpoolctl import threadpool_limits

        _worker_limits = threadpool_limits(limits=int(threads))


@contextlib.contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """The body runs with BLAS and barenet's kernels on ``threads`` threads (processes
    spawned meanwhile inherit the variables); both are restored afterwards."""
    old = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update(thread_env(threads))
    limits = contextlib.nullcontext()
    with contextlib.suppress(ImportError):  # optional engine: threadpoolctl, loaded when used
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=int(threads))
    try:
        with limits:
            yield
    finally:
        for v, val in old.items():
            if val is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = val


def at_import() -> None:
    """What ``import barenet`` sets: the BLAS thread timeout (before NumPy loads) and
    freed memory kept in the process."""
    set_blas_thread_timeout()
    keep_freed_memory()
