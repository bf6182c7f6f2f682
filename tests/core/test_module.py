"""The Module tree: precision, seeding, state dicts, specs, the input gradient switch.

(Every layer case's untouched dy, gradient accumulation and dtype rule: test_cases.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn


def _x(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_residual_identity_gradient_survives_a_relu_first_body():
    """Textbook slip: ReLU zeroing dy in place also zeroes the shortcut's gradient."""
    block = bn.Residual(bn.Sequential(bn.ReLU()))
    x = np.array([[-1.0, 2.0, -3.0]], np.float32)
    dx = block.backward(np.ones_like(block(x)))
    np.testing.assert_array_equal(dx, [[1.0, 2.0, 1.0]])


def test_float64_input_to_float32_model_gives_float32():
    model = bn.Sequential(
        bn.MaxPool2d(2), bn.Residual(bn.Sequential(bn.ReLU(), bn.Conv2d(2, 2, 3, padding=1)))
    )
    y = model(_x((1, 2, 4, 4), np.float64))
    assert y.dtype == np.float32
    assert model.backward(np.ones(y.shape)).dtype == np.float32
    assert bn.ReLU()(np.arange(3)).dtype == np.float32  # ints become the default float


def test_to_converts_params_grads_and_buffers_in_place():
    model = bn.Sequential(bn.Conv2d(1, 2, 3), bn.BatchNorm2d(2), bn.Flatten(), bn.Linear(8, 2))
    params = model.parameters()
    assert all(p.dtype == np.float32 for p in params)
    model.to(np.float64)
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    for p in params:
        assert p.data.dtype == p.grad.dtype == np.float64
    norm = model[1]
    assert norm.running_mean.dtype == norm.running_var.dtype == np.float64
    assert norm.num_batches_tracked.dtype == np.int64
    with pytest.raises(TypeError, match="float"):
        model.to(np.int32)


def test_set_default_dtype_changes_new_layers_only():
    a = bn.Linear(2, 2)
    bn.set_default_dtype(np.float64)
    assert bn.get_default_dtype() == np.float64
    b = bn.Linear(2, 2)
    n = bn.BatchNorm1d(2)
    assert a.weight.dtype == np.float32 and b.weight.dtype == np.float64
    assert n.running_var.dtype == np.float64
    with pytest.raises(TypeError):
        bn.set_default_dtype(np.int64)


def test_seed_makes_init_and_dropout_repeatable():
    def run():
        bn.seed(42)
        model = bn.Sequential(bn.Linear(5, 8), bn.Dropout(0.5), bn.Linear(8, 2))
        return model.state_dict(), model(np.ones((4, 5), np.float32))

    (sd1, y1), (sd2, y2) = run(), run()
    for k in sd1:
        np.testing.assert_array_equal(sd1[k], sd2[k])
    np.testing.assert_array_equal(y1, y2)
    bn.seed(43)
    other = bn.Linear(5, 8)
    assert not np.array_equal(other.weight.data, sd1["0.weight"])
    with pytest.raises(ValueError):
        bn.seed(-1)


def test_dropout_is_inverted_and_identity_in_eval():
    drop = bn.Dropout(0.25)
    x = np.ones((200, 50), np.float32)
    y = drop(x)
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs(y.mean() - 1.0) < 0.05
    drop.eval()
    np.testing.assert_array_equal(drop(x), x)


def test_state_dict_names_follow_pytorch():
    model = bn.Sequential(
        bn.Conv2d(1, 2, 3),
        bn.Residual(bn.Sequential(bn.BatchNorm2d(2)), bn.Conv2d(2, 2, 1, bias=False)),
    )
    assert list(model.state_dict()) == [
        "0.weight",
        "0.bias",
        "1.body.0.weight",
        "1.body.0.bias",
        "1.body.0.running_mean",
        "1.body.0.running_var",
        "1.body.0.num_batches_tracked",
        "1.shortcut.weight",
    ]
    assert [k for k, _ in model.named_parameters()] == [
        "0.weight",
        "0.bias",
        "1.body.0.weight",
        "1.body.0.bias",
        "1.shortcut.weight",
    ]


def _model():
    return bn.Sequential(bn.Linear(3, 4), bn.BatchNorm1d(4), bn.Linear(4, 2))


def test_load_state_dict_casts_to_parameter_dtype_and_copies():
    model = _model()
    sd = {k: v.astype(np.float64) for k, v in _model().state_dict().items()}
    model.load_state_dict(sd)
    assert model[0].weight.dtype == np.float32
    np.testing.assert_array_equal(model[0].weight.data, sd["0.weight"].astype(np.float32))
    sd["0.weight"][...] = 7
    assert not (model[0].weight.data == 7).any()


