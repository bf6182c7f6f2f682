"""Ensemble: the average of the members' probabilities, and the errors around it."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.train import evaluate, fit, predict


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _members(k=3, d=4, n=3, dtype=np.float64):
    bn.seed(0)
    return [bn.Sequential(bn.Linear(d, 6), bn.ReLU(), bn.Linear(6, k)).to(dtype) for _ in range(n)]


def test_averages_the_members_probabilities():
    ms = _members()
    x = np.random.default_rng(0).standard_normal((7, 4))
    ens = bn.Ensemble(ms)
    want = np.mean([_softmax(m(x)) for m in ms], axis=0)
    np.testing.assert_allclose(ens.predict_proba(x), want, rtol=1e-12)
    # forward gives log p̄: logits whose softmax is p̄, so it drops in for a model's logits
    np.testing.assert_allclose(_softmax(ens(x)), want, rtol=1e-12)
    np.testing.assert_array_equal(ens(x).argmax(1), want.argmax(1))
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    nll = -np.mean(np.log(want[np.arange(7), y]))
    assert bn.SoftmaxCrossEntropy()(ens(x), y) == pytest.approx(nll, rel=1e-12)
    res = evaluate(ens, bn.SoftmaxCrossEntropy(), x, y, batch_size=3)
    assert res["accuracy"] == np.mean(want.argmax(1) == y)
    np.testing.assert_allclose(predict(ens, x, batch_size=2), ens(x), rtol=1e-12)
    assert len(ens) == 3 and ens.members[1] is ms[1]
    assert list(dict(ens.named_children())) == ["0", "1", "2"]


def test_one_member_is_that_member_and_a_confident_vote_stays_finite():
    (m,) = _members(n=1)
    x = np.random.default_rng(1).standard_normal((5, 4))
    np.testing.assert_allclose(bn.Ensemble([m]).predict_proba(x), _softmax(m(x)), rtol=1e-12)
    huge = bn.Sequential(bn.Linear(4, 3)).to(np.float64)
    huge[0].weight.data *= 1e4
    out = bn.Ensemble([huge, m])(x)
    assert np.isfinite(out).all()


def test_members_run_in_eval_mode_and_float32_stays_float32():
    bn.seed(1)
    ms = [bn.Sequential(bn.Linear(4, 8), bn.Dropout(0.5), bn.Linear(8, 3)) for _ in range(2)]
    ens = bn.Ensemble(ms)
    x = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    assert not any(m.training for m in ms)
    np.testing.assert_array_equal(ens(x), ens(x))  # no dropout noise
    assert ens(x).dtype == np.float32


@pytest.mark.parametrize(
    "members, match",
    [
        ([], "at least one"),
        ([bn.Linear(4, 3), "model"], "member 1 is a str"),
        ([bn.Linear(4, 3), bn.Linear(4, 5)], r"number of classes \(member 0: 3, member 1: 5\)"),
        ([bn.Linear(4, 3), bn.Linear(6, 3)], r"input features \(member 0: 4, member 1: 6\)"),
        (
            [bn.Sequential(bn.Conv2d(1, 2, 3), bn.Flatten(), bn.Linear(8, 3)), bn.Conv2d(3, 2, 3)],
            r"input channels \(member 0: 1, member 1: 3\)",
        ),
    ],
)
def test_members_must_agree(members, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bn.Ensemble(members)


def test_an_mlp_and_a_cnn_of_the_same_images_combine():
    bn.seed(2)
    mlp = bn.Sequential(bn.Flatten(), bn.Linear(16, 3)).to(np.float64)
    cnn = bn.Sequential(bn.Conv2d(1, 2, 3, padding=1), bn.Flatten(), bn.Linear(32, 3))
    cnn.to(np.float64)
    x = np.random.default_rng(4).standard_normal((5, 1, 4, 4))
    want = (_softmax(mlp(x)) + _softmax(cnn(x))) / 2
    np.testing.assert_allclose(bn.Ensemble([mlp, cnn]).predict_proba(x), want, rtol=1e-12)


def test_bad_inputs_and_class_names():
    ms = _members()
    with pytest.raises(ValueError, match="2 class names for members with 3 outputs"):
        bn.Ensemble(ms, class_names=["a", "b"])
    ens = bn.Ensemble(ms, class_names=["a", "b", "c"], input_shape=(4,))
    with pytest.raises(ValueError, match=r"expected inputs \(N, 4\), got \(2, 5\)"):
        ens(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="Ensemble member 0: Linear"):
        bn.Ensemble(ms)(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="class logits"):
        bn.Ensemble([bn.Linear(4, 1)])(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="itself an Ensemble"):
        bn.Ensemble([ens])


def test_inference_only():
    ms = _members()
    ens = bn.Ensemble(ms)
    x, y = np.zeros((4, 4)), np.array([0, 1, 2, 0])
    with pytest.raises(RuntimeError, match="inference only"):
        ens.train()
    with pytest.raises(RuntimeError, match="inference only"):
        ens.backward(np.zeros((4, 3)))
    opt = bn.optim.SGD(ens.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="inference only"):
        fit(ens, bn.SoftmaxCrossEntropy(), opt, (x, y), epochs=1, batch_size=2, verbose=False)
    assert ens.eval() is ens and not ens.training
    with pytest.raises(TypeError, match="save each member"):
        bn.save(ens, "never-written.safetensors")


def _save(model, path, **meta):
    base = {"class_names": ["a", "b", "c"], "input_shape": [4], "task": "classification"}
    bn.save(model, path, {**base, **meta})
    return str(path)


def test_load_checks_the_files_agree(tmp_path):
    ms = _members(dtype=np.float32)
    a, b = _save(ms[0], tmp_path / "a.safetensors"), _save(ms[1], tmp_path / "b.npz")
    ens = bn.Ensemble.load([a, b])
    assert ens.class_names == ["a", "b", "c"] and ens.input_shape == (4,)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(ens(x), bn.Ensemble(ms[:2])(x), rtol=1e-6)
    c = _save(ms[2], tmp_path / "c.safetensors", class_names=["a", "b", "x"])
    with pytest.raises(ValueError, match=r"c\.safetensors and .*a\.safetensors disagree on the cl"):
        bn.Ensemble.load([a, b, c])
    d = _save(ms[2], tmp_path / "d.safetensors", input_shape=[2, 2])
    with pytest.raises(ValueError, match=r"d\.safetensors .* disagree on the input shape"):
        bn.Ensemble.load([a, d])
    r = _save(bn.Linear(4, 3), tmp_path / "r.safetensors", task="regression")
    with pytest.raises(ValueError, match=r"r\.safetensors is a regression model"):
        bn.Ensemble.load([a, r])
    with pytest.raises(ValueError, match="no model files"):
        bn.Ensemble.load([])
