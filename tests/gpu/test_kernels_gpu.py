"""The GPU kernels (``barenet.fast.cuda``) against the reference kernels run through
CuPy, family by family, over strides, paddings and overlapping windows; and the
NaN and tie rules of max-pooling."""

from __future__ import annotations

import numpy as np
import pytest

from barenet import reference
from barenet.core import dispatch

from .conftest import rel_err

pytestmark = pytest.mark.gpu

CONV = [  # (N, C, H, W), (O, kh, kw), stride, padding (top, bottom, left, right)
    ((2, 3, 7, 6), (4, 3, 3), (1, 1), (1, 1, 1, 1)),
    ((3, 2, 9, 8), (5, 3, 2), (2, 1), (0, 0, 0, 0)),
    ((1, 4, 8, 8), (2, 5, 5), (1, 1), (2, 2, 2, 2)),
    ((2, 1, 28, 28), (8, 3, 3), (1, 1), (1, 1, 1, 1)),
    ((2, 3, 10, 9), (3, 4, 3), (3, 2), (1, 2, 0, 1)),
    ((4, 16, 13, 13), (16, 3, 3), (1, 1), (0, 0, 0, 0)),
]
POOL = [  # (N, C, H, W), kernel, stride
    ((2, 3, 8, 8), (2, 2), (2, 2)),
    ((2, 3, 9, 7), (3, 3), (2, 2)),
    ((1, 2, 10, 10), (3, 2), (1, 3)),
    ((2, 4, 7, 9), (2, 3), (2, 3)),
]


def _fast(family):
    import cupy

    dispatch.kernels_for(family, cupy.zeros(1))  # loads barenet.fast.cuda
    return dispatch.registered()[family, "fast", "cupy"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("need_dx", [True, False])
@pytest.mark.parametrize("shape, wshape, stride, padding", CONV)
def test_conv2d_kernels_equal_the_reference(
    shape, wshape, stride, padding, need_dx, dtype, record_error
):
    import cupy

    rng = np.random.default_rng(0)
    x = cupy.asarray(rng.standard_normal(shape).astype(dtype))
    o, kh, kw = wshape
    w = cupy.asarray(rng.standard_normal((o, shape[1], kh, kw)).astype(dtype))
    b = cupy.asarray(rng.standard_normal(o).astype(dtype))
    fast = _fast("conv2d")
    for bias in (b, None):
        y, cache = fast.forward(x, w, bias, stride, padding)
        y_ref, cache_ref = reference.conv2d_forward(x, w, bias, stride, padding)
        dy = cupy.asarray(rng.standard_normal(y_ref.shape).astype(dtype))
        got = fast.backward(dy, cache, need_dx)
        want = reference.conv2d_backward(dy, cache_ref, need_dx)
        tol = 1e-12 if dtype == np.float64 else 1e-5
        assert y.shape == y_ref.shape and y.flags.c_contiguous
        pairs = [("y", y, y_ref)] + [
            (n, a, r) for n, a, r in zip(("dx", "dW", "db"), got, want) if r is not None
        ]
        assert (got[0] is None) == (not need_dx) and (got[2] is None) == (bias is None)
        for name, a, r in pairs:
            err = rel_err(a, r)
            record_error(f"fast-cuda conv2d {np.dtype(dtype).name}", err, f"{shape} {name}")
            assert err < tol, (name, err)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, kernel, stride", POOL)
def test_maxpool_kernels_equal_the_reference(shape, kernel, stride, dtype, record_error):
    import cupy

    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    x[0, 0, :2, :2] = 1.0  # a tie: the first in row-major order wins
    x.flat[7] = np.nan  # NaN wins its windows; the last NaN of a window wins
    x.flat[8] = np.nan
    x = cupy.asarray(x)
    fast = _fast("maxpool2d")
    y, cache = fast.forward(x, kernel, stride)
    y_ref, cache_ref = reference.maxpool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(cupy.asnumpy(y), cupy.asnumpy(y_ref))
    np.testing.assert_array_equal(cupy.asnumpy(cache[0]), cupy.asnumpy(cache_ref[0]))
    dy = cupy.asarray(rng.standard_normal(y.shape).astype(dtype))
    err = rel_err(fast.backward(dy, cache), reference.maxpool2d_backward(dy, cache_ref))
    record_error(f"fast-cuda maxpool2d {np.dtype(dtype).name}", err, str(shape))
    assert err < (1e-15 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_kernels_equal_the_reference(dtype):
    import cupy

    x = np.random.default_rng(2).standard_normal((3, 4, 5, 6)).astype(dtype)
    x[0, 0, 0, :3] = [0.0, -0.0, np.nan]
    x = cupy.asarray(x)
    dy = cupy.asarray(np.random.default_rng(3).standard_normal(x.shape).astype(dtype))
    fast = _fast("relu")
    y, mask = fast.forward(x)
    y_ref, mask_ref = reference.relu_forward(x)
    np.testing.assert_array_equal(cupy.asnumpy(y), cupy.asnumpy(y_ref))
    np.testing.assert_array_equal(
        cupy.asnumpy(fast.backward(dy, mask)), cupy.asnumpy(reference.relu_backward(dy, mask_ref))
    )
    y_eval, cache = fast.forward_eval(x)
    np.testing.assert_array_equal(cupy.asnumpy(y_eval), cupy.asnumpy(y_ref))
    np.testing.assert_array_equal(
        cupy.asnumpy(fast.backward(dy, cache)), cupy.asnumpy(reference.relu_backward(dy, mask_ref))
    )