@pytest.mark.parametrize(
    "edit,exc,words",
    [
        (lambda sd: sd.pop("1.running_var"), KeyError, ["missing", "1.running_var"]),
        (lambda sd: sd.__setitem__("9.weight", np.zeros(2)), KeyError, ["unexpected", "9.weight"]),
        (
            lambda sd: sd.__setitem__("2.weight", np.zeros((4, 2))),
            ValueError,
            ["2.weight", "(2, 4)"],
        ),
    ],
)
def test_load_state_dict_rejects_bad_keys_and_leaves_model_unchanged(edit, exc, words):
    model = _model()
    before = model.state_dict()
    sd = {k: v + 1 for k, v in _model().state_dict().items()}
    edit(sd)
    with pytest.raises(exc) as info:
        model.load_state_dict(sd)
    for w in words:
        assert w in str(info.value)
    after = model.state_dict()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


def test_spec_builds_the_same_architecture():
    model = bn.Sequential(
        bn.Conv2d(1, 2, (3, 2), stride=(2, 1), padding="same" and 1, bias=False),
        bn.LeakyReLU(0.2),
        bn.Residual(bn.Sequential(bn.Conv2d(2, 2, 3, padding="same"), bn.BatchNorm2d(2))),
        bn.MaxPool2d(3, 2),
        bn.GlobalAvgPool2d(),
        bn.Dropout(0.1),
        bn.Linear(2, 3),
        bn.Softmax(),
    )
    rebuilt = bn.build(model.spec())
    assert rebuilt.spec() == model.spec()
    assert repr(rebuilt) == repr(model)
    rebuilt.load_state_dict(model.state_dict())
    x = _x((2, 1, 9, 8))
    model.eval()
    rebuilt.eval()
    np.testing.assert_array_equal(model(x), rebuilt(x))
    with pytest.raises(ValueError, match="unknown layer type"):
        bn.build({"type": "Nope"})


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        bn.Linear(2, 2).backward(np.zeros((1, 2)))


def _grads_with_and_without_input_grad(make, x):
    results = []
    for wanted in (True, False):
        bn.seed(0)
        net = make().to(np.float64)
        net.needs_input_grad = wanted
        y = net(x)
        dx = net.backward(np.random.default_rng(1).standard_normal(y.shape))
        results.append((dx, [p.grad.copy() for p in net.parameters()], net))
    return results


@pytest.mark.parametrize(
    "make, shape",
    [
        (
            lambda: bn.Sequential(bn.Flatten(), bn.Linear(12, 5), bn.ReLU(), bn.Linear(5, 3)),
            (4, 3, 2, 2),
        ),
        (
            lambda: bn.Sequential(
                bn.Conv2d(2, 3, 3, padding=1),
                bn.ReLU(),
                bn.MaxPool2d(2),
                bn.Flatten(),
                bn.Linear(12, 4),
            ),
            (3, 2, 4, 4),
        ),
        (
            lambda: bn.Sequential(
                bn.Sequential(bn.ReLU(), bn.Conv2d(2, 2, 3, padding=1)),
                bn.Residual(bn.Sequential(bn.Conv2d(2, 2, 3, padding=1), bn.ReLU())),
            ),
            (2, 2, 5, 5),
        ),
    ],
)
def test_skipping_the_input_gradient_keeps_every_parameter_gradient(make, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    (dx, grads, _), (dx_off, grads_off, net) = _grads_with_and_without_input_grad(make, x)
    assert dx.shape == shape and dx_off is None
    for a, b in zip(grads, grads_off):
        np.testing.assert_array_equal(a, b)
    assert all(m.needs_input_grad for m in net.modules() if m is not net)  # flags restored


def test_a_module_without_forward_or_backward_says_so():
    class Half(bn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Half does not define forward"):
        Half()(np.zeros(2))
    with pytest.raises(NotImplementedError, match="backward"):
        Half().backward(np.zeros(2))


def test_leaves_are_the_modules_without_children_in_tree_order():
    model = bn.Sequential(bn.Linear(2, 3), bn.Residual(bn.Sequential(bn.ReLU())), bn.Tanh())
    assert [(n, type(m).__name__) for n, m in model.leaves()] == [
        ("0", "Linear"),
        ("1.body.0", "ReLU"),
        ("2", "Tanh"),
    ]
    lone = bn.ReLU()
    assert list(lone.leaves()) == [("", lone)]


def test_flops_of_a_layer_and_of_a_model():
    conv = bn.Conv2d(3, 8, 3, padding=1)
    assert conv.flops((3, 10, 10)) == 2 * 3 * 9 * 8 * 100
    assert bn.Linear(5, 4).flops((5,)) == 40 and bn.Linear(5, 4).flops((7, 5)) == 280
    assert bn.ReLU().flops((3, 10, 10)) == 0
    model = bn.Sequential(conv, bn.ReLU(), bn.MaxPool2d(2), bn.Flatten(), bn.Linear(200, 4))
    assert model.flops((3, 10, 10)) == conv.flops((3, 10, 10)) + 2 * 200 * 4
    model.train()
    model.flops((3, 10, 10))
    assert model.training  # the probe ran in eval mode and restored the mode
