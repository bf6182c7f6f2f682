"""The fast NumPy kernels take every path they choose by shape, and each computes what the
reference kernels compute.

Conv2d builds its columns a run of images at a time, by strided windows, by flat shifts
or pixel-major over (N, H, W, C) memory; the layer cases use small shapes, so here
``tuned`` forces every path. Layers also get inputs in the (C, N, H, W) and
(N, H, W, C) memory orders that Conv2d hands on.
"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet import reference
from barenet.fast.cpu import activation, gemm, pool, tuned
from barenet.fast.cpu.columns import batch_chunks
from barenet.fast.cpu.conv import choose_layout, conv2d_backward, conv2d_forward
from barenet.fast.cpu.layout import empty_in, in_layout


def _in(layout, a):
    out = empty_in(layout, a.shape, a.dtype)
    out[...] = a
    return out


def _layer(cfg):
    bn.seed(3)
    return bn.Conv2d(*cfg[:3], stride=cfg[3], padding=cfg[4]).to(np.float64)


def _run(layer, x, dy):
    layer.zero_grad()
    y = layer(x)
    dx = layer.backward(dy)
    return y, dx, layer.weight.grad.copy(), layer.bias.grad.copy()


CONV_CONFIGS = [
    (2, 3, 3, 1, 1),
    (3, 4, 3, 2, 0),
    (2, 2, (2, 3), (1, 2), (1, 0)),
    (2, 3, 3, 1, "same"),
    (1, 32, 3, 1, 1),  # many outputs: channel columns write (N, H, W, C) memory
]


@pytest.mark.parametrize("cfg", CONV_CONFIGS)
@pytest.mark.parametrize("run_bytes", [1, 2000, 1 << 40])  # one image per run .. one run
@pytest.mark.parametrize("layout", ["channel", "flat", "pixel"])
def test_conv_layouts_agree_with_the_reference(cfg, run_bytes, layout):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, cfg[0], 7, 8))
    layer = _layer(cfg)
    dy = rng.standard_normal(layer.output_shape(x.shape))
    with bn.kernels("reference"):
        want = _run(layer, x, dy)
    with tuned(conv_layout=layout, run_bytes=run_bytes):
        taken = choose_layout(x.shape, layer.weight.shape, layer.stride, layer._pad)
        assert taken == ("channel" if layout == "flat" and layer.stride != (1, 1) else layout)
        for order in ("nchw", "cnhw", "nhwc"):
            xin, dyin = _in(order, x), _in(order, dy)
            dy0 = dyin.copy()
            y, dx, dw, db = _run(layer, xin, dyin)
            pixel = taken == "pixel"  # then dx (a crop of a buffer) is channel-innermost
            assert (dx.strides[1] == dx.itemsize) == pixel
            assert in_layout(y, "nhwc") == (pixel or (taken == "channel" and cfg[1] >= 32))
            for got, ref in zip((y, dx, dw, db), want):
                np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(dyin, dy0)  # backward never writes into dy


@pytest.mark.parametrize("layout", ["channel", "flat", "pixel"])
def test_conv_without_bias_or_input_gradient(layout):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 6, 5))
    w = rng.standard_normal((2, 3, 2, 3))
    stride, pad = (2 if layout != "flat" else 1, 1), (0, 0, 1, 1)
    want_y, cache = reference.conv2d_forward(x, w, None, stride, pad)
    dy = rng.standard_normal(want_y.shape)
    _, want_dw, want_db = reference.conv2d_backward(dy, cache, need_dx=False)
    with tuned(conv_layout=layout, run_bytes=1):
        y, fast_cache = conv2d_forward(x, w, None, stride, pad)
        dx, dw, db = conv2d_backward(dy, fast_cache, need_dx=False)
    assert dx is None and db is None and want_db is None
    np.testing.assert_allclose(y, want_y, atol=1e-12)
    np.testing.assert_allclose(dw, want_dw, atol=1e-12)


@pytest.mark.parametrize("layout", ["channel", "flat", "pixel"])
def test_conv_rebuilt_columns_pass_gradcheck(layout):
    bn.seed(1)
    layer = bn.Conv2d(2, 3, 3, padding=1).to(np.float64)
    with tuned(conv_layout=layout, run_bytes=1):
        res = bn.gradcheck(layer, np.random.default_rng(2).standard_normal((3, 2, 5, 4)))
    assert res.ok, res


def test_column_layout_is_chosen_by_shape():
    def taken(c, o, h, w, stride=(1, 1), pad=(0, 0, 0, 0)):
        return choose_layout((2, c, h, w), (o, c, 3, 3), stride, pad)

    assert taken(3, 4, 26, 26) == "flat"  # 26x26 → 24x24: 1.17x the pixels
    assert taken(3, 4, 4, 4, pad=(1, 1, 1, 1)) == "channel"  # 4x4 padded to 6x6: 2.25x
    assert taken(3, 4, 26, 26, stride=(2, 2)) == "channel"
    assert taken(1, 16, 26, 26) == "channel"  # 9 column rows for 16 outputs
    assert taken(16, 32, 4, 4, pad=(1, 1, 1, 1)) == "pixel"  # window rows of 3·16 numbers
    many = bn.Conv2d(16, 32, 3, padding=1)
    assert in_layout(many(np.zeros((2, 16, 4, 4), np.float32)), "nhwc")


def test_conv_output_is_channel_major_view_and_accumulates():
    bn.seed(0)
    layer = bn.Conv2d(2, 3, 3, padding=1)
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6)).astype(np.float32)
    y = layer(x)
    assert y.shape == (4, 3, 6, 6) and y.dtype == np.float32 and in_layout(y, "cnhw")
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


@pytest.mark.parametrize("maxpool_2x2", [True, False])
@pytest.mark.parametrize("k, s", [(2, None), (3, 2), (3, 1), ((2, 3), (2, 3))])
def test_maxpool_ties_go_to_the_first_max_in_every_layout(k, s, maxpool_2x2):
    rng = np.random.default_rng(4)
    x = np.round(rng.standard_normal((2, 3, 8, 10)))  # many ties
    x[:, :, :3, :3] = 0.0
    with bn.kernels("reference"):
        ref = bn.MaxPool2d(k, s)
        want_y = ref(x)
        dy = rng.standard_normal(want_y.shape)
        want_dx = ref.backward(dy)
    with tuned(maxpool_2x2=maxpool_2x2):
        for order in ("nchw", "cnhw", "nhwc"):
            layer = bn.MaxPool2d(k, s)
            np.testing.assert_array_equal(layer(_in(order, x)), want_y)
            for dy_order in ("nchw", "cnhw"):
                np.testing.assert_array_equal(layer.backward(_in(dy_order, dy)), want_dx)


@pytest.mark.parametrize("maxpool_2x2", [True, False])
def test_maxpool_propagates_nan_to_the_last_nan_as_pytorch(maxpool_2x2):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    with tuned(maxpool_2x2=maxpool_2x2):
        layer = bn.MaxPool2d(2)
        y = layer(x)
        dx = layer.backward(np.ones_like(y))
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1, 1])
    assert dx[0, 0, 1, 0] == 1 and dx[0, 0, 0, 1] == 0  # the window's last NaN
    with bn.kernels("reference"):
        ref = bn.MaxPool2d(2)
        np.testing.assert_array_equal(ref(x), y)
        np.testing.assert_array_equal(ref.backward(np.ones_like(y)), dx)


@pytest.mark.parametrize("piece", [1 << 18, 20])  # 20 bytes: many pieces of halves
@pytest.mark.parametrize("layout", ["nchw", "cnhw", "nhwc", "strided"])
def test_maxpool_2x2_path_matches_the_general_one_with_ties(layout, piece):
    rng = np.random.default_rng(7)
    x = np.round(rng.standard_normal((3, 4, 6, 8)))  # many ties, even sizes: the 2x2 path
    x[:, :, :2, :2] = 0.0
    xin = {"nchw": x, "cnhw": _in("cnhw", x), "nhwc": _in("nhwc", x)}.get(layout)
    xin = np.asfortranarray(x) if xin is None else xin
    with tuned(pool_piece_bytes=piece):
        y, cache = pool.maxpool2d_forward(xin, (2, 2), (2, 2))
        assert (cache.arg is None) == (layout != "strided")  # the pairwise path ran
        dy = rng.standard_normal(y.shape)
        dxs = [pool.maxpool2d_backward(d, cache) for d in (dy, _in("cnhw", dy), _in("nhwc", dy))]
    with tuned(maxpool_2x2=False):
        want_y, general = pool.maxpool2d_forward(x, (2, 2), (2, 2))
        want_dx = pool.maxpool2d_backward(dy, general)
    np.testing.assert_array_equal(y, want_y)
    for dx in dxs:  # dy in other memory orders
        np.testing.assert_array_equal(dx, want_dx)
    if layout == "nhwc":  # the output keeps the input's memory order
        assert in_layout(y, "nhwc") and in_layout(dxs[0], "nhwc")


@pytest.mark.parametrize("make", [bn.ReLU, lambda: bn.LeakyReLU(0.1), lambda: bn.LeakyReLU(2.0)])
def test_activations_exact_in_both_layouts(make):
    layer = make()
    x = np.random.default_rng(5).standard_normal((3, 2, 4, 5)).astype(np.float32)
    x[0, 0, 0, :2] = 0.0
    a = layer.negative_slope if isinstance(layer, bn.LeakyReLU) else 0.0
    for xin in (x, _in("cnhw", x)):
        y = layer(xin)
        np.testing.assert_array_equal(y, np.where(x > 0, x, x * np.float32(a)))
        assert y.dtype == np.float32
        dy = np.full(x.shape, 3.0, np.float32)
        dx = layer.backward(dy)
        np.testing.assert_array_equal(dx, np.where(x > 0, 3.0, 3.0 * np.float32(a)))
        assert dx.dtype == np.float32 and (dy == 3.0).all()


@pytest.mark.parametrize("slope", [None, 0.1, 3.0])
def test_activation_backward_after_an_eval_forward(slope):
    """In eval mode the fast activations keep no mask, only x; a backward then (saliency
    maps, say) still gives the training-mode gradient."""
    x = np.random.default_rng(8).standard_normal((4, 3, 5, 5))
    x[0, 0, 0, :3] = 0.0
    dy = np.random.default_rng(9).standard_normal(x.shape)
    if slope is None:
        (y_ev, kept), (y_tr, mask) = activation.relu_forward_eval(x), activation.relu_forward(x)
        backward = activation.relu_backward
    else:
        (y_ev, kept), (y_tr, mask) = (
            activation.leaky_relu_forward_eval(x, slope),
            activation.leaky_relu_forward(x, slope),
        )
        backward = activation.leaky_relu_backward
    assert (kept if slope is None else kept[0]) is x  # no mask was built
    np.testing.assert_array_equal(y_ev, y_tr)
    np.testing.assert_array_equal(backward(dy, kept), backward(dy, mask))


@pytest.mark.parametrize("mnk", [1, 100, 10**6, 10**12])  # from one piece per K to none
def test_long_k_products_in_pieces_equal_one_product(mnk):
    rng = np.random.default_rng(10)
    with tuned(small_gemm_mnk=mnk):
        for m, k, n in ((3, 1000, 5), (10, 7, 32), (40, 300, 40)):  # the last: output too big
            a, b = rng.standard_normal((m, k)), rng.standard_normal((n, k)).T
            out = np.full((m, n), np.nan)
            got = gemm.matmul_k_chunks(a, b, out)
            np.testing.assert_allclose(got, a @ b, rtol=1e-12, atol=1e-12)


def test_first_conv_weight_gradient_with_k_in_pieces_matches_one_product():
    x = np.random.default_rng(11).standard_normal((16, 1, 28, 28))
    grads = []
    for mnk in (10**12, 10**4):
        with tuned(small_gemm_mnk=mnk):
            bn.seed(4)
            layer = bn.Conv2d(1, 8, 3, padding=1).to(np.float64)
            layer.backward(np.ones(layer.output_shape(x.shape)) * layer(x))
            grads.append((layer.weight.grad, layer.bias.grad))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)


def test_narrow_products_in_pieces_equal_one_product(monkeypatch):
    rng = np.random.default_rng(12)
    calls = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    # (M, K, N, stack, cut): narrow rows, narrow columns, a stack of b, wide, long K
    cases = [
        (4, 10, 101, None, True),
        (97, 9, 3, None, True),
        (50, 6, 5, 3, True),
        (40, 6, 40, None, False),  # both sides wider than gemm.NARROW
        (4, gemm.PIECES_MAX_K + 1, 9, None, False),
    ]
    with tuned(small_gemm_mnk=500):  # pieces even for these small shapes
        for m, k, n, stack, cut in cases:
            a = rng.standard_normal((m, k))
            b = rng.standard_normal((k, n) if stack is None else (stack, k, n))
            out = np.full(b.shape[:-2] + (m, n), np.nan)
            calls.clear()
            got = gemm.matmul_pieces(a, b, out)
            np.testing.assert_allclose(got, real(a, b), rtol=1e-12, atol=1e-12)
            assert (len(calls) > 1) == cut, (m, k, n)


def test_tuned_rejects_unknown_settings_and_restores_the_old_ones():
    from barenet.fast.cpu import settings

    before = settings.run_bytes
    with pytest.raises(TypeError, match="unknown setting"):
        with tuned(run_byte=1):
            pass
    with pytest.raises(ValueError, match="conv_layout"):
        with tuned(conv_layout="diagonal"):
            pass
    with pytest.raises(ValueError, match="run_bytes"):
        with tuned(run_bytes=0):
            pass
    with pytest.raises(RuntimeError):
        with tuned(run_bytes=7):
            assert settings.run_bytes == 7
            raise RuntimeError
    assert settings.run_bytes == before
