"""Keep freed memory in the process: NumPy's big arrays then stop costing page faults.

Each training step allocates and frees the same multi-megabyte arrays (activations,
gradients, columns). glibc serves blocks above its mmap threshold from fresh
``mmap`` pages and returns trimmed heap to the system, so every step touches new
pages that the kernel must fault in and zero: a quarter of a CNN step on a 2-core
machine (cnn-deep: 71 ms → 55 ms per step of 100 images). Raising the mmap and
trim thresholds keeps those blocks on the heap for reuse; the peak memory is the
same, the resident set just does not shrink between steps.

``keep_freed_memory()`` does that once per process with ``mallopt`` (glibc only; a
no-op elsewhere). It is skipped when the environment already tunes glibc's malloc
(``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``) or sets
``BARENET_KEEP_FREED_MEMORY=0``. ``fit`` and the command line call it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

MMAP_THRESHOLD = 64 << 20  # blocks below this come from the heap
TRIM_THRESHOLD = 512 << 20  # free heap kept up to this before returning it
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (once); True when they are in effect."""
    global _done
    if _done is not None:
        return _done
    _done = False
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
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _done
