"""The measurements behind the fast kernels' choices, re-measured on this machine.

    python benchmarks/kernels.py [STUDY ...] [--repeats 7]

The code of ``barenet.fast.cpu`` keeps a one-line *why* beside each choice; the
figures that back it (microseconds, GFLOP/s) come from here, so they never go stale
in a comment. Each study prints the median of ``--repeats`` timings per variant:

    dispatch   what choosing kernels costs per layer call (kernels_for, a ReLU layer
               against its kernel called directly)
    reference  fast against reference kernels, per layer family, on cnn-deep's shapes
    maximum    max(x, 0) against a scalar, against a constant row, against an array
               (why ReLU reads its bound as a row: tuning of activation.CONST_ROW)
    rows       NumPy's cost per row of a strided view: a max of interleaved halves with
               short rows, against contiguous halves (why pool.LONG_ROW copies first)
    pool       2x2 max-pool, pairwise path against the general one, in each memory order
    gemm       products in small-matrix pieces against one call, on one thread (why
               gemm.py cuts a long K and narrow products with a short K)
    linear     yᵀ = W xᵀ against y = x Wᵀ for a Linear layer's GEMM (fast/cpu/linear.py)
    threads    an element-wise job split over the threads against one thread, by size
               (why tuning.parallel_min_bytes is a few MB), and the cost of asking
               os.cpu_count() (why parallel.py asks once)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import barenet as bn
from barenet.core.dispatch import kernels_for
from barenet.fast.cpu import activation, gemm, linear, parallel, pool, tuned
from barenet.fast.cpu.layout import empty_in


def _median_s(fn, repeats: int, number: int = 1) -> float:
    """Median seconds of one call of ``fn`` (timed ``number`` calls at a time)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def _row(label: str, seconds: float, extra: str = "") -> None:
    print(f"  {label:<58} {seconds * 1e6:>10.1f} µs  {extra}")


def _one_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


# -- studies ----------------------------------------------------------------------------------
def study_dispatch(repeats: int) -> None:
    x = np.zeros((4, 8), np.float32)
    _row("kernels_for('relu', x)", _median_s(lambda: kernels_for("relu", x), repeats, 10000))
    layer = bn.ReLU()
    _row("ReLU layer forward, 4x8", _median_s(lambda: layer(x), repeats, 10000))
    _row(
        "fast relu_forward kernel alone, 4x8",
        _median_s(lambda: activation.relu_forward(x), repeats, 10000),
    )


def study_reference(repeats: int) -> None:
    rng = np.random.default_rng(0)
    cases = [
        ("conv 1->16 28x28", bn.Conv2d(1, 16, 3), (100, 1, 28, 28)),
        ("conv 16->16 26x26 (flat)", bn.Conv2d(16, 16, 3), (100, 16, 26, 26)),
        ("conv 16->32 12x12 (pixel)", bn.Conv2d(16, 32, 3), (100, 16, 12, 12)),
        ("conv 32->64 4x4 pad 1", bn.Conv2d(32, 64, 3, padding=1), (100, 32, 4, 4)),
        ("maxpool 2x2 on 16x24x24", bn.MaxPool2d(2), (100, 16, 24, 24)),
        ("relu on 16x26x26", bn.ReLU(), (100, 16, 26, 26)),
        ("linear 256->50", bn.Linear(256, 50), (100, 256)),
    ]
    for label, layer, shape in cases:
        x = rng.standard_normal(shape, dtype=np.float32)
        dy = rng.standard_normal(layer(x).shape, dtype=np.float32)

        def step(layer=layer, x=x, dy=dy):
            layer(x)
            layer.backward(dy)

        fast = _median_s(step, repeats)
        with bn.kernels("reference"):
            ref = _median_s(step, repeats)
        _row(
            f"{label}: fast forward+backward",
            fast,
            f"reference {ref * 1e3:.2f} ms ({ref / fast:.1f}x)",
        )


def study_maximum(repeats: int) -> None:
    x = np.random.default_rng(0).standard_normal(1 << 20, dtype=np.float32)  # 4 MB
    out = np.empty_like(x)
    mb = x.nbytes / 2**20
    y = np.zeros_like(x)
    with tuned(parallel_min_bytes=1 << 40):  # one thread: the loop itself
        _row(
            "np.maximum(x, 0.0), per MB",
            _median_s(lambda: np.maximum(x, np.float32(0), out=out), repeats) / mb,
        )
        _row(
            "np.maximum(x, y) of two arrays, per MB",
            _median_s(lambda: np.maximum(x, y, out=out), repeats) / mb,
        )
        for k in (4000, activation.CONST_ROW):
            row = np.zeros(k, np.float32)
            full = x.size - x.size % k

            def rows(row=row, full=full, k=k):
                np.maximum(x[:full].reshape(-1, k), row, out=out[:full].reshape(-1, k))

            _row(f"np.maximum against a row of {k} zeros, per MB", _median_s(rows, repeats) / mb)


