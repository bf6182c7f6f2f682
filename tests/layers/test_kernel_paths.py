"""The fast paths of the conv and pool kernels agree with the plain ones.

Conv2d builds its columns a run of images at a time, by strided windows, by flat
shifts or pixel-major over (N, H, W, C) memory; the unit tests elsewhere use small
shapes, so here the thresholds are set to force every path. Layers also get inputs
in the (C, N, H, W) and (N, H, W, C) memory orders that Conv2d hands on.
"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
import barenet.layers.conv as conv_mod
import barenet.layers.pool as pool_module
from barenet.core.functional import batch_chunks, cnhw_empty, is_cnhw, is_nhwc, nhwc_empty


def _cnhw(a):
    out = cnhw_empty(a.shape, a.dtype)
    out[...] = a
    return out


def _nhwc(a):
    out = nhwc_empty(a.shape, a.dtype)
    out[...] = a
    return out


def _force_path(monkeypatch, path):
    """Set Conv2d's thresholds so that every layer takes ``path`` (flat: stride 1 only)."""
    monkeypatch.setattr(conv_mod, "_FLAT_MAX_RATIO", 100.0 if path == "flat" else 0.0)
    monkeypatch.setattr(conv_mod, "_FLAT_MIN_ROWS_PER_OUTPUT", 0)
    monkeypatch.setattr(conv_mod, "_PIXEL_MIN_ROW", 0 if path == "pixel" else 10**9)


def _conv_run(cfg, x, dy):
    bn.seed(3)
    layer = bn.Conv2d(*cfg[:3], stride=cfg[3], padding=cfg[4]).to(np.float64)
    y = layer(x)
    dx = layer.backward(dy)
    return y, dx, layer.weight.grad.copy(), layer.bias.grad.copy(), layer


def _naive_conv(layer, x, dy):
    """Loops over the kernel offsets: y, dx, dW and db straight from the definition."""
    (kh, kw), (sh, sw), (pt, pb, pl, pr) = layer.kernel_size, layer.stride, layer._pad
    w, b = layer.weight.data, layer.bias.data
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


@pytest.mark.parametrize(
    "cfg",
    [
        (2, 3, 3, 1, 1),
        (3, 4, 3, 2, 0),
        (2, 2, (2, 3), (1, 2), (1, 0)),
        (2, 3, 3, 1, "same"),
        (1, 32, 3, 1, 1),  # many outputs: channel columns write (N, H, W, C) memory
    ],
)
@pytest.mark.parametrize("run_bytes", [1, 2000, 1 << 40])  # one image per run .. one run
@pytest.mark.parametrize("path", ["channel", "flat", "pixel"])
def test_conv_paths_agree_with_the_definition(monkeypatch, cfg, run_bytes, path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, cfg[0], 7, 8))
    out_shape = bn.Conv2d(*cfg[:3], stride=cfg[3], padding=cfg[4]).output_shape(x.shape)
    dy = rng.standard_normal(out_shape)
    monkeypatch.setattr(conv_mod, "_RUN_BYTES", run_bytes)
    _force_path(monkeypatch, path)
    for order in (lambda a: a, _cnhw, _nhwc):
        xin, dyin = order(x), order(dy)
        dy0 = dyin.copy()
        y, dx, dw, db, layer = _conv_run(cfg, xin, dyin)
        stride1 = layer.stride == (1, 1)
        assert layer._path == ("channel" if path == "flat" and not stride1 else path)
        pixel = layer._path == "pixel"  # then dx (a crop of a buffer) is channel-innermost
        assert (dx.strides[1] == dx.itemsize) == pixel
        assert is_nhwc(y) == (pixel or (layer._path == "channel" and cfg[1] >= 32))
        for got, want in zip((y, dx, dw, db), _naive_conv(layer, x, dy)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(dyin, dy0)  # backward never writes into dy


def test_conv_pixel_path_without_bias_or_input_gradient(monkeypatch):
    _force_path(monkeypatch, "pixel")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 6, 5))
    bn.seed(2)
    layer = bn.Conv2d(3, 2, (2, 3), stride=(2, 1), bias=False).to(np.float64)
    dy = rng.standard_normal(layer.output_shape(x.shape))
    layer.bias = bn.Parameter(np.zeros(2))  # the definition below reads a bias
    want = _naive_conv(layer, x, dy)
    layer.bias = None
    y = layer(x)
    layer.needs_input_grad = False
    assert layer.backward(dy) is None
    np.testing.assert_allclose(y, want[0], atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, want[2], atol=1e-12)


