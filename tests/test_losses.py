"""Losses: values and gradients against PyTorch and central differences, overflow safety,
and bad targets."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from helpers import rel_err


def _z(n=4, k=5, seed=0):
    return np.random.default_rng(seed).standard_normal((n, k))


def test_cross_entropy_value_and_gradient_by_hand():
    z = np.array([[0.0, np.log(3.0)]])
    loss_fn = bn.SoftmaxCrossEntropy()
    assert loss_fn(z, np.array([1])) == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(loss_fn.backward(), [[0.25, -0.25]])
    np.testing.assert_allclose(loss_fn.probs, [[0.25, 0.75]])
    np.testing.assert_allclose(loss_fn.backward(2.0), [[0.5, -0.5]])


def test_cross_entropy_labels_and_one_hot_agree_and_sum_reduction():
    z = _z()
    y = np.array([0, 4, 2, 2])
    a, b = bn.SoftmaxCrossEntropy(), bn.SoftmaxCrossEntropy()
    assert a(z, y) == pytest.approx(b(z, np.eye(5)[y]), rel=1e-12)
    np.testing.assert_allclose(a.backward(), b.backward(), atol=1e-15)
    s = bn.SoftmaxCrossEntropy("sum")
    assert s(z, y) == pytest.approx(4 * a(z, y), rel=1e-12)
    assert a(z, y.astype(np.float64)) == pytest.approx(s(z, y) / 4)  # whole-number floats


def test_cross_entropy_is_overflow_safe():
    z = np.array([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 1e4]], np.float32)
    loss_fn = bn.SoftmaxCrossEntropy()
    loss = loss_fn(z, np.array([1, 1]))
    assert np.isfinite(loss) and loss == pytest.approx((2000 + np.log(2)) / 2, rel=1e-6)
    assert np.isfinite(loss_fn.backward()).all()
    assert loss_fn.backward().dtype == np.float32


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_cross_entropy_matches_torch(kind):
    torch = pytest.importorskip("torch")
    z = _z(6, 4, seed=3) * 3
    if kind == "labels":
        t = np.random.default_rng(1).integers(0, 4, 6)
        tt = torch.from_numpy(t)
    else:
        t = np.random.default_rng(1).dirichlet(np.ones(4), size=6)
        tt = torch.from_numpy(t)
    loss_fn = bn.SoftmaxCrossEntropy()
    loss = loss_fn(z, t)
    zt = torch.from_numpy(z).requires_grad_(True)
    lt = torch.nn.functional.cross_entropy(zt, tt)
    lt.backward()
    assert abs(loss - lt.item()) / abs(lt.item()) < 1e-12
    assert rel_err(loss_fn.backward(), zt.grad.numpy()) < 1e-12


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["labels", "soft"])
@pytest.mark.parametrize("eps", [0.1, 0.3, 1.0])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_label_smoothing_matches_torch(kind, eps, reduction):
    torch = pytest.importorskip("torch")
    z = _z(7, 5, seed=4) * 3
    g = np.random.default_rng(2)
    t = g.integers(0, 5, 7) if kind == "labels" else g.dirichlet(np.ones(5), size=7)
    loss_fn = bn.SoftmaxCrossEntropy(reduction, label_smoothing=eps)
    loss = loss_fn(z, t)
    zt = torch.from_numpy(z).requires_grad_(True)
    lt = torch.nn.functional.cross_entropy(
        zt, torch.from_numpy(t), label_smoothing=eps, reduction=reduction
    )
    lt.backward()
    assert abs(loss - lt.item()) <= 1e-9 * abs(lt.item())
    assert rel_err(loss_fn.backward(), zt.grad.numpy()) < 1e-9


@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_label_smoothing_gradcheck_and_meaning(kind):
    z = _z(5, 4, seed=6)
    g = np.random.default_rng(3)
    t = g.integers(0, 4, 5) if kind == "labels" else g.dirichlet(np.ones(4), size=5)
    res = bn.gradcheck(bn.SoftmaxCrossEntropy(label_smoothing=0.2), z, t)
    assert res.ok and res.max_error < 1e-6
    # eps = 0 is the plain loss; labels smooth exactly as the one-hot targets do.
    y = np.array([0, 3, 1, 1, 2])
    plain, smooth = bn.SoftmaxCrossEntropy(), bn.SoftmaxCrossEntropy(label_smoothing=0.2)
    assert bn.SoftmaxCrossEntropy(label_smoothing=0.0)(z, y) == plain(z, y)
    assert smooth(z, y) == pytest.approx(plain(z, 0.8 * np.eye(4)[y] + 0.05), rel=1e-12)
    # The smoothed optimum is a finite logit gap: p(true) = 1 - eps + eps / K.
    best = np.log(np.array([[0.85, 0.05, 0.05, 0.05]]))
    smooth(best, np.array([0]))
    assert np.abs(smooth.backward()).max() < 1e-12


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.1", True])
def test_label_smoothing_must_be_in_0_1(bad):
    with pytest.raises(ValueError, match="label_smoothing"):
        bn.SoftmaxCrossEntropy(label_smoothing=bad)


@pytest.mark.torch
def test_mse_matches_torch():
    torch = pytest.importorskip("torch")
    y, t = _z(3, 4, 1), _z(3, 4, 2)
    loss_fn = bn.MSELoss()
    loss = loss_fn(y, t)
    yt = torch.from_numpy(y).requires_grad_(True)
    lt = torch.nn.functional.mse_loss(yt, torch.from_numpy(t))
    lt.backward()
    assert abs(loss - lt.item()) < 1e-12
    assert rel_err(loss_fn.backward(), yt.grad.numpy()) < 1e-12


def test_mse_accepts_column_targets_and_sum():
    y = np.array([[1.0], [2.0], [4.0]])
    loss_fn = bn.MSELoss("sum")
    assert loss_fn(y, np.array([1.0, 1.0, 1.0])) == pytest.approx(10.0)
    np.testing.assert_allclose(loss_fn.backward(), [[0.0], [2.0], [6.0]])


@pytest.mark.parametrize(
    "z,t,match",
    [
        (_z(), np.array([0, 1, 5, 2]), r"\[0, 5\).*\[5\]"),
        (_z(), np.array([0, -1, 2, 2]), r"-1"),
        (_z(), np.array([0, 1, 2]), "4 logits rows but 3 labels"),
        (_z(), np.array([0.5, 1, 2, 2]), "whole numbers"),
        (_z(), np.ones((4, 3)), r"\(4, 3\)"),
        (np.where(np.eye(4, 5) > 0, np.nan, 0.0), np.zeros(4, int), "NaN or inf"),
        (np.where(np.eye(4, 5) > 0, np.inf, 0.0), np.zeros(4, int), "NaN or inf"),
        (_z(), np.full((4, 5), np.nan), "target contains NaN"),
        (np.zeros(5), np.array([1]), r"\(N, K\)"),
    ],
)
def test_cross_entropy_rejects_bad_input(z, t, match):
    loss_fn = bn.SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match=match):
        loss_fn(z, t)
    with pytest.raises(RuntimeError, match="before the loss"):
        loss_fn.backward()


def test_cross_entropy_rejects_non_integer_label_dtype():
    with pytest.raises(TypeError):
        bn.SoftmaxCrossEntropy()(_z(), np.array(["a", "b", "c", "d"]))


@pytest.mark.parametrize(
    "y,t,match",
    [
        (np.ones((2, 3)), np.ones((3, 2)), "differ"),
        (np.full((2, 2), np.inf), np.ones((2, 2)), "prediction contains"),
        (np.ones((2, 2)), np.full((2, 2), np.nan), "target contains"),
    ],
)
def test_mse_rejects_bad_input(y, t, match):
    with pytest.raises(ValueError, match=match):
        bn.MSELoss()(y, t)


# -- gradient checks (central differences, float64) ------------------------------------------
TOL = 1e-6


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("shape", [(4, 5), (1, 3)])
def test_softmax_cross_entropy_gradcheck_int_labels(shape):
    z = _x(shape, seed=2)
    y = np.random.default_rng(0).integers(0, shape[1], shape[0])
    res = bn.gradcheck(bn.SoftmaxCrossEntropy(), z, y)
    assert res.max_error < TOL, str(res)


def test_softmax_cross_entropy_gradcheck_onehot_and_soft():
    z = _x((4, 3), seed=4)
    onehot = np.eye(3)[[0, 2, 1, 2]]
    soft = np.random.default_rng(5).dirichlet(np.ones(3), size=4)
    for t in (onehot, soft):
        res = bn.gradcheck(bn.SoftmaxCrossEntropy(), z, t)
        assert res.max_error < TOL, str(res)
    res = bn.gradcheck(bn.SoftmaxCrossEntropy(reduction="sum"), z, soft)
    assert res.max_error < TOL, str(res)


def test_mse_gradcheck():
    y = _x((3, 4), seed=6)
    t = _x((3, 4), seed=7)
    for red in ("mean", "sum"):
        res = bn.gradcheck(bn.MSELoss(red), y, t)
        assert res.max_error < TOL, str(res)


@pytest.mark.torch
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_sequence_cross_entropy_with_padding_matches_torch(eps, reduction):
    """(N, T, K) logits of a time-distributed Linear, (N, T) labels with padded steps
    marked by ignore_index: torch's cross_entropy on (N, K, T) with the same index."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    z = rng.standard_normal((3, 6, 5)) * 2
    y = rng.integers(0, 5, (3, 6))
    y[0, 4:], y[2, 1:] = -100, -100
    loss_fn = bn.SoftmaxCrossEntropy(reduction, label_smoothing=eps, ignore_index=-100)
    loss = loss_fn(z, y)
    zt = torch.from_numpy(z).requires_grad_(True)
    lt = torch.nn.functional.cross_entropy(
        zt.permute(0, 2, 1), torch.from_numpy(y), reduction=reduction, label_smoothing=eps
    )
    lt.backward()
    assert abs(loss - lt.item()) / abs(lt.item()) < 1e-12
    grad = loss_fn.backward()
    assert grad.shape == z.shape and rel_err(grad, zt.grad.numpy()) < 1e-12
    assert not grad[2, 1:].any()  # padded steps get no gradient


def test_sequence_cross_entropy_gradient_and_the_all_padding_batch():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 4, (2, 3))
    y[1, 2] = -1
    res = bn.gradcheck(bn.SoftmaxCrossEntropy(ignore_index=-1), rng.standard_normal((2, 3, 4)), y)
    assert res.max_error < 1e-7, str(res)
    loss_fn = bn.SoftmaxCrossEntropy(ignore_index=-1)
    assert loss_fn(rng.standard_normal((2, 3, 4)), np.full((2, 3), -1)) == 0.0
    assert not loss_fn.backward().any()
    with pytest.raises(ValueError, match=r"labels \(2, 3\) or probabilities \(2, 3, 4\)"):
        loss_fn(rng.standard_normal((2, 3, 4)), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match=r"\[0, 4\) \(or -1: ignored\).*\[-2, -2"):
        loss_fn(rng.standard_normal((2, 3, 4)), np.full((2, 3), -2))
