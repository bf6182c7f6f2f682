"""check_layer itself: its report and JSON object, what it leaves alone, the input it
refuses, layers that raise, models checked layer by layer, and the PyTorch twin."""

from __future__ import annotations

import json

import numpy as np
import pytest

import barenet as bn
from barenet import reference as R
from barenet.doctor import DoctorInputError, LayerError, check_layer
from barenet.doctor.targets import distinct_input

from .gallery import ConvAssign, col2im_assign

KEYS = ["name", "max_abs_err", "max_rel_err", "worst_index", "wrong_fraction", "diagnosis",
        "factor", "hint"]  # fmt: skip


def test_a_correct_layer_is_ok_and_its_json_is_the_documented_object(f64):
    report = check_layer(bn.Conv2d(3, 4, 3, stride=2, padding=1), input_shape=(2, 3, 9, 9),
                         twin=False)  # fmt: skip
    assert report.ok and bool(report)
    d = json.loads(json.dumps(report.to_dict()))
    assert list(d) == ["ok", "tensors"] and d["ok"] is True
    assert [t["name"] for t in d["tensors"]] == ["input", "weight", "bias"]
    for t in d["tensors"]:
        assert list(t) == KEYS
        assert t["diagnosis"] == "ok" and t["factor"] is None and t["wrong_fraction"] == 0.0
        assert 0 <= t["max_rel_err"] < 1e-6 and len(t["worst_index"]) == (
            4 if t["name"] == "input" else 4 if t["name"] == "weight" else 1
        )
    assert "all gradients ok" in str(report) and "(2, 3, 9, 9)" in str(report)


def test_the_checked_layer_and_the_generators_are_left_alone():
    layer = bn.Dropout(0.5)
    conv = bn.Conv2d(2, 2, 3)
    before = {k: v.copy() for k, v in conv.state_dict().items()}
    state = bn.get_rng().bit_generator.state
    assert check_layer(layer, (3, 4), twin=False).ok
    assert check_layer(conv, (1, 2, 5, 5), twin=False).ok
    assert bn.get_rng().bit_generator.state == state
    assert conv.weight.data.dtype == np.float32 and np.all(conv.weight.grad == 0)
    for k, v in conv.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_the_input_is_distinct_and_away_from_zero():
    x = distinct_input((2, 3, 4, 5), seed=1)
    assert len(np.unique(x)) == x.size and np.abs(x).min() > 0.01 and np.abs(x).max() <= 1.5
    assert not np.array_equal(x, distinct_input((2, 3, 4, 5), seed=2))


def test_an_input_on_a_relu_kink_is_skipped_not_called_wrong():
    x = np.array([[0.0, 1.0, -1.0, 2.0]])
    report = check_layer(bn.ReLU(), x=x, twin=False)
    assert report.ok and "1 element(s) at a kink" in report["input"].hint


def test_unusable_input_and_a_layer_that_raises_name_the_problem():
    with pytest.raises(DoctorInputError, match="input_shape"):
        check_layer(bn.ReLU(), twin=False)
    with pytest.raises(DoctorInputError, match=">= 1"):
        check_layer(bn.ReLU(), (2, 0), twin=False)
    with pytest.raises(DoctorInputError, match="cannot check a int"):
        check_layer(3, (2, 2), twin=False)
    with pytest.raises(LayerError, match=r"Conv2d\(3→4\)\.forward raised ValueError.*\(N, 3, H"):
        check_layer(bn.Conv2d(3, 4, 3), (2, 1, 5, 5), twin=False)

    def fwd(x, w):
        return x @ w, x

    def bwd(dy, cache):
        return dy.T[5]  # IndexError

    with pytest.raises(LayerError, match=r"bwd raised IndexError.*test_check.py, line \d+"):
        check_layer((fwd, bwd), (2, 3), params={"w": (3, 2)}, twin=False)
    with pytest.raises(DoctorInputError, match=r"must return \(y, cache\)"):
        check_layer((lambda x: x, bwd), (2, 3), twin=False)


def test_a_backward_returning_too_few_gradients_is_a_shape_problem():
    def bwd(dy, cache):
        x, w, _ = cache
        return dy @ w, dy.T @ x  # db forgotten

    report = check_layer((R.linear_forward, bwd), (3, 4), params={"w": (2, 4), "b": (2,)},
                         twin=False)  # fmt: skip
    assert report.diagnoses == {"input": "ok", "w": "ok", "b": "shape"}
    assert "returned 2 gradient(s), expected 3" in report["b"].hint


