"""trace: one step recorded layer by layer, the model left as found, NaN located, the page."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.doctor.trace_table import trace_html, write_trace_html


def _model():
    return bn.Sequential(bn.Linear(4, 6), bn.ReLU(), bn.Linear(6, 3))


def _batch(n=5):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_the_rows_hold_shapes_statistics_and_gradient_norms(f64):
    model = _model()
    x, y = _batch()
    x = x.astype(np.float64)
    rep = bn.trace(model, bn.SoftmaxCrossEntropy(), x, y)
    assert [r.name for r in rep.rows] == ["0", "1", "2"] and rep.batch == 5 and rep.training
    h = x @ model[0].weight.data.T + model[0].bias.data
    r0, r1 = rep.rows[0], rep.rows[1]
    assert r0.input.shape == (5, 4) and r0.output.shape == (5, 6)
    assert r0.output.mean == pytest.approx(h.mean()) and r0.output.std == pytest.approx(h.std())
    assert r0.output.min == pytest.approx(h.min()) and r0.output.max == pytest.approx(h.max())
    assert r1.output.zeros == pytest.approx(np.mean(h <= 0))  # dead ReLU units show as zeros
    loss_fn = bn.SoftmaxCrossEntropy()
    assert rep.loss == pytest.approx(loss_fn(model(x), y))
    model.backward(loss_fn.backward())
    g = model[2].weight.grad
    p2 = {p.name: p for p in rep.rows[2].params}
    assert p2["weight"].grad_norm == pytest.approx(np.linalg.norm(g))
    assert p2["weight"].ratio == pytest.approx(
        np.linalg.norm(g) / np.linalg.norm(model[2].weight.data)
    )
    assert rep.rows[2].grad.shape == (5, 3) and rep.first_nonfinite is None
    text = str(rep)
    for words in ("forward: each layer's output", "backward: the gradient", "|dL/dw|/|w|",
                  "no NaN or inf anywhere", "Linear(4→6)"):  # fmt: skip
        assert words in text


def test_the_model_is_left_as_it_was_found():
    model = bn.Sequential(bn.Linear(4, 3), bn.BatchNorm1d(3), bn.Dropout(0.5), bn.Linear(3, 3))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model[0].weight.grad[...] = 7.0
    state = bn.get_rng().bit_generator.state
    bn.trace(model, bn.SoftmaxCrossEntropy(), *_batch())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert np.all(model[0].weight.grad == 7.0) and np.all(model[3].weight.grad == 0)
    assert bn.get_rng().bit_generator.state == state


class _LogLayer(bn.Module):
    """y = log x: NaN for negative x in forward."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, dy):
        return dy / self.x


class _BadBackward(bn.Module):
    """The identity whose backward divides by zero."""

    def forward(self, x):
        return x.copy()

    def backward(self, dy):
        return dy / np.zeros_like(dy)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_first_nan_is_located_in_forward_or_backward():
    x, y = _batch()
    model = bn.Sequential(bn.Linear(4, 3), _LogLayer(), bn.Linear(3, 3))
    rep = bn.trace(model, bn.SoftmaxCrossEntropy(), x, y)
    assert rep.first_nonfinite == ("1", "forward") and rep.loss is None
    assert rep.rows[1].output.nonfinite > 0 and rep.rows[2].grad is None
    assert "first NaN/inf: 1, in the forward pass" in str(rep)
    model = bn.Sequential(bn.Linear(4, 3), _BadBackward(), bn.ReLU(), bn.Linear(3, 3))
    rep = bn.trace(model, bn.SoftmaxCrossEntropy(), x, y)
    assert rep.first_nonfinite == ("1", "backward") and np.isfinite(rep.loss)
    rep = bn.trace(_model(), bn.SoftmaxCrossEntropy(), np.full((2, 4), np.nan), [0, 1])
    assert rep.first_nonfinite == ("(input)", "forward")


def test_the_page_is_self_contained_and_written_atomically(tmp_path):
    rep = bn.trace(_model(), bn.SoftmaxCrossEntropy(), *_batch())
    page = trace_html(rep, "a <test>")
    assert page.startswith("<!DOCTYPE html>") and "a &lt;test&gt;" in page
    assert page.count("<svg") == 2 * len(rep.rows)  # the output's and the gradient's histogram
    for external in ("http://", "https://", "src=", "<link", "<script"):
        assert external not in page
    out = tmp_path / "trace.html"
    out.write_text("old")
    write_trace_html(rep, out)
    assert out.read_text() == page.replace("a &lt;test&gt;", "barenet trace")
    assert [p.name for p in tmp_path.iterdir()] == ["trace.html"]
    with pytest.raises(TypeError, match="barenet Module"):
        bn.trace(object(), bn.SoftmaxCrossEntropy(), *_batch())
