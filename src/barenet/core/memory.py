"""Memory checks made before an allocation whose size comes from a file or an argument.

A model file, an IDX header or a command-line flag can ask for any size: a 37 GiB
``Linear``, a 7 TiB array, a batch of 10⁸ images. Allocating first and catching
``MemoryError`` afterwards is not an option: with Linux's overcommit the allocation
may succeed and the process be killed when the pages are touched. So the size is
estimated first and compared with what the process may still use:

- the address-space limit (``RLIMIT_AS``) minus what the process already maps;
- the memory limit of its cgroup (containers) minus what the group already uses;
- the machine's available memory plus free swap (``/proc/meminfo``).

The smallest of those that is known is the budget; a request above it raises
:class:`MemoryLimitError` (a ``ValueError``) naming what asked for the memory.
Requests under :data:`SMALL` are not checked (that costs a few file reads).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

try:
    import resource  # POSIX only
except ImportError:  # pragma: no cover - depends on the platform
    resource = None

import numpy as np

from .module import Residual, Sequential

__all__ = [
    "MemoryLimitError",
    "SMALL",
    "available_bytes",
    "check_fits",
    "check_forward_fits",
    "check_parameters_fit",
    "format_bytes",
    "forward_bytes",
    "nbytes_of",
]

#: Requests below this many bytes are allowed without looking at the budget.
SMALL = 64 * 2**20


class MemoryLimitError(ValueError):
    """A size from a file or an argument that would need more memory than is available."""


def format_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``; binary units up to EiB."""
    n = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            break
        n /= 1024
    if unit == "PiB" and abs(n) >= 1024:
        return f"{n / 1024:.1f} EiB"
    return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo() -> int | None:
    """MemAvailable + SwapFree in bytes, or None off Linux."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return None
    try:
        avail = int(fields["MemAvailable"].split()[0])
        swap = int(fields.get("SwapFree", "0 kB").split()[0])
    except (KeyError, ValueError, IndexError):
        return None
    return (avail + swap) * 1024


def _address_space_left() -> int | None:
    if resource is None:  # pragma: no cover - not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = 0
    return max(0, soft - mapped)


def _cgroup_left() -> int | None:
    limit = _read_int("/sys/fs/cgroup/memory.max")  # "max" (no limit) reads as None
    if limit is None:
        return None
    used = _read_int("/sys/fs/cgroup/memory.current") or 0
    return max(0, limit - used)


def available_bytes() -> int | None:
    """The most this process may still allocate, in bytes (None: nothing known)."""
    known = [v for v in (_address_space_left(), _cgroup_left(), _meminfo()) if v is not None]
    return min(known) if known else None


def check_fits(nbytes: int, what: str) -> None:
    """Raise :class:`MemoryLimitError` if ``nbytes`` (a Python int, never wrapped) is more
    than :func:`available_bytes`; ``what`` names the request in the message."""
    nbytes = int(nbytes)
    if nbytes < SMALL:
        return
    avail = available_bytes()
    if avail is not None and nbytes > avail:
        raise MemoryLimitError(
            f"{what} needs {format_bytes(nbytes)}, more than the {format_bytes(avail)} "
            "of memory available"
        )


def nbytes_of(shapes: Iterable[tuple[int, ...]], dtype) -> int:
    """Bytes of arrays of these shapes in ``dtype``, as an exact Python int."""
    size = np.dtype(dtype).itemsize
    total = 0
    for shape in shapes:
        n = 1
        for s in shape:
            n *= int(s)
        total += n * size
    return total


def forward_bytes(model, in_shape: tuple[int, ...], dtype) -> int | None:
    """Bytes a training forward of ``model`` on a batch of ``in_shape`` keeps: the input
    and the output of every layer (what backward needs), from each layer's
    ``output_shape``. None where some layer cannot tell its output shape."""
    item = np.dtype(dtype).itemsize

    def size(shape) -> int:
        return nbytes_of([shape], np.uint8) * item

    def walk(m, shape) -> tuple[tuple[int, ...], int] | None:
        if isinstance(m, Sequential):
            total = 0
            for child in m.children():
                step = walk(child, shape)
                if step is None:
                    return None
                shape, b = step
                total += b
            return shape, total
        if isinstance(m, Residual):
            body = walk(m.body, shape)
            short = (tuple(shape), 0) if m.shortcut is None else walk(m.shortcut, shape)
            if body is None or short is None:
                return None
            return body[0], body[1] + short[1] + size(body[0])
        try:
            out = m.output_shape(tuple(shape))
        except (ValueError, TypeError, IndexError):
            return None
        return None if out is None else (tuple(out), size(out))

    done = walk(model, tuple(in_shape))
    return None if done is None else size(in_shape) + done[1]


def check_forward_fits(model, in_shape: tuple[int, ...], dtype, what: str) -> None:
    """:func:`check_fits` for a forward of ``model`` on a batch of ``in_shape`` (the
    input alone where the layers cannot tell their output shapes)."""
    need = forward_bytes(model, in_shape, dtype)
    check_fits(nbytes_of([in_shape], dtype) if need is None else need, what)


def check_parameters_fit(shapes: Iterable[tuple[int, ...]], dtype, what: str) -> None:
    """:func:`check_fits` for new parameters of these shapes: per number, the array
    and its copy in ``Parameter``, the gradient, and the float64 draw that initialises it."""
    shapes = list(shapes)
    per_number = 3 * np.dtype(dtype).itemsize + 8
    check_fits(nbytes_of(shapes, np.uint8) * per_number, what)
