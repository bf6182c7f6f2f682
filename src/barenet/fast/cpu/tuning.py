"""The choices the fast NumPy kernels make by shape, and the one supported way to force them.

Each kernel picks its path from the shapes it is given (which column layout for a
convolution, the pairwise 2x2 max-pool, how many images per run, when to use threads).
``settings`` holds every such switch and size; ``tuned(...)`` changes some of them for
the duration of a ``with`` block, so that tests and benchmarks can reach every path
with small arrays:

    with tuned(conv_layout="pixel", run_bytes=1):   # pixel columns, one image per run
        layer(x)

Every path computes the same numbers as the reference kernels (up to rounding), so
nothing here changes a result beyond the last bits, only how fast it comes.
``python benchmarks/kernels.py`` measures the effect of each choice on this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace

CONV_LAYOUTS = ("flat", "channel", "pixel")


@dataclass
class Tuning:
    """Every choice of the fast NumPy kernels that tests or benchmarks may set."""

    # Conv2d column layout: None = chosen by shape; "flat" (stride 1 only, else
    # "channel"), "channel" or "pixel" = always that one.
    conv_layout: str | None = None
    # Conv2d builds and consumes its columns a run of images at a time, about this many
    # bytes of columns per run, so that the run's GEMMs read them from cache ...
    run_bytes: int = 2 << 20
    # ... and in at least this many runs when the batch allows, so every thread has work.
    min_runs: int = 4
    # Channel columns write the output in (N, OH, OW, O) memory from this many output
    # channels on (the rows of O numbers then serve pooling and the next convolution).
    nhwc_out_min_channels: int = 32
    # MaxPool2d 2x2 / stride 2 on even sizes: pairwise comparisons over long rows
    # (False: the general strided-window path for every shape).
    maxpool_2x2: bool = True
    # The pairwise max-pool copies short strided rows into contiguous halves, this many
    # bytes per half at a time.
    pool_piece_bytes: int = 1 << 18
    # OpenBLAS's small-matrix kernels handle products up to about this M·N·K; longer
    # ones with a tiny M x N are cut into pieces of K (see gemm.py).
    small_gemm_mnk: int = 1_000_000
    # Element-wise jobs with less output than this stay on the calling thread.
    parallel_min_bytes: int = 6 << 20


settings = Tuning()


_LEAST = {"parallel_min_bytes": 0}  # 0: thread every job, however small


def _check(name: str, value) -> None:
    if name == "conv_layout":
        if value is not None and value not in CONV_LAYOUTS:
            raise ValueError(f"tuned: conv_layout must be None or one of {CONV_LAYOUTS}")
    elif name == "maxpool_2x2":
        if not isinstance(value, bool):
            raise TypeError(f"tuned: maxpool_2x2 must be a bool, got {value!r}")
    elif not isinstance(value, int) or isinstance(value, bool) or value < _LEAST.get(name, 1):
        raise ValueError(f"tuned: {name} must be an int >= {_LEAST.get(name, 1)}, got {value!r}")


@contextmanager
def tuned(**changes) -> Iterator[Tuning]:
    """Set fields of ``settings`` for the duration of the block (then restore them)."""
    known = {f.name for f in fields(Tuning)}
    for name, value in changes.items():
        if name not in known:
            raise TypeError(f"tuned: unknown setting {name!r}; known: {sorted(known)}")
        _check(name, value)
    saved = replace(settings)
    for name, value in changes.items():
        setattr(settings, name, value)
    try:
        yield settings
    finally:
        for f in fields(Tuning):
            setattr(settings, f.name, getattr(saved, f.name))
