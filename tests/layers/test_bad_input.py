"""Bad input gets a clear error naming the layer and both shapes, before any state changes.

Each layer case's own bad shapes are checked in test_cases.py; here: gradients of the
wrong shape, containers, and constructor arguments."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn


def _x(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def test_backward_with_wrong_dy_shape_raises():
    layer = bn.Linear(4, 2)
    layer(_x(3, 4))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 3\)"):
        layer.backward(_x(3, 3))
    assert (layer.weight.grad == 0).all()


def test_residual_branch_mismatch_names_both_shapes():
    block = bn.Residual(bn.Conv2d(2, 2, 3))
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 3\).*\(1, 2, 5, 5\)"):
        block(_x(1, 2, 5, 5))


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="Linear"):
        bn.Linear(2, 2)(np.array([["a", "b"]]))


@pytest.mark.parametrize(
    "make",
    [
        lambda: bn.Conv2d(0, 2, 3),
        lambda: bn.Conv2d(1, 2, 0),
        lambda: bn.Conv2d(1, 2, 3, stride=0),
        lambda: bn.Conv2d(1, 2, 3, padding=-1),
        lambda: bn.Conv2d(1, 2, 3, padding="full"),
        lambda: bn.Conv2d(1, 2, 3, stride=2, padding="same"),
        lambda: bn.Conv2d(1, 2, (3, 3, 3)),
        lambda: bn.Linear(0, 2),
        lambda: bn.Dropout(1.0),
        lambda: bn.Dropout(-0.1),
        lambda: bn.BatchNorm1d(0),
        lambda: bn.BatchNorm2d(2, momentum=1.5),
        lambda: bn.BatchNorm2d(2, eps=0),
        lambda: bn.MaxPool2d(0),
        lambda: bn.AvgPool2d(2, stride=0),
        lambda: bn.SoftmaxCrossEntropy(reduction="none"),
        lambda: bn.MSELoss(reduction="none"),
    ],
)
def test_bad_constructor_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


def test_containers_reject_non_modules():
    with pytest.raises(TypeError):
        bn.Sequential(bn.ReLU(), np.zeros(3))
    with pytest.raises(TypeError):
        bn.Residual(np.zeros(3))
