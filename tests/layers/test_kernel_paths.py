"""The fast paths of the conv and pool kernels agree with the plain ones.

Conv2d keeps its columns for small batches and rebuilds them run by run for big
ones; the unit tests elsewhere use small shapes, so here the thresholds are
lowered to force every path. Layers also get inputs in the (C, N, H, W) memory
order that Conv2d hands on.
"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
import barenet.layers.conv as conv_mod
from barenet.core.functional import batch_chunks, cnhw_empty, is_cnhw


def _cnhw(a):
    out = cnhw_empty(a.shape, a.dtype)
    out[...] = a
    return out


def _conv_run(cfg, x, dy):
    bn.seed(3)
    layer = bn.Conv2d(*cfg[:3], stride=cfg[3], padding=cfg[4]).to(np.float64)
    y = layer(x)
    dx = layer.backward(dy)
    return y, dx, layer.weight.grad.copy(), layer.bias.grad.copy()


@pytest.mark.parametrize(
    "cfg",
    [(2, 3, 3, 1, 1), (3, 4, 3, 2, 0), (2, 2, (2, 3), (1, 2), (1, 0)), (2, 3, 3, 1, "same")],
)
@pytest.mark.parametrize("keep, chunk", [(0, 1), (0, 2000), (1 << 40, 1)])
def test_conv_paths_agree(monkeypatch, cfg, keep, chunk):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, cfg[0], 7, 8))
    out_shape = bn.Conv2d(*cfg[:3], stride=cfg[3], padding=cfg[4]).output_shape(x.shape)
    dy = rng.standard_normal(out_shape)
    y_ref, dx_ref, dw_ref, db_ref = _conv_run(cfg, x, dy)
    monkeypatch.setattr(conv_mod, "_KEEP_COLS_BYTES", keep)
    monkeypatch.setattr(conv_mod, "_CHUNK_BYTES", chunk)
    for xin, dyin in ((x, dy), (_cnhw(x), _cnhw(dy))):
        dy0 = dyin.copy()
        y, dx, dw, db = _conv_run(cfg, xin, dyin)
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dw, dw_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(db, db_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(dyin, dy0)  # backward never writes into dy


def test_conv_rebuilt_columns_pass_gradcheck(monkeypatch):
    monkeypatch.setattr(conv_mod, "_KEEP_COLS_BYTES", 0)
    monkeypatch.setattr(conv_mod, "_CHUNK_BYTES", 1)
    bn.seed(1)
    layer = bn.Conv2d(2, 3, 3, padding=1).to(np.float64)
    res = bn.gradcheck(layer, np.random.default_rng(2).standard_normal((3, 2, 5, 4)))
    assert res.ok, res


def test_conv_output_is_channel_major_view_and_accumulates():
    bn.seed(0)
    layer = bn.Conv2d(2, 3, 3, padding=1)
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6)).astype(np.float32)
    y = layer(x)
    assert y.shape == (4, 3, 6, 6) and y.dtype == np.float32 and is_cnhw(y)
    dy = np.ones_like(y)
    layer.backward(dy)
    g1 = layer.weight.grad.copy()
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, 2 * g1, rtol=1e-6)


def test_batch_chunks_cover_the_batch():
    for n, per, budget in ((10, 3, 7), (1, 100, 1), (7, 1, 1 << 20), (5, 0, 10)):
        runs = batch_chunks(n, per, budget)
        assert runs[0][0] == 0 and runs[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(runs, runs[1:]))
        assert all(n1 > n0 for n0, n1 in runs)
        sizes = [n1 - n0 for n0, n1 in runs]
        assert max(sizes) - min(sizes) < len(runs)  # no small remainder run
        assert max(sizes) * per <= max(budget, per)  # a run stays within its budget
    assert [b - a for a, b in batch_chunks(100, 1, 47)] == [34, 34, 32]


def test_conv_eval_runs_match_train_runs(monkeypatch):
    # inference takes bigger runs of images than training: same output either way
    monkeypatch.setattr(conv_mod, "_KEEP_COLS_BYTES", 0)
    monkeypatch.setattr(conv_mod, "_CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_mod, "_EVAL_CHUNK_BYTES", 3000)
    x = np.random.default_rng(5).standard_normal((7, 2, 6, 6))
    layer = bn.Conv2d(2, 3, 3, padding=1).to(np.float64)
    y_train = layer(x)
    y_eval = layer.eval()(x)
    np.testing.assert_allclose(y_eval, y_train, rtol=1e-12, atol=1e-12)
    dx = layer.backward(np.ones_like(y_eval))  # backward after an eval forward still works
    assert dx.shape == x.shape


@pytest.mark.parametrize("k, s", [(2, None), (3, 2), (3, 1), ((2, 3), (2, 3))])
def test_maxpool_ties_go_to_first_max_in_both_layouts(k, s):
    rng = np.random.default_rng(4)
    x = np.round(rng.standard_normal((2, 3, 7, 9)))  # many ties
    x[:, :, :3, :3] = 0.0
    pool = bn.MaxPool2d(k, s)
    y = pool(x)
    dy = rng.standard_normal(y.shape)
    dx = pool.backward(dy)
    # reference: argmax over each window (first maximum in row-major order)
    (kh, kw), (sh, sw) = pool.kernel_size, pool.stride
    ref = np.zeros_like(x)
    for p in range(y.shape[2]):
        for q in range(y.shape[3]):
            win = x[:, :, p * sh : p * sh + kh, q * sw : q * sw + kw].reshape(2, 3, -1)
            np.testing.assert_array_equal(y[:, :, p, q], win.max(axis=-1))
            a = win.argmax(axis=-1)
            for t in range(kh * kw):
                i, j = divmod(t, kw)
                ref[:, :, p * sh + i, q * sw + j] += np.where(a == t, dy[:, :, p, q], 0)
    np.testing.assert_allclose(dx, ref)
    np.testing.assert_allclose(pool.backward(_cnhw(dy)), ref)
    pool2 = bn.MaxPool2d(k, s)
    np.testing.assert_array_equal(pool2(_cnhw(x)), y)
    np.testing.assert_allclose(pool2.backward(dy), ref)


def test_maxpool_propagates_nan():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 0] = np.nan
    y = bn.MaxPool2d(2)(x)
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1, 1])


@pytest.mark.parametrize("layer", [bn.ReLU(), bn.LeakyReLU(0.1), bn.LeakyReLU(2.0)])
def test_activations_exact_in_both_layouts(layer):
    x = np.random.default_rng(5).standard_normal((3, 2, 4, 5)).astype(np.float32)
    x[0, 0, 0, :2] = 0.0
    a = layer.negative_slope if isinstance(layer, bn.LeakyReLU) else 0.0
    for xin in (x, _cnhw(x)):
        y = layer(xin)
        np.testing.assert_array_equal(y, np.where(x > 0, x, x * np.float32(a)))
        assert y.dtype == np.float32
        dy = np.full(x.shape, 3.0, np.float32)
        dx = layer.backward(dy)
        np.testing.assert_array_equal(dx, np.where(x > 0, 3.0, 3.0 * np.float32(a)))
        assert dx.dtype == np.float32 and (dy == 3.0).all()
