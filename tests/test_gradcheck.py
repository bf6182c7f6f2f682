"""gradcheck itself: passes a right backward, fails a wrong one, leaves the module alone."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.core.module import Parameter


class ScaledTanh(bn.Module):
    """y = tanh(x) * a, with a deliberate sign error in dx when ``wrong`` is set."""

    def __init__(self, wrong: bool = False):
        super().__init__()
        self.a = Parameter(np.array([1.5, -0.5, 2.0]))
        self.wrong = wrong

    def forward(self, x):
        self._t = np.tanh(x)
        return self._t * self.a.data

    def backward(self, dy):
        self.a.grad += (dy * self._t).sum(axis=0)
        dx = dy * self.a.data * (1 - self._t**2)
        return -dx if self.wrong else dx


def test_gradcheck_passes_a_correct_backward():
    x = np.random.default_rng(0).standard_normal((4, 3))
    res = bn.gradcheck(ScaledTanh(), x)
    assert res.ok and bool(res) and res.max_error < 1e-8
    assert set(res.param_errors) == {"a"}
    assert "ok" in str(res)


def test_gradcheck_fails_a_sign_error():
    x = np.random.default_rng(0).standard_normal((4, 3))
    res = bn.gradcheck(ScaledTanh(wrong=True), x)
    assert not res.ok
    assert res.input_error > 1.0  # -g vs g: off by twice the scale
    assert res.param_errors["a"] < 1e-8
    assert "FAILED" in str(res)
    with pytest.raises(AssertionError, match="gradcheck failed"):
        bn.gradcheck(ScaledTanh(wrong=True), x, raise_on_failure=True)


def test_gradcheck_catches_a_wrong_parameter_gradient():
    class BadLinear(bn.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            self.weight.grad *= 0.5
            return dx

    bn.set_default_dtype(np.float64)
    res = bn.gradcheck(BadLinear(3, 2), np.ones((2, 3)))
    assert res.input_error < 1e-8 and res.param_errors["weight"] > 0.4


def test_gradcheck_leaves_the_module_untouched_and_checks_in_float64():
    layer = bn.Sequential(bn.Linear(3, 2), bn.BatchNorm1d(2))
    before = layer.state_dict()
    res = bn.gradcheck(layer, np.random.default_rng(1).standard_normal((5, 3)))
    assert res.max_error < 1e-6  # float32 model, checked on a float64 copy
    assert layer[0].weight.dtype == np.float32
    assert all((p.grad == 0).all() for p in layer.parameters())
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_gradcheck_replays_dropout_masks_and_restores_the_generator():
    bn.seed(5)
    state = bn.core.config.get_rng_state()
    res = bn.gradcheck(bn.Dropout(0.5), np.ones((4, 4)))
    assert res.ok
    assert bn.core.config.get_rng_state() == state


def test_gradcheck_of_a_loss_with_a_wrong_gradient_fails():
    class BadMSE(bn.MSELoss):
        def backward(self, dloss=1.0):
            return super().backward(dloss) * 2

    y, t = np.ones((2, 2)), np.zeros((2, 2))
    assert bn.gradcheck(bn.MSELoss(), y, t).ok
    assert not bn.gradcheck(BadMSE(), y, t).ok


def test_a_failing_model_names_its_wrong_layer():
    class HalfGradTanh(bn.Tanh):
        def backward(self, dy):
            return super().backward(dy) * 0.5

    model = bn.Sequential(bn.Linear(3, 4), HalfGradTanh(), bn.Linear(4, 2), bn.Sigmoid())
    res = bn.gradcheck(model, np.random.default_rng(2).standard_normal((5, 3)))
    assert not res.ok
    assert set(res.layer_errors) == {"0", "1", "2", "3"}
    assert res.layer_errors["1"] > 0.4
    assert max(res.layer_errors[k] for k in ("0", "2", "3")) < 1e-6
    assert "each layer alone" in str(res)
    assert bn.gradcheck(bn.Sequential(bn.Linear(3, 2)), np.ones((2, 3))).layer_errors == {}


def test_an_input_in_another_memory_order_is_perturbed_like_any_other():
    x = np.random.default_rng(3).standard_normal((4, 5)).T  # a transposed view
    assert bn.gradcheck(bn.Linear(4, 2), x).ok
