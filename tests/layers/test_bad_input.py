"""Bad input gets a clear error naming the layer and both shapes, before any state changes."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn


def _x(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


CASES = {
    # name: (layer, good input shape, bad input shape, words the message must contain)
    "Conv2d-channels": (
        lambda: bn.Conv2d(3, 4, 3),
        (2, 3, 5, 5),
        (2, 1, 5, 5),
        ["Conv2d(3→4)", "(N, 3, H, W)", "(2, 1, 5, 5)"],
    ),
    "Conv2d-rank": (
        lambda: bn.Conv2d(3, 4, 3),
        (2, 3, 5, 5),
        (3, 5, 5),
        ["Conv2d(3→4)", "(3, 5, 5)"],
    ),
    "Conv2d-too-small": (
        lambda: bn.Conv2d(1, 1, 5),
        (1, 1, 5, 5),
        (1, 1, 4, 9),
        ["Conv2d", "4x9", "5x5"],
    ),
    "Linear-features": (
        lambda: bn.Linear(4, 2),
        (3, 4),
        (3, 5),
        ["Linear(4→2)", "(N, 4)", "(3, 5)"],
    ),
    "Linear-rank": (lambda: bn.Linear(4, 2), (3, 4), (4,), ["Linear(4→2)", "(4,)"]),
    "BatchNorm1d-features": (
        lambda: bn.BatchNorm1d(3),
        (4, 3),
        (4, 5),
        ["BatchNorm1d(3)", "(N, 3)", "(4, 5)"],
    ),
    "BatchNorm2d-rank": (
        lambda: bn.BatchNorm2d(3),
        (2, 3, 2, 2),
        (2, 3),
        ["BatchNorm2d(3)", "(N, 3, H, W)", "(2, 3)"],
    ),
    "BatchNorm2d-channels": (
        lambda: bn.BatchNorm2d(3),
        (2, 3, 2, 2),
        (2, 4, 2, 2),
        ["BatchNorm2d(3)", "(2, 4, 2, 2)"],
    ),
    "BatchNorm-single-value": (
        lambda: bn.BatchNorm1d(3),
        (4, 3),
        (1, 3),
        ["BatchNorm1d(3)", "(1, 3)"],
    ),
    "MaxPool2d-rank": (lambda: bn.MaxPool2d(2), (1, 1, 4, 4), (4, 4), ["MaxPool2d", "(4, 4)"]),
    "MaxPool2d-too-small": (
        lambda: bn.MaxPool2d(3),
        (1, 1, 4, 4),
        (1, 1, 2, 5),
        ["MaxPool2d", "2x5"],
    ),
    "AvgPool2d-rank": (
        lambda: bn.AvgPool2d(2),
        (1, 1, 4, 4),
        (1, 4, 4),
        ["AvgPool2d", "(1, 4, 4)"],
    ),
    "GlobalAvgPool2d-rank": (
        lambda: bn.GlobalAvgPool2d(),
        (1, 2, 3, 3),
        (2, 3),
        ["GlobalAvgPool2d", "(2, 3)"],
    ),
    "Softmax-axis": (lambda: bn.Softmax(axis=2), (2, 3, 4), (3, 4), ["Softmax", "(3, 4)"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_shape_raises_before_any_state_changes(name):
    make, good, bad, words = CASES[name]
    layer = make()
    y = layer(_x(*good))
    state = layer.state_dict()
    dy = _x(*y.shape)
    expected = layer.backward(dy)
    layer.zero_grad()
    with pytest.raises(ValueError) as info:
        layer(_x(*bad))
    for w in words:
        assert w in str(info.value), (w, str(info.value))
    for k, v in layer.state_dict().items():  # running stats and weights untouched
        np.testing.assert_array_equal(v, state[k])
    np.testing.assert_array_equal(layer.backward(dy), expected)  # the cache survived


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
