"""The thread pool: ranges cover the job, errors surface, and every kernel that uses it
gives bit-identical results whatever the thread count."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.fast.cpu import activation, parallel, tuned
from barenet.fast.cpu.layout import empty_in


def test_num_threads_env(monkeypatch):
    monkeypatch.setenv("BARENET_NUM_THREADS", "3")
    assert parallel.num_threads() == 3
    monkeypatch.setenv("BARENET_NUM_THREADS", "0")
    assert parallel.num_threads() == 1
    monkeypatch.setenv("BARENET_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="BARENET_NUM_THREADS"):
        parallel.num_threads()
    monkeypatch.delenv("BARENET_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert parallel.num_threads() == 1


@pytest.mark.parametrize("threads, n", [("1", 10), ("2", 1), ("3", 10), ("4", 37)])
def test_chunked_covers_every_index_once(monkeypatch, threads, n):
    monkeypatch.setenv("BARENET_NUM_THREADS", threads)
    hits = np.zeros(n, dtype=np.int64)

    def fn(lo, hi):
        hits[lo:hi] += 1

    parallel.chunked(fn, n, 1 << 30)
    np.testing.assert_array_equal(hits, 1)
    assert len(parallel.splits(n, 0)) == 1  # a small job stays on the calling thread


def test_chunked_reraises_and_does_not_nest(monkeypatch):
    monkeypatch.setenv("BARENET_NUM_THREADS", "2")

    def bad(lo, hi):
        if lo > 0:
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        parallel.chunked(bad, 8, 1 << 30)
    seen = []

    def outer(lo, hi):
        parallel.chunked(lambda a, b: seen.append((a, b)), 4, 1 << 30)

    parallel.chunked(outer, 2, 1 << 30)
    assert sorted(seen).count((0, 4)) >= 1 and all(b - a in (1, 2, 4) for a, b in seen)


def test_map_and_copy_into(monkeypatch):
    monkeypatch.setenv("BARENET_NUM_THREADS", "2")
    a = np.arange(24.0).reshape(2, 3, 4).transpose(1, 0, 2)
    out = np.empty_like(a)
    with tuned(parallel_min_bytes=0):
        parallel.map_into(np.multiply, out, a, 2.0)
        np.testing.assert_array_equal(out, a * 2)
        dst = np.zeros((3, 2, 4))
        parallel.copy_into(dst, a)
    np.testing.assert_array_equal(dst, a)


def test_dense_flat_follows_the_first_arrays_memory_order():
    base = np.arange(24.0).reshape(2, 3, 4)
    a = base.transpose(1, 0, 2)  # dense, not C-contiguous
    b = np.empty_like(a, dtype=bool)  # same order, other item size
    fa, fb = parallel.dense_flat(a, b)
    assert np.shares_memory(fa, base) and np.shares_memory(fb, b)
    np.testing.assert_array_equal(fa, base.reshape(-1))  # memory order, not a's index order
    fb[...] = fa > 10
    np.testing.assert_array_equal(b, a > 10)  # element k is the same index of both
    assert parallel.dense_flat(base[:, ::2]) is None  # strided: not dense
    assert parallel.dense_flat(a, np.empty((3, 2, 4))) is None  # C order differs from a's


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("size", [1, 7, activation.CONST_ROW, 3 * activation.CONST_ROW + 5])
def test_maximum_const_matches_np_maximum(monkeypatch, threads, size):
    monkeypatch.setenv("BARENET_NUM_THREADS", threads)
    with tuned(parallel_min_bytes=0):
        _check_maximum_const(size)


def _check_maximum_const(size):
    rng = np.random.default_rng(size)
    for dt in (np.float32, np.float64):
        x = rng.standard_normal(size).astype(dt)
        x[::5] = np.nan
        for value in (0.0, 0.25, -1.0):
            out = activation.maximum_const(x, value, np.empty_like(x))
            np.testing.assert_array_equal(out, np.maximum(x, dt(value)))  # NaN kept
    x = rng.standard_normal((3, size, 2)).astype(np.float32)
    for view in (x.transpose(1, 2, 0), x[:, ::2]):  # dense in another order; strided
        out = np.empty_like(view)
        np.testing.assert_array_equal(activation.maximum_const(view, 0, out), np.maximum(view, 0))
    activation.maximum_const(x, 0.5, x)  # in place
    assert x.min() == 0.5


def _run_net(x, dy_seed=1):
    bn.seed(0)
    net = bn.Sequential(
        bn.Conv2d(2, 4, 3, padding=1), bn.ReLU(), bn.MaxPool2d(2), bn.Conv2d(4, 3, 3), bn.ReLU()
    )
    y = net(x)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(y.dtype)
    dx = net.backward(dy)
    return [y, dx] + [p.grad.copy() for p in net.parameters()]


@pytest.mark.parametrize("layout", ["nchw", "cnhw"])
@pytest.mark.parametrize("conv_layout", [None, "flat", "pixel"])
def test_kernels_bit_identical_across_thread_counts(monkeypatch, layout, conv_layout):
    x = np.random.default_rng(0).standard_normal((5, 2, 10, 9)).astype(np.float32)
    if layout == "cnhw":
        xc = empty_in("cnhw", x.shape, x.dtype)
        xc[...] = x
        x = xc
    # thread even the tiny test arrays, one image per run
    with tuned(parallel_min_bytes=0, run_bytes=1, conv_layout=conv_layout):
        monkeypatch.setenv("BARENET_NUM_THREADS", "1")
        ref = _run_net(x)
        for threads in ("2", "3"):
            monkeypatch.setenv("BARENET_NUM_THREADS", threads)
            for a, b in zip(ref, _run_net(x)):
                np.testing.assert_array_equal(a, b)


def test_forked_child_gets_a_working_pool(monkeypatch):
    import multiprocessing as mp

    monkeypatch.setenv("BARENET_NUM_THREADS", "2")
    parallel.chunked(lambda a, b: None, 4, 1 << 30)  # the parent's pool exists now
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        total = pool.apply_async(_sum_in_chunks, (20,)).get(timeout=30)
    assert total == sum(range(20))


def _sum_in_chunks(n):
    out = np.zeros(n, dtype=np.int64)

    def fn(lo, hi):
        out[lo:hi] = np.arange(lo, hi)

    parallel.chunked(fn, n, 1 << 30)
    return int(out.sum())


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_for_each_runs_every_job_once_and_restores_the_blas(monkeypatch, threads):
    monkeypatch.setenv("BARENET_NUM_THREADS", threads)
    libs = parallel._blas_controllers()
    before = [c.get_num_threads() for c in libs]
    hits = np.zeros(23, dtype=np.int64)
    seen_blas = []

    def job(i, slot):
        assert 0 <= slot < int(threads)
        hits[i] += 1
        seen_blas.extend(c.get_num_threads() for c in libs)

    parallel.for_each(job, 23, gemm=True)
    np.testing.assert_array_equal(hits, 1)
    assert all(n == 1 for n in seen_blas)  # GEMMs inside the jobs ran on one BLAS thread
    assert [c.get_num_threads() for c in libs] == before


def test_for_each_reraises_and_scratch_is_per_thread(monkeypatch):
    monkeypatch.setenv("BARENET_NUM_THREADS", "2")
    libs = parallel._blas_controllers()
    before = [c.get_num_threads() for c in libs]

    def bad(i, slot):
        if i == 3:
            raise RuntimeError("job 3 failed")

    with pytest.raises(RuntimeError, match="job 3"):
        parallel.for_each(bad, 8, gemm=True)
    assert [c.get_num_threads() for c in libs] == before
    buffers = {}

    def grab(i, slot):
        a = parallel.scratch("test", (4, 5), np.float32)
        assert a.shape == (4, 5) and a.dtype == np.float32
        buffers.setdefault(slot, set()).add(a.__array_interface__["data"][0])

    parallel.for_each(grab, 8)
    addresses = [next(iter(v)) for v in buffers.values()]
    assert all(len(v) == 1 for v in buffers.values())  # a thread reuses its buffer
    assert len(set(addresses)) == len(addresses)  # and no two threads share one
