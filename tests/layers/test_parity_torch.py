"""Layers against their torch.nn twins where one step is not enough: BatchNorm's running
statistics over several steps, max-pool ties, mixed precision. (Every layer case's single
step is compared in test_cases.py.) float64 must agree to 1e-9 and float32 to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.testing import torch_twin
from helpers import rel_err, run_both, tol, worst

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning"),
]

DTYPES = [np.float64, np.float32]


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