def test_a_model_is_checked_layer_by_layer_and_the_broken_one_named(f64):
    model = bn.Sequential(bn.Conv2d(2, 3, 3, padding=1), bn.ReLU(), ConvAssign(3, 2, 3, stride=2))
    report = check_layer(model, (2, 2, 7, 7), twin=False)
    names = [t.name for t in report.tensors]
    assert names[:5] == ["input", "0.weight", "0.bias", "2.weight", "2.bias"]
    assert {"0:input", "1:input", "2:input", "2:weight"} <= set(names)
    assert report["2:input"].diagnosis == "missing-accumulation"
    assert "layer 2 (ConvAssign) checked alone" in report["2:input"].hint
    assert report["0:input"].ok and report["1:input"].ok and report["2:weight"].ok
    assert not report.ok


def test_several_inputs_and_outputs_like_a_recurrent_cell():
    """h' = tanh(x W + h U), c' = c + h': two inputs besides the weights, two outputs."""

    def cell_forward(x, h, c, w, u):
        hn = np.tanh(x @ w + h @ u)
        return (hn, c + hn), (x, h, w, u, hn)

    def cell_backward(dout, cache):
        dh_next, dc_next = dout
        x, h, w, u, hn = cache
        dz = (dh_next + dc_next) * (1 - hn**2)
        return dz @ w.T, dz @ u.T, dc_next.copy(), x.T @ dz, h.T @ dz

    def wrong_backward(dout, cache):
        dx, dh, dc, dw, du = cell_backward(dout, cache)
        return dx, dh, dc * 0.5, dw, du

    params = {"h": (3, 4), "c": (3, 4), "w": (2, 4), "u": (4, 4)}
    assert check_layer((cell_forward, cell_backward), (3, 2), params=params, twin=False).ok
    report = check_layer((cell_forward, wrong_backward), (3, 2), params=params, twin=False)
    assert report.diagnoses == {"input": "ok", "h": "ok", "c": "scaled", "w": "ok", "u": "ok"}