def study_rows(repeats: int) -> None:
    rng = np.random.default_rng(0)
    for length in (32, pool.LONG_ROW):
        pairs = rng.standard_normal(((1 << 20) // length, 2, length)).astype(np.float32)
        out = np.empty((pairs.shape[0], length), np.float32)
        halves = np.ascontiguousarray(pairs.transpose(1, 0, 2))
        _row(
            f"max of interleaved halves, rows of {length}",
            _median_s(lambda p=pairs, o=out: np.maximum(p[:, 0], p[:, 1], out=o), repeats),
        )
        _row(
            f"max of contiguous halves, rows of {length}",
            _median_s(lambda h=halves, o=out: np.maximum(h[0], h[1], out=o), repeats),
        )


def study_pool(repeats: int) -> None:
    x = np.random.default_rng(0).standard_normal((100, 16, 24, 24), dtype=np.float32)
    for order in ("nchw", "cnhw", "nhwc"):
        xin = empty_in(order, x.shape, x.dtype)
        xin[...] = x
        for pairwise in (True, False):
            with tuned(maxpool_2x2=pairwise):
                t = _median_s(lambda xin=xin: pool.maxpool2d_forward(xin, (2, 2), (2, 2)), repeats)
            _row(f"2x2 max-pool forward, {order}, {'pairwise' if pairwise else 'general'}", t)


def _gflops(m, k, n, seconds) -> str:
    return f"{2 * m * k * n / seconds / 1e9:6.1f} GFLOP/s"


def study_gemm(repeats: int) -> None:
    rng = np.random.default_rng(0)
    with _one_thread():
        for k in (2048, 4096, 16384):  # a tiny 10 x 32 output, a long K
            a, b = (
                rng.standard_normal((10, k), np.float32),
                rng.standard_normal((k, 32), np.float32),
            )
            out = np.empty((10, 32), np.float32)
            whole = _median_s(lambda a=a, b=b, o=out: np.matmul(a, b, out=o), repeats, 20)
            cut = _median_s(lambda a=a, b=b, o=out: gemm.matmul_k_chunks(a, b, o), repeats, 20)
            _row(f"10x{k} by {k}x32, one product", whole, _gflops(10, k, 32, whole))
            _row(f"10x{k} by {k}x32, pieces of K", cut, _gflops(10, k, 32, cut))
        for m, k, n in ((1600, 32, 32), (16, 145, 3380)):  # narrow, short K
            a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
            out = np.empty((m, n), np.float32)
            whole = _median_s(lambda a=a, b=b, o=out: np.matmul(a, b, out=o), repeats, 20)
            cut = _median_s(lambda a=a, b=b, o=out: _halves(a, b, o), repeats, 20)
            _row(f"{m}x{k} by {k}x{n}, one product", whole, _gflops(m, k, n, whole))
            _row(f"{m}x{k} by {k}x{n}, two pieces of the long side", cut, _gflops(m, k, n, cut))


def _halves(a, b, out):
    """a @ b as two products, each half of the longer side (M or N)."""
    m, n = a.shape[0], b.shape[1]
    if m >= n:
        np.matmul(a[: m // 2], b, out=out[: m // 2])
        np.matmul(a[m // 2 :], b, out=out[m // 2 :])
    else:
        np.matmul(a, b[:, : n // 2], out=out[:, : n // 2])
        np.matmul(a, b[:, n // 2 :], out=out[:, n // 2 :])


def study_linear(repeats: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 784), np.float32)
    w = rng.standard_normal((256, 784), np.float32)
    _row("64x784 by 784x256: y = x Wᵀ", _median_s(lambda: x @ w.T, repeats, 20))
    _row("64x784 by 784x256: yᵀ = W xᵀ", _median_s(lambda: np.matmul(w, x.T).T, repeats, 20))
    _row(
        "fast linear_forward (the latter, plus the bias)",
        _median_s(lambda: linear.linear_forward(x, w, None), repeats, 20),
    )


def study_threads(repeats: int) -> None:
    for mb in (1, 2, 4, 8, 16):
        x = np.random.default_rng(0).standard_normal((mb << 20) // 4, dtype=np.float32)
        out = np.empty_like(x)
        with tuned(parallel_min_bytes=1 << 40):
            one = _median_s(lambda x=x, o=out: activation.maximum_const(x, 0, o), repeats)
        with tuned(parallel_min_bytes=0):
            split = _median_s(lambda x=x, o=out: activation.maximum_const(x, 0, o), repeats)
        _row(
            f"ReLU bound on {mb} MB: one thread",
            one,
            f"{parallel.num_threads()} threads: {split * 1e6:.1f} µs",
        )
    _row("os.cpu_count()", _median_s(os.cpu_count, repeats, 10000))


STUDIES = {
    "dispatch": study_dispatch,
    "reference": study_reference,
    "maximum": study_maximum,
    "rows": study_rows,
    "pool": study_pool,
    "gemm": study_gemm,
    "linear": study_linear,
    "threads": study_threads,
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("studies", nargs="*", help=f"which (default: all): {', '.join(STUDIES)}")
    p.add_argument("--repeats", type=int, default=7, help="timings per variant (median)")
    args = p.parse_args(argv)
    unknown = [s for s in args.studies if s not in STUDIES]
    if unknown:
        p.error(f"unknown studies {unknown}; choose from {', '.join(STUDIES)}")
    print(f"numpy {np.__version__}, barenet on {parallel.num_threads()} threads")
    for name in args.studies or STUDIES:
        print(f"{name}:")
        STUDIES[name](args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
