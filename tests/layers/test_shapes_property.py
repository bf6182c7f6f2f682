"""Property test over Conv2d and pooling shapes: the output-size formula, and torch's values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import barenet as bn
from barenet.testing import torch_twin
from helpers import rel_err, run_both

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # the formula part still runs
    HAVE_TORCH = False

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def conv_cases(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h = draw(st.integers(max(1, k[0] - 2 * p[0]), 9))
    w = draw(st.integers(max(1, k[1] - 2 * p[1]), 9))
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return n, c, o, h, w, k, s, p, draw(st.booleans())


@SETTINGS
@given(conv_cases())
def test_conv2d_shapes_and_values(case):
    n, c, o, h, w, k, s, p, bias = case
    bn.set_default_dtype(np.float64)
    layer = bn.Conv2d(c, o, k, stride=s, padding=p, bias=bias)
    x = np.random.default_rng(n * 100 + h * 10 + w).standard_normal((n, c, h, w))
    y = layer(x)
    want = (n, o, (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
    assert y.shape == want == layer.output_shape(x.shape)
    assert layer.backward(np.ones_like(y)).shape == x.shape
    if HAVE_TORCH:
        for key, (a, b) in run_both(layer, torch_twin(layer), x).items():
            assert rel_err(a, b) < 1e-9, key


@st.composite
def pool_cases(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    h, w = draw(st.integers(k[0], 10)), draw(st.integers(k[1], 10))
    return draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w, k, s


@SETTINGS
@given(pool_cases(), st.sampled_from(["MaxPool2d", "AvgPool2d"]))
def test_pool_shapes_and_values(case, kind):
    n, c, h, w, k, s = case
    layer = getattr(bn, kind)(k, stride=s)
    ss = k if s is None else s
    x = np.random.default_rng(h * 10 + w).permutation(n * c * h * w).reshape(n, c, h, w) * 1.0
    y = layer(x)
    want = (n, c, (h - k[0]) // ss[0] + 1, (w - k[1]) // ss[1] + 1)
    assert y.shape == want == layer.output_shape(x.shape)
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape
    assert dx.sum() == pytest.approx(y.size)  # each window passes on exactly its own dy
    if HAVE_TORCH:
        for key, (a, b) in run_both(layer, torch_twin(layer), x).items():
            assert rel_err(a, b) < 1e-12, key