def test_a_layer_that_assigns_its_bias_grad_in_place_too(f64):
    class Bad(bn.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            self.bias.grad[...] = dy.sum(axis=0)
            return dx

    report = check_layer(Bad(3, 2), (4, 3), twin=False)
    assert report.diagnoses == {"input": "ok", "weight": "ok", "bias": "missing-accumulation"}


def test_col2im_assign_in_a_check_names_the_overlapping_rows_and_columns():
    def bwd(dy, cache):
        cols, xps, w, _, (sh, sw), (pt, pb, pl, pr) = cache
        n, o, oh, ow = dy.shape
        dy2 = dy.transpose(1, 0, 2, 3).reshape(o, -1)
        dxp = col2im_assign(w.reshape(o, -1).T @ dy2, xps, 3, 3, sh, sw, oh, ow)
        return dxp[:, :, 1:-1, 1:-1], (dy2 @ cols.T).reshape(w.shape), dy2.sum(1)

    report = check_layer((R.conv2d_forward, bwd), (2, 3, 9, 9),
                         params={"w": (4, 3, 3, 3), "b": (4,)},
                         args={"stride": (2, 2), "padding": (1, 1, 1, 1)}, twin=False)  # fmt: skip
    row = report["input"]
    assert row.diagnosis == "missing-accumulation"
    assert "rows 1, 3, 5, 7 and columns 1, 3, 5, 7 of each 9x9 map" in row.hint
    assert row.wrong_fraction == pytest.approx(1 - 25 / 81)


@pytest.mark.torch
def test_the_known_twin_of_barenet_layers_agrees(f64):
    pytest.importorskip("torch")
    for layer, shape in (
        (bn.Conv2d(2, 3, 3, stride=2, padding=1), (1, 2, 5, 5)),
        (bn.BatchNorm2d(2), (2, 2, 2, 2)),
        (bn.MaxPool2d(3, 2), (1, 1, 5, 5)),
    ):
        report = check_layer(layer, shape)  # twin=None: the known one
        assert report.ok, str(report)
        twin_rows = [t.name for t in report.tensors if "vs torch.nn." in t.name]
        assert f"output vs torch.nn.{type(layer).__name__}" in twin_rows
        assert len(twin_rows) == 1 + len(list(layer.parameters())) + 1


def test_a_forward_that_casts_down_to_float32_is_noted():
    class Float32Tanh(bn.Tanh):
        def forward(self, x):
            return super().forward(x).astype(np.float32)

    report = check_layer(Float32Tanh(), (3, 4), twin=False)
    assert any("the forward returns float32" in n for n in report.notes), report.notes
    assert "note: the forward returns float32" in str(report)
    assert check_layer(bn.Tanh(), (3, 4), twin=False).notes == []
    wider = check_layer(_Returns(lambda x: x.astype(np.longdouble)), (3, 4), twin=False)
    assert wider.ok and wider.notes == []  # wider than float64 rounds nothing away


class _Returns(bn.Module):
    """A layer whose forward is f(x) and whose backward passes dy through."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)

    def backward(self, dy):
        return dy


@pytest.mark.parametrize(
    "f, says",
    [
        (lambda x: x.astype(int), "an array of int64, expected floats: an integer or boolean"),
        (lambda x: x > 0, "an array of bool, expected floats"),
        (lambda x: np.int64(3), "a scalar of int64, expected floats"),
        (lambda x: x.astype(complex), "an array of complex128, expected an array of floats"),
        (lambda x: x.astype(object), "an array of object, expected an array of floats"),
        (lambda x: x.tolist(), "a list, expected an array of floats"),
        (lambda x: None, "None, expected an array of floats"),
        (lambda x: (x, "y"), "a str, expected an array of floats"),
    ],
)
def test_a_forward_that_returns_no_floats_is_unusable_input(f, says):
    with pytest.raises(DoctorInputError, match=r"_Returns\(\): forward returned " + says):
        check_layer(_Returns(f), (2, 3), twin=False)


@pytest.mark.torch
def test_a_dropout_in_train_mode_is_not_compared_with_its_twin(f64):
    pytest.importorskip("torch")
    # On one element two forwards often draw the same mask: the twin's own generator is
    # what rules the comparison out, not that chance.
    for seed in range(6):
        report = check_layer(bn.Dropout(0.5, seed=seed), (1, 1), seed=seed)
        assert report.ok, str(report)
        assert not any("vs torch.nn." in t.name for t in report.tensors)
        assert "torch.nn.Dropout not compared: the forward draws random numbers" in report.notes
    layer = bn.Dropout(0.5)
    layer.eval()
    assert "output vs torch.nn.Dropout" in check_layer(layer, (2, 3)).diagnoses


@pytest.mark.torch
def test_a_wrong_forward_shows_against_the_twin_only(f64):
    pytest.importorskip("torch")

    class PerActivationBN(bn.BatchNorm2d):
        """The textbook slip: 4-D input normalised per activation, not per channel."""

        def forward(self, x):
            self._x = x
            n = x.shape[0]
            flat = x.reshape(n, -1)
            y, _, _, self._c = R.batchnorm_forward_train(flat, None, None, self.eps)
            return y.reshape(x.shape)

        def backward(self, dy):
            return R.batchnorm_backward(dy.reshape(dy.shape[0], -1), self._c)[0].reshape(dy.shape)

    report = check_layer(PerActivationBN(2, affine=False), (3, 2, 2, 2))
    assert report["input"].ok  # its own gradient is consistent
    assert report["output vs torch.nn.BatchNorm2d"].diagnosis != "ok"
    with pytest.raises(DoctorInputError, match="shapes differ"):
        args = {"in_channels": 3, "out_channels": 2, "kernel_size": 1}
        check_layer(bn.Linear(3, 2), (2, 3), twin="torch.nn.Conv1d", args=args)


@pytest.mark.torch
def test_a_named_twin_is_built_from_the_arguments(f64):
    pytest.importorskip("torch")
    report = check_layer(bn.Linear(3, 2), (2, 3), twin="torch.nn.Linear",
                         args={"in_features": 3, "out_features": 2})  # fmt: skip
    assert report.ok and "output vs torch.nn.Linear" in report.diagnoses
    with pytest.raises(DoctorInputError, match="no such class"):
        check_layer(bn.Linear(3, 2), (2, 3), twin="torch.nn.Nope")

    class Mine(bn.Linear):
        def __init__(self, n_in, n_out):
            super().__init__(n_in, n_out, bias=False)
            self.W = self.weight
            self.weight = None

        def forward(self, x):
            self._x = x
            return x @ self.W.data.T

        def backward(self, dy):
            self.W.grad += dy.T @ self._x
            return dy @ self.W.data

    with pytest.raises(DoctorInputError, match="its state dict holds weight; the layer's holds W"):
        check_layer(Mine(3, 2), (2, 3), twin="torch.nn.Linear",
                    args={"in_features": 3, "out_features": 2, "bias": False})  # fmt: skip
