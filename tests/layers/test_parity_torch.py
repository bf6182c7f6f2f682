"""Each layer against its torch.nn twin: same weights, same outputs and gradients.

float64 must agree to 1e-9 and float32 to 1e-4 (relative to the reference's scale).
"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from helpers import rel_err, run_both, tol, torch_twin, worst

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning"),
]

DTYPES = [np.float64, np.float32]

CASES = {
    "Linear": (lambda: bn.Linear(6, 4), (5, 6)),
    "Linear-nobias": (lambda: bn.Linear(6, 4, bias=False), (1, 6)),
    "Conv2d-k3-p1": (lambda: bn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5)),
    "Conv2d-k3-s2": (lambda: bn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 7, 8)),
    "Conv2d-k5-s3": (lambda: bn.Conv2d(2, 3, 5, stride=3), (2, 2, 11, 9)),
    "Conv2d-same-even": (lambda: bn.Conv2d(2, 3, 4, padding="same"), (2, 2, 5, 6)),
    "Conv2d-rect": (
        lambda: bn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), bias=False),
        (2, 2, 7, 5),
    ),
    "MaxPool2d-2": (lambda: bn.MaxPool2d(2), (2, 3, 7, 6)),
    "MaxPool2d-k3-s2": (lambda: bn.MaxPool2d(3, 2), (2, 2, 9, 8)),
    "AvgPool2d-2": (lambda: bn.AvgPool2d(2), (2, 3, 7, 6)),
    "AvgPool2d-k3-s2": (lambda: bn.AvgPool2d(3, 2), (2, 2, 9, 8)),
    "GlobalAvgPool2d": (lambda: bn.GlobalAvgPool2d(), (2, 3, 4, 5)),
    "Flatten": (lambda: bn.Flatten(), (2, 3, 2, 2)),
    "ReLU": (lambda: bn.ReLU(), (4, 7)),
    "LeakyReLU": (lambda: bn.LeakyReLU(0.1), (4, 7)),
    "Sigmoid": (lambda: bn.Sigmoid(), (4, 7)),
    "Tanh": (lambda: bn.Tanh(), (4, 7)),
    "Softmax": (lambda: bn.Softmax(), (4, 7)),
    "Dropout-eval": (lambda: bn.Dropout(0.5).eval(), (4, 7)),
    "BatchNorm1d-eval": (lambda: bn.BatchNorm1d(3).eval(), (4, 3)),
    "Residual-identity": (
        lambda: bn.Residual(bn.Sequential(bn.ReLU(), bn.Conv2d(2, 2, 3, padding=1))),
        (2, 2, 5, 5),
    ),
    "Residual-projection": (
        lambda: bn.Residual(
            bn.Sequential(
                bn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False), bn.BatchNorm2d(3), bn.ReLU()
            ),
            bn.Sequential(bn.Conv2d(2, 3, 1, stride=2, bias=False), bn.BatchNorm2d(3)),
        ),
        (3, 2, 6, 6),
    ),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_matches_torch(name, dtype):
    bn.set_default_dtype(dtype)
    make, shape = CASES[name]
    layer = make()
    twin = torch_twin(layer)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    pairs = run_both(layer, twin, x)
    key, err = worst(pairs)
    assert err < tol(dtype), f"{name} {np.dtype(dtype)}: {key} off by {err:.2e}"
    assert pairs["y"][0].dtype == dtype and pairs["dx"][0].dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "cls,shape",
    [(bn.BatchNorm1d, (6, 3)), (bn.BatchNorm1d, (4, 3, 5)), (bn.BatchNorm2d, (3, 3, 4, 5))],
)
def test_batchnorm_training_and_running_stats_match_torch(cls, shape, dtype):
    bn.set_default_dtype(dtype)
    layer = cls(3, momentum=0.2)
    rng = np.random.default_rng(1)
    layer.weight.data[...] = rng.uniform(0.5, 1.5, 3)
    layer.bias.data[...] = rng.standard_normal(3)
    twin = torch_twin(layer)
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        pairs = run_both(layer, twin, x)
        key, err = worst(pairs)
        assert err < tol(dtype), f"step {step}: {key} off by {err:.2e}"
    tsd = twin.state_dict()
    for k in ("running_mean", "running_var"):
        assert rel_err(getattr(layer, k), tsd[k].numpy()) < tol(dtype), k
    assert int(layer.num_batches_tracked) == int(tsd["num_batches_tracked"]) == 3
    layer.eval()
    twin.eval()
    x = rng.standard_normal(shape).astype(dtype)
    key, err = worst(run_both(layer, twin, x))
    assert err < tol(dtype), f"eval: {key} off by {err:.2e}"


def _ties_after_relu(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.maximum(x - 0.5, 0)  # about 70 % zeros: windows full of ties


def _integer_ties(shape, seed):
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make_x", [_ties_after_relu, _integer_ties])
@pytest.mark.parametrize(
    "k,s,shape", [(2, None, (2, 3, 8, 7)), (3, 2, (2, 2, 9, 7)), (2, 1, (1, 2, 5, 5))]
)
def test_maxpool_ties_route_like_torch(make_x, k, s, shape, dtype):
    """With equal values in a window the gradient goes where PyTorch sends it."""
    layer = bn.MaxPool2d(k, s)
    twin = torch_twin(layer)
    x = make_x(shape, 3).astype(dtype)
    out = layer(x)
    dy = np.random.default_rng(4).standard_normal(out.shape).astype(dtype)
    pairs = run_both(layer, twin, x, dy)
    np.testing.assert_array_equal(pairs["y"][0], pairs["y"][1])
    # A tie routed to another element would be off by O(1); overlapping windows only
    # change the order of the sums, which is rounding.
    assert rel_err(*pairs["dx"]) < tol(dtype)
    assert np.array_equal(pairs["dx"][0] != 0, pairs["dx"][1] != 0)


def test_float64_input_to_float32_layer_matches_torch_float32():
    layer = bn.Conv2d(2, 3, 3)
    twin = torch_twin(layer)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    y = layer(x)
    assert y.dtype == np.float32
    yt = twin(torch.from_numpy(x.astype(np.float32))).detach().numpy()
    assert rel_err(y, yt) < 1e-4
