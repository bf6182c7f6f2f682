"""Hand-derived backward passes against central differences (float64, rel. error < 1e-6).

Shapes are chosen to catch the classic slips: strides that do not divide the
input, overlapping windows, even kernels with 'same' padding, batch size 1.
"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn

TOL = 1e-6


def _x(shape, seed=0, distinct=False):
    rng = np.random.default_rng(seed)
    if distinct:  # well-separated values: no max-pool tie within ±eps
        n = int(np.prod(shape))
        return (rng.permutation(n).reshape(shape) * 0.1 - n * 0.05).astype(np.float64)
    return rng.standard_normal(shape)


CONV_CASES = {
    "k3-s1-p0": (dict(in_channels=2, out_channels=3, kernel_size=3), (2, 2, 6, 5)),
    "k3-s2-p1-nondividing": (
        dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1),
        (2, 2, 7, 6),
    ),
    "k3-s3": (dict(in_channels=1, out_channels=2, kernel_size=3, stride=3), (2, 1, 8, 10)),
    "k5-p2": (dict(in_channels=2, out_channels=2, kernel_size=5, padding=2), (1, 2, 6, 7)),
    "same-odd": (dict(in_channels=2, out_channels=2, kernel_size=3, padding="same"), (2, 2, 5, 4)),
    "same-even": (dict(in_channels=2, out_channels=2, kernel_size=4, padding="same"), (2, 2, 5, 6)),
    "valid": (dict(in_channels=1, out_channels=2, kernel_size=2, padding="valid"), (2, 1, 5, 4)),
    "no-bias": (dict(in_channels=2, out_channels=3, kernel_size=3, bias=False), (2, 2, 5, 5)),
    "unequal-strides": (
        dict(in_channels=2, out_channels=2, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
        (2, 2, 7, 5),
    ),
    "batch-1": (dict(in_channels=3, out_channels=2, kernel_size=3, stride=2), (1, 3, 7, 7)),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_gradcheck(case, f64):
    kwargs, shape = CONV_CASES[case]
    res = bn.gradcheck(bn.Conv2d(**kwargs), _x(shape))
    assert res.max_error < TOL, str(res)
    assert set(res.param_errors) == ({"weight", "bias"} if kwargs.get("bias", True) else {"weight"})


POOL_CASES = {
    "tiled-2": ((2,), None, (2, 2, 4, 6)),
    "tiled-2-nondividing": ((2,), None, (2, 2, 5, 7)),
    "overlap-k3-s2": ((3,), 2, (2, 2, 7, 6)),
    "k3-s2-nondividing": ((3,), 2, (1, 2, 8, 9)),
    "k2-s1": ((2,), 1, (2, 1, 4, 5)),
    "rect": (((2, 3),), (1, 2), (2, 1, 5, 7)),
}


@pytest.mark.parametrize("cls", [bn.MaxPool2d, bn.AvgPool2d])
@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pool_gradcheck(cls, case):
    k, s, shape = POOL_CASES[case]
    layer = cls(*k, stride=s)
    res = bn.gradcheck(layer, _x(shape, distinct=True))
    assert res.max_error < TOL, str(res)


@pytest.mark.parametrize("cls", [bn.MaxPool2d, bn.AvgPool2d])
def test_tiled_fast_path_equals_strided_path(cls):
    """The reshape fast path (stride == kernel) gives what the window path gives."""

    class Strided(cls):
        _tiled = False

    x = _x((2, 3, 7, 6), distinct=True)
    dy = _x((2, 3, 3, 3), seed=9)
    fast, slow = cls(2), Strided(2)
    assert fast._tiled and not slow._tiled
    np.testing.assert_array_equal(fast(x), slow(x))
    np.testing.assert_allclose(fast.backward(dy), slow.backward(dy), rtol=0, atol=1e-15)


LAYERS = {
    "Linear": (lambda: bn.Linear(4, 3), (3, 4)),
    "Linear-nobias-b1": (lambda: bn.Linear(5, 2, bias=False), (1, 5)),
    "Linear-3d": (lambda: bn.Linear(4, 2), (2, 3, 4)),
    "Flatten": (lambda: bn.Flatten(), (2, 2, 3, 2)),
    "ReLU": (lambda: bn.ReLU(), (3, 5)),
    "LeakyReLU": (lambda: bn.LeakyReLU(0.2), (3, 5)),
    "Sigmoid": (lambda: bn.Sigmoid(), (3, 5)),
    "Tanh": (lambda: bn.Tanh(), (3, 5)),
    "Softmax": (lambda: bn.Softmax(), (3, 5)),
    "Softmax-axis-last": (lambda: bn.Softmax(axis=-1), (2, 3, 4)),
    "GlobalAvgPool2d": (lambda: bn.GlobalAvgPool2d(), (2, 3, 3, 4)),
    "BatchNorm1d-2d": (lambda: bn.BatchNorm1d(3), (5, 3)),
    "BatchNorm1d-3d": (lambda: bn.BatchNorm1d(3), (2, 3, 4)),
    "BatchNorm2d": (lambda: bn.BatchNorm2d(2), (3, 2, 3, 2)),
    "BatchNorm2d-b1": (lambda: bn.BatchNorm2d(2), (1, 2, 3, 3)),
    "Dropout-train": (lambda: bn.Dropout(0.4), (4, 6)),
    "Residual-identity": (
        lambda: bn.Residual(bn.Sequential(bn.ReLU(), bn.Conv2d(2, 2, 3, padding=1))),
        (2, 2, 4, 4),
    ),
    "Residual-projection": (
        lambda: bn.Residual(
            bn.Sequential(
                bn.Conv2d(2, 3, 3, stride=2, padding=1),
                bn.BatchNorm2d(3),
                bn.ReLU(),
                bn.Conv2d(3, 3, 3, padding=1),
                bn.BatchNorm2d(3),
            ),
            bn.Sequential(bn.Conv2d(2, 3, 1, stride=2), bn.BatchNorm2d(3)),
        ),
        (2, 2, 5, 5),
    ),
    "Sequential-mlp": (
        lambda: bn.Sequential(bn.Linear(4, 5), bn.Tanh(), bn.Linear(5, 3), bn.Sigmoid()),
        (3, 4),
    ),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradcheck(name, f64):
    make, shape = LAYERS[name]
    x = _x(shape, seed=1)
    if "ReLU" in name or "Residual" in name:
        x[np.abs(x) < 1e-3] = 0.5  # keep every input away from the kink at 0
    res = bn.gradcheck(make(), x)
    assert res.max_error < TOL, str(res)


def _randomize_bn(model):
    rng = np.random.default_rng(7)
    for m in model.modules():
        if isinstance(m, (bn.BatchNorm1d, bn.BatchNorm2d)):
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.shape)
            m.bias.data[...] = rng.standard_normal(m.bias.shape)
            m.running_mean = rng.standard_normal(m.num_features)
            m.running_var = rng.uniform(0.5, 2.0, m.num_features)
    return model


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda: bn.BatchNorm1d(3), (4, 3)),
        (lambda: bn.BatchNorm1d(3), (2, 3, 4)),
        (lambda: bn.BatchNorm2d(2), (2, 2, 3, 3)),
        (lambda: bn.BatchNorm2d(2), (1, 2, 2, 1)),
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck_train_and_eval(make, shape, training, f64):
    if training and np.prod(shape) // shape[1] < 2:
        pytest.skip("training batch norm needs two values per channel")
    layer = _randomize_bn(make())
    layer.train(training)
    res = bn.gradcheck(layer, _x(shape, seed=3))
    assert res.max_error < TOL, str(res)


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