@pytest.mark.parametrize("path", ["channel", "flat", "pixel"])
def test_conv_rebuilt_columns_pass_gradcheck(monkeypatch, path):
    monkeypatch.setattr(conv_mod, "_RUN_BYTES", 1)
    _force_path(monkeypatch, path)
    bn.seed(1)
    layer = bn.Conv2d(2, 3, 3, padding=1).to(np.float64)
    res = bn.gradcheck(layer, np.random.default_rng(2).standard_normal((3, 2, 5, 4)))
    assert res.ok, res


def test_column_layout_is_chosen_by_shape():
    x = np.zeros((2, 16, 26, 26), np.float32)
    wide = bn.Conv2d(3, 4, 3)  # 26x26 → 24x24: 1.17x the pixels
    wide(x[:, :3])
    assert wide._path == "flat"
    small = bn.Conv2d(3, 4, 3, padding=1)  # 4x4 padded to 6x6: 2.25x
    small(x[:, :3, :4, :4])
    assert small._path == "channel"
    strided = bn.Conv2d(3, 4, 3, stride=2)
    strided(x[:, :3])
    assert strided._path == "channel"
    few_rows = bn.Conv2d(1, 16, 3)  # 9 column rows for 16 outputs: the output copy costs more
    few_rows(x[:, :1])
    assert few_rows._path == "channel"
    many_channels = bn.Conv2d(16, 32, 3, padding=1)  # window rows of 3·16 numbers
    assert is_nhwc(many_channels(x[:, :, :4, :4]))
    assert many_channels._path == "pixel"


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


def test_conv_eval_forward_then_backward_still_works():
    x = np.random.default_rng(5).standard_normal((7, 2, 6, 6))
    layer = bn.Conv2d(2, 3, 3, padding=1).to(np.float64)
    y_train = layer(x)
    y_eval = layer.eval()(x)
    np.testing.assert_array_equal(y_eval, y_train)
    dx = layer.backward(np.ones_like(y_eval))
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


@pytest.mark.parametrize("piece", [1 << 18, 20])  # 20 bytes: many pieces of halves
@pytest.mark.parametrize("layout", ["nchw", "cnhw", "nhwc", "strided"])
def test_maxpool_2x2_path_matches_the_general_one_with_ties(monkeypatch, layout, piece):
    monkeypatch.setattr(pool_module, "_PIECE_BYTES", piece)
    rng = np.random.default_rng(7)
    x = np.round(rng.standard_normal((3, 4, 6, 8)))  # many ties, even sizes: the 2x2 path
    x[:, :, :2, :2] = 0.0
    xin = {"nchw": x, "cnhw": _cnhw(x), "nhwc": _nhwc(x), "strided": np.asfortranarray(x)}[layout]
    pool = bn.MaxPool2d(2)
    y = pool(xin)
    assert isinstance(pool._cache, tuple) == (layout != "strided")
    dy = rng.standard_normal(y.shape)
    dx = pool.backward(dy)
    dx_cnhw = pool.backward(_cnhw(dy))  # dy in other memory orders
    dx_nhwc = pool.backward(_nhwc(dy))
    monkeypatch.setattr(bn.MaxPool2d, "_forward_2x2", lambda self, x: None)
    ref = bn.MaxPool2d(2)
    np.testing.assert_array_equal(y, ref(x))
    np.testing.assert_array_equal(dx, ref.backward(dy))
    np.testing.assert_array_equal(dx_cnhw, dx)
    np.testing.assert_array_equal(dx_nhwc, dx)
    if layout == "nhwc":  # the output keeps the input's memory order
        assert is_nhwc(y) and is_nhwc(dx)


