"""Weight initialisation: the torch.nn.init formulas, fans, gains, and repeatability."""

from __future__ import annotations

import math

import numpy as np
import pytest

import barenet as bn
from barenet import init


def test_fans_of_linear_and_conv_weights():
    assert init.fans((10, 4)) == (4, 10)
    assert init.fans((16, 3, 5, 5)) == (75, 400)
    with pytest.raises(ValueError):
        init.fans((3,))


def test_gains_match_torch():
    torch = pytest.importorskip("torch")
    for nl in ("linear", "conv2d", "sigmoid", "tanh", "relu"):
        assert init.calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


# (function, expected std for a (200, 100, 3, 3) weight: fan_in 900, fan_out 1800)
FAN_IN, FAN_OUT = 900, 1800
EXPECTED_STD = {
    "he_normal": math.sqrt(2 / FAN_IN),
    "he_uniform": math.sqrt(2 / FAN_IN),
    "xavier_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "xavier_uniform": math.sqrt(2 / (FAN_IN + FAN_OUT)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_STD))
def test_scheme_has_the_textbook_spread(name):
    w = bn.Parameter(np.zeros((200, 100, 3, 3), np.float32))
    out = getattr(init, name)(w, rng=np.random.default_rng(0))
    assert out is w and w.dtype == np.float32
    assert abs(w.data.mean()) < 1e-3
    assert w.data.std() == pytest.approx(EXPECTED_STD[name], rel=0.01)
    if name.endswith("uniform"):
        bound = math.sqrt(3) * EXPECTED_STD[name]
        assert np.abs(w.data).max() <= bound
        assert np.abs(w.data).max() > 0.99 * bound


def test_he_fan_out_mode_and_aliases():
    w = np.zeros((400, 50))
    init.he_normal(w, mode="fan_out", rng=np.random.default_rng(1))
    assert w.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert init.kaiming_normal is init.he_normal and init.glorot_uniform is init.xavier_uniform
    with pytest.raises(ValueError):
        init.he_normal(w, mode="fan_avg")


def test_global_seed_makes_init_repeatable():
    a, b = np.zeros((5, 5)), np.zeros((5, 5))
    bn.seed(3)
    init.xavier_uniform(a)
    bn.seed(3)
    init.xavier_uniform(b)
    np.testing.assert_array_equal(a, b)


def test_apply_reinitialises_linear_and_conv_and_zeroes_biases():
    model = bn.Sequential(bn.Conv2d(1, 64, 3), bn.BatchNorm2d(64), bn.Flatten(), bn.Linear(64, 300))
    bn_weight = model[1].weight.data.copy()
    assert init.apply(model, "he_normal") is model
    assert model[0].weight.data.std() == pytest.approx(math.sqrt(2 / 9), rel=0.1)
    assert model[3].weight.data.std() == pytest.approx(math.sqrt(2 / 64), rel=0.05)
    assert (model[0].bias.data == 0).all() and (model[3].bias.data == 0).all()
    np.testing.assert_array_equal(model[1].weight.data, bn_weight)
    with pytest.raises(ValueError, match="unknown scheme"):
        init.apply(model, "orthogonal")


def test_default_layer_init_matches_torch_bounds():
    lin = bn.Linear(100, 400)
    bound = 1 / math.sqrt(100)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert lin.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_apply_reinitialises_every_layer_that_names_its_weight():
    class Scale(bn.Module):
        """A layer of someone's own: y = x Wᵀ, its weight named for init.apply."""

        init_weight = "kernel"

        def __init__(self):
            super().__init__()
            self.kernel = bn.Parameter(np.zeros((64, 32)))
            self.bias = bn.Parameter(np.ones(64))

    model = bn.Sequential(Scale(), bn.ReLU())
    init.apply(model, "he_normal", rng=np.random.default_rng(0))
    w = model[0].kernel.data
    assert abs(w.std() - np.sqrt(2 / 32)) < 0.03 and (model[0].bias.data == 0).all()
