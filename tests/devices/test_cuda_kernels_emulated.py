"""The GPU kernels of ``barenet.fast.cuda`` on the CPU: their CUDA C, translated to
Python by an ``ElementwiseKernel`` emulator (elementwise.py) and run element by element
on tiny shapes through the fake CuPy, against the reference kernels. This checks their
index arithmetic and their rules (ties, NaN, padding, overlapping windows); the GPU
tests check the compiled kernels."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet import reference
from barenet.core import dispatch
from barenet.fast.cuda import activation, conv, pool
from barenet.testing import LAYER_CASES, copy_on

from .elementwise import make_elementwise_kernel

FAMILIES = ("conv2d", "maxpool2d", "relu")


def _clear():
    for mod in (conv, pool, activation):
        mod._kernels.cache_clear()
    for family in FAMILIES:
        if (family, "fast", "cupy") in dispatch.registered():
            dispatch.unregister(family, "fast", "cupy")


@pytest.fixture
def gpu(fake_cupy):
    """The fake CuPy with emulated ElementwiseKernels: the GPU kernels get registered."""
    fake_cupy.ElementwiseKernel = make_elementwise_kernel(fake_cupy)
    _clear()
    dispatch.kernels_for("relu", fake_cupy.zeros(1))  # loads barenet.fast.cuda
    yield fake_cupy
    _clear()


def _fast(family):
    return dispatch.registered()[family, "fast", "cupy"]


CONV = [  # (N, C, H, W), (O, kh, kw), stride, padding (top, bottom, left, right)
    ((2, 2, 5, 4), (3, 3, 2), (1, 1), (1, 1, 0, 1)),
    ((1, 3, 6, 7), (2, 3, 3), (2, 2), (1, 0, 1, 1)),
    ((2, 1, 5, 5), (2, 2, 2), (1, 1), (0, 0, 0, 0)),
    ((1, 2, 7, 5), (2, 4, 3), (3, 2), (2, 1, 0, 2)),
]


@pytest.mark.parametrize("need_dx", [True, False])
@pytest.mark.parametrize("shape, wshape, stride, padding", CONV)
def test_conv2d_kernels_equal_the_reference(gpu, shape, wshape, stride, padding, need_dx):
    rng = np.random.default_rng(0)
    x = gpu.asarray(rng.standard_normal(shape))
    o, kh, kw = wshape
    w = gpu.asarray(rng.standard_normal((o, shape[1], kh, kw)))
    for b in (gpu.asarray(rng.standard_normal(o)), None):
        y, cache = _fast("conv2d").forward(x, w, b, stride, padding)
        y_ref, cache_ref = reference.conv2d_forward(x, w, b, stride, padding)
        np.testing.assert_allclose(y.get(), y_ref.get(), rtol=1e-12, atol=1e-12)
        dy = gpu.asarray(rng.standard_normal(y_ref.shape))
        got = _fast("conv2d").backward(dy, cache, need_dx)
        want = reference.conv2d_backward(dy, cache_ref, need_dx)
        for a, r in zip(got, want):
            assert (a is None) == (r is None)
            if r is not None:
                np.testing.assert_allclose(a.get(), r.get(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "shape, kernel, stride",
    [
        ((2, 2, 5, 5), (2, 2), (2, 2)),
        ((1, 2, 7, 6), (3, 3), (2, 2)),
        ((1, 1, 6, 7), (3, 2), (1, 3)),
    ],
)
def test_maxpool_kernels_equal_the_reference(gpu, shape, kernel, stride):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    x[0, 0, :2, :2] = 1.0  # a tie: the first in row-major order wins
    x.flat[7] = x.flat[8] = np.nan  # NaN wins; the last NaN of a window wins
    x = gpu.asarray(x)
    y, cache = _fast("maxpool2d").forward(x, kernel, stride)
    y_ref, cache_ref = reference.maxpool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(y.get(), y_ref.get())
    np.testing.assert_array_equal(cache[0].get(), cache_ref[0].get())
    dy = gpu.asarray(rng.standard_normal(y_ref.shape))
    np.testing.assert_allclose(
        _fast("maxpool2d").backward(dy, cache).get(),
        reference.maxpool2d_backward(dy, cache_ref).get(),
        rtol=1e-15,
        atol=0,
    )


def test_relu_kernels_equal_the_reference(gpu):
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    x[0, 0, :3] = [0.0, -0.0, np.nan]
    x = gpu.asarray(x)
    dy = gpu.asarray(np.random.default_rng(3).standard_normal(x.shape))
    y, mask = _fast("relu").forward(x)
    y_ref, mask_ref = reference.relu_forward(x)
    np.testing.assert_array_equal(y.get(), y_ref.get())
    want = reference.relu_backward(dy, mask_ref).get()
    np.testing.assert_array_equal(_fast("relu").backward(dy, mask).get(), want)
    y_eval, cache = _fast("relu").forward_eval(x)
    np.testing.assert_array_equal(y_eval.get(), y_ref.get())
    np.testing.assert_array_equal(_fast("relu").backward(dy, cache).get(), want)


CONV_POOL_CASES = [
    c
    for c in LAYER_CASES
    if {bn.Conv2d, bn.MaxPool2d, bn.ReLU} & {type(m) for m in c.make().modules()}
]


@pytest.mark.parametrize("case", CONV_POOL_CASES, ids=[c.id for c in CONV_POOL_CASES])
def test_layer_cases_through_the_gpu_kernels_give_the_cpu_numbers(gpu, case, f64):
    x = case.make_input(np.float64, seed=2)
    bn.seed(5)
    cpu = case.make()
    twin = copy_on(cpu, "cuda")
    y = cpu(x)
    dy = np.random.default_rng(3).standard_normal(y.shape)
    dx = cpu.backward(dy)
    y_gpu = twin(gpu.asarray(x))
    assert any(
        getattr(m, "_kernels", None) is _fast(f)
        for m in twin.modules()
        for f in FAMILIES
        if (f, "fast", "cupy") in dispatch.registered()
    )
    dx_gpu = twin.backward(gpu.asarray(dy))
    np.testing.assert_allclose(y_gpu.get(), y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx_gpu.get(), dx, rtol=1e-12, atol=1e-12)
    grads = dict(cpu.named_parameters())
    for k, p in twin.named_parameters():
        np.testing.assert_allclose(p.grad.get(), grads[k].grad, rtol=1e-12, atol=1e-12)
