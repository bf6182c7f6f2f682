"""Three whole models against PyTorch: outputs, input gradients and parameter gradients.

The MLP 784-256-128-10, the small CNN of the reports and the 21-layer CNN are
built in both libraries from one state dict (float64 must agree to 1e-9, float32
to 1e-4), and state dicts move torch → barenet → torch unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.testing import torch_twin
from helpers import rel_err, run_both, tol, worst

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def mlp() -> bn.Sequential:
    return bn.Sequential(
        bn.Flatten(),
        bn.Linear(784, 256),
        bn.LeakyReLU(),
        bn.Linear(256, 128),
        bn.LeakyReLU(),
        bn.Linear(128, 10),
    )


def cnn_small() -> bn.Sequential:
    return bn.Sequential(
        bn.Conv2d(1, 32, 3, padding=1),
        bn.ReLU(),
        bn.MaxPool2d(2),
        bn.Conv2d(32, 64, 3, padding=1),
        bn.ReLU(),
        bn.MaxPool2d(2),
        bn.Flatten(),
        bn.Linear(3136, 128),
        bn.ReLU(),
        bn.Linear(128, 10),
    )


def cnn_deep() -> bn.Sequential:
    """3 blocks of two 3x3 convs (16,16 | 32,32 | 64,64), paddings 0,0,0,0,1,1: 21 layers."""
    layers: list[bn.Module] = []
    c_in = 1
    for c, pad in ((16, 0), (32, 0), (64, 1)):
        for _ in range(2):
            layers += [bn.Conv2d(c_in, c, 3, padding=pad), bn.ReLU()]
            c_in = c
        layers.append(bn.MaxPool2d(2))
    layers += [
        bn.Flatten(),
        bn.Linear(256, 50),
        bn.ReLU(),
        bn.Dropout(0.5),
        bn.Linear(50, 10),
        bn.Dropout(0.5),
    ]
    return bn.Sequential(*layers)


MODELS = {"mlp": mlp, "cnn-small": cnn_small, "cnn-deep": cnn_deep}
BATCH = {"mlp": 4, "cnn-small": 3, "cnn-deep": 3}


def test_deep_cnn_has_21_layers_and_the_right_shapes():
    model = cnn_deep()
    assert len(model) == 21
    assert model(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)


def _inputs(name, dtype):
    rng = np.random.default_rng(11)
    return rng.uniform(0, 1, (BATCH[name], 1, 28, 28)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_matches_torch_in_eval_mode(name, dtype):
    bn.set_default_dtype(dtype)
    model = MODELS[name]().eval()
    twin = torch_twin(model)
    pairs = run_both(model, twin, _inputs(name, dtype))
    key, err = worst(pairs)
    assert err < tol(dtype), f"{name} {np.dtype(dtype)}: {key} off by {err:.2e}"
    assert len(pairs) == 2 + len(model.parameters())


class _MaskDropout(torch.nn.Module):
    """torch side of a dropout layer: multiplies by the mask barenet just drew."""

    def __init__(self, layer: bn.Dropout):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return x * torch.from_numpy(self.layer._cache)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deep_cnn_matches_torch_in_training_with_matched_dropout_masks(dtype):
    bn.set_default_dtype(dtype)
    model = cnn_deep().train()
    twin = torch_twin(model)
    for i, layer in enumerate(model):
        if isinstance(layer, bn.Dropout):
            twin[i] = _MaskDropout(layer)
    pairs = run_both(model, twin, _inputs("cnn-deep", dtype))
    key, err = worst(pairs)
    assert err < tol(dtype), f"{key} off by {err:.2e}"
    masks = [m._cache for m in model if isinstance(m, bn.Dropout)]
    assert all(m is not None and (m == 0).any() for m in masks)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_state_dict_moves_torch_to_barenet_and_back_unchanged(name):
    bn.set_default_dtype(np.float64)
    model = MODELS[name]()
    twin = torch_twin(model)
    torch.manual_seed(0)
    for p in twin.parameters():  # fresh torch weights, unrelated to barenet's
        torch.nn.init.normal_(p)
    tsd = twin.state_dict()
    model.load_state_dict({k: v.numpy() for k, v in tsd.items()})
    back = model.state_dict()
    assert list(back) == list(tsd)
    for k in tsd:
        assert back[k].shape == tuple(tsd[k].shape), k
        np.testing.assert_array_equal(back[k], tsd[k].numpy())
    twin2 = torch_twin(model)
    assert list(twin2.state_dict()) == list(tsd)
    x = _inputs(name, np.float64)
    twin.eval()
    model.eval()
    assert rel_err(model(x), twin(torch.from_numpy(x)).detach().numpy()) < 1e-9
