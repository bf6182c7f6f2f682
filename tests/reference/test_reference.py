"""The reference kernels against definitions written independently (a loop over windows,
an einsum per kernel offset), and the rules that keep them portable to CuPy."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from barenet import reference as R

CONV = [  # (C, O, kernel, stride, padding (top, bottom, left, right))
    (2, 3, (3, 3), (1, 1), (1, 1, 1, 1)),
    (3, 4, (3, 3), (2, 2), (0, 0, 0, 0)),
    (2, 2, (2, 3), (1, 2), (1, 0, 0, 2)),
    (1, 2, (4, 4), (3, 1), (1, 2, 1, 2)),
]


def _definition_conv(x, w, b, stride, padding, dy):
    """y, dx, dW, db straight from y[n,o,p,q] = b[o] + Σ W[o,c,i,j] x_pad[n,c,p·sh+i,q·sw+j]."""
    (sh, sw), (pt, pb, pl, pr) = stride, padding
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh, ow = dy.shape[2:]
    y = np.zeros(dy.shape) + b[None, :, None, None]
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            y += np.einsum("nchw,oc->nohw", win, w[:, :, i, j])
            dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dy, win)
            dxp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += np.einsum(
                "nohw,oc->nchw", dy, w[:, :, i, j]
            )
    dx = dxp[:, :, pt : pt + x.shape[2], pl : pl + x.shape[3]]
    return y, dx, dw, dy.sum(axis=(0, 2, 3))


@pytest.mark.parametrize("c, o, kernel, stride, padding", CONV)
def test_conv2d_follows_its_definition(c, o, kernel, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, c, 7, 8))
    w, b = rng.standard_normal((o, c, *kernel)), rng.standard_normal(o)
    y, cache = R.conv2d_forward(x, w, b, stride, padding)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = R.conv2d_backward(dy, cache)
    for got, want in zip((y, dx, dw, db), _definition_conv(x, w, b, stride, padding, dy)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), c> = <x, col2im(c)> for overlapping windows: col2im adds, never assigns."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    cols = R.im2col(x, 3, 2, 1, 2, 5, 3)
    c = rng.standard_normal(cols.shape)
    back = R.col2im(c, x.shape, 3, 2, 1, 2, 5, 3)
    assert np.isclose((cols * c).sum(), (x * back).sum(), rtol=1e-12)


def _windows(x, kernel, stride):
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    for p in range(oh):
        for q in range(ow):
            yield p, q, (slice(p * sh, p * sh + kh), slice(q * sw, q * sw + kw))


@pytest.mark.parametrize("kernel, stride", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 3), (1, 2))])
def test_pooling_follows_its_definition_window_by_window(kernel, stride):
    rng = np.random.default_rng(2)
    x = np.round(rng.standard_normal((2, 3, 7, 8)))  # ties: the first maximum wins
    y, cache = R.maxpool2d_forward(x, kernel, stride)
    avg, acache = R.avgpool2d_forward(x, kernel, stride)
    dy = rng.standard_normal(y.shape)
    dx, dx_avg = R.maxpool2d_backward(dy, cache), R.avgpool2d_backward(dy, acache)
    want_dx, want_avg = np.zeros_like(x), np.zeros_like(x)
    for p, q, (rows, cols) in _windows(x, kernel, stride):
        win = x[:, :, rows, cols].reshape(2, 3, -1)
        np.testing.assert_array_equal(y[:, :, p, q], win.max(axis=-1))
        np.testing.assert_allclose(avg[:, :, p, q], win.mean(axis=-1), rtol=1e-12)
        first = win.argmax(axis=-1)  # row-major: the first maximum
        for t in range(win.shape[-1]):
            i, j = divmod(t, kernel[1])
            want_dx[:, :, rows.start + i, cols.start + j] += np.where(first == t, dy[:, :, p, q], 0)
        want_avg[:, :, rows, cols] += dy[:, :, p, q, None, None] / win.shape[-1]
    np.testing.assert_allclose(dx, want_dx, rtol=1e-12)
    np.testing.assert_allclose(dx_avg, want_avg, rtol=1e-12)


def test_a_nan_wins_its_window_and_the_last_nan_takes_the_gradient():
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    y, cache = R.maxpool2d_forward(x, (2, 2), (2, 2))
    assert np.isnan(y).all()
    np.testing.assert_array_equal(
        R.maxpool2d_backward(np.ones((1, 1, 1, 1)), cache)[0, 0], [[0, 0], [1, 0]]
    )


REFERENCE = Path(R.__file__).parent


@pytest.mark.parametrize("path", sorted(REFERENCE.glob("*.py")), ids=lambda p: p.name)
def test_reference_kernels_take_their_array_module_from_the_inputs(path):
    """No NumPy import (the array module comes from ``array_module``), and none of the
    NumPy-only tools CuPy lacks or that bury the math (strided views, unbuffered adds)."""
    source = path.read_text()
    tree = ast.parse(source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) if n.module}
    assert not any(m and m.split(".")[0] == "numpy" for m in imported), imported
    for banned in ("as_strided", "stride_tricks", "sliding_window_view", ".at(", "threading"):
        assert banned not in source, banned


def test_label_smoothing_is_cross_entropy_against_the_smoothed_targets():
    rng = np.random.default_rng(4)
    z, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    eps = 0.2
    smoothed = np.eye(4)[labels] * (1 - eps) + eps / 4
    for target in (labels, np.eye(4)[labels]):
        got = R.softmax_cross_entropy(z, target, "mean", label_smoothing=eps)
        want = R.softmax_cross_entropy(z, smoothed, "mean")
        assert np.isclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