def test_maxpool_2x2_path_hands_nan_windows_to_the_general_rule():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    pool = bn.MaxPool2d(2)
    y = pool(x)
    assert not isinstance(pool._cache, tuple) and np.isnan(y[0, 0, 0, 0])
    dx = pool.backward(np.ones_like(y))
    assert dx[0, 0, 1, 0] == 1 and dx[0, 0, 0, 1] == 0  # the window's last NaN, as PyTorch


@pytest.mark.parametrize("make", [bn.ReLU, lambda: bn.LeakyReLU(0.1), lambda: bn.LeakyReLU(3.0)])
def test_activation_backward_after_an_eval_forward(make):
    """In eval mode the activations keep no mask; a backward then (saliency maps, say)
    still gives the training-mode gradient."""
    x = np.random.default_rng(8).standard_normal((4, 3, 5, 5))
    x[0, 0, 0, :3] = 0.0
    dy = np.random.default_rng(9).standard_normal(x.shape)
    train, ev = make(), make().eval()
    np.testing.assert_array_equal(ev(x), train(x))
    assert ev._cache.dtype != bool  # no mask was built
    np.testing.assert_array_equal(ev.backward(dy), train.backward(dy))


@pytest.mark.parametrize("mnk", [1, 100, 10**6, 10**12])  # from one piece per K to none
def test_long_k_products_in_pieces_equal_one_product(monkeypatch, mnk):
    import barenet.core.functional as F

    monkeypatch.setattr(F, "SMALL_GEMM_MNK", mnk)
    rng = np.random.default_rng(10)
    for m, k, n in ((3, 1000, 5), (10, 7, 32), (40, 300, 40)):  # the last: output too big
        a, b = rng.standard_normal((m, k)), rng.standard_normal((n, k)).T
        out = np.full((m, n), np.nan)
        np.testing.assert_allclose(F.matmul_k_chunks(a, b, out), a @ b, rtol=1e-12, atol=1e-12)


def test_first_conv_weight_gradient_with_k_in_pieces_matches_one_product(monkeypatch):
    import barenet.core.functional as F

    x = np.random.default_rng(11).standard_normal((16, 1, 28, 28))
    grads = []
    for mnk in (10**12, 10**4):
        monkeypatch.setattr(F, "SMALL_GEMM_MNK", mnk)
        bn.seed(4)
        layer = bn.Conv2d(1, 8, 3, padding=1).to(np.float64)
        layer.backward(np.ones(layer.output_shape(x.shape)) * layer(x))
        grads.append((layer.weight.grad, layer.bias.grad))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)


def test_narrow_products_in_pieces_equal_one_product(monkeypatch):
    import barenet.core.functional as F

    monkeypatch.setattr(F, "SMALL_GEMM_MNK", 500)  # pieces even for these small shapes
    rng = np.random.default_rng(12)
    calls = []
    real = np.matmul
    monkeypatch.setattr(F.np, "matmul", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    # (M, K, N, stack, cut): narrow rows, narrow columns, a stack of b, wide, long K
    cases = [
        (4, 10, 101, None, True),
        (97, 9, 3, None, True),
        (50, 6, 5, 3, True),
        (40, 6, 40, None, False),  # both sides wider than SMALL_GEMM_NARROW
        (4, F.SMALL_GEMM_PIECES_MAX_K + 1, 9, None, False),
    ]
    for m, k, n, stack, cut in cases:
        a = rng.standard_normal((m, k))
        b = rng.standard_normal((k, n) if stack is None else (stack, k, n))
        out = np.full(b.shape[:-2] + (m, n), np.nan)
        calls.clear()
        np.testing.assert_allclose(F.matmul_pieces(a, b, out), a @ b, rtol=1e-12, atol=1e-12)
        assert (len(calls) > 1) == cut, (m, k, n)
