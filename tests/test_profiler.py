"""The per-layer profiler and the ``barenet profile`` command."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.cli import main
from barenet.profiler import ProfileResult, profile


def _small_cnn():
    bn.seed(0)
    return bn.Sequential(
        bn.Conv2d(1, 4, 3, padding=1), bn.BatchNorm2d(4), bn.ReLU(), bn.MaxPool2d(2),
        bn.Flatten(), bn.Linear(4 * 4 * 4, 8), bn.Dropout(0.5), bn.Linear(8, 3),
    )  # fmt: skip


def _data(n=6):
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, n)


def test_one_row_per_leaf_with_output_shapes():
    model = _small_cnn()
    x, y = _data()
    res = profile(model, x, y, repeats=2)
    assert isinstance(res, ProfileResult)
    assert [r.name for r in res.rows] == [str(i) for i in range(8)]
    assert res.rows[0].layer.startswith("Conv2d")
    assert res.rows[0].output_shape == (6, 4, 8, 8)
    assert res.rows[3].output_shape == (6, 4, 4, 4)
    assert res.rows[-1].output_shape == (6, 3)
    assert all(r.forward_s > 0 and r.backward_s > 0 for r in res.rows)
    assert res.batch == 6 and res.repeats == 2


def test_shares_sum_to_one_and_table_lists_every_layer():
    model = _small_cnn()
    x, y = _data()
    res = profile(model, x, y, repeats=2)
    assert sum(res.shares().values()) == pytest.approx(1.0, abs=1e-9)
    assert all(v >= 0 for v in res.shares().values())
    text = str(res)
    for r in res.rows:
        assert r.layer[:24] in text
    assert "images/s" in text and "(loss)" in text


def test_model_unchanged_afterwards():
    model = _small_cnn()
    x, y = _data()
    model.eval()  # so that the reference forward leaves BatchNorm's statistics alone
    ref = model[:5].forward(x)
    model.train()
    for p in model.parameters():
        p.grad[...] = 0.5
    before = model.state_dict()
    grads = [p.grad.copy() for p in model.parameters()]
    rng_state = bn.get_rng().bit_generator.state
    profile(model, x, y, repeats=2)
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)
    for g0, p in zip(grads, model.parameters()):
        np.testing.assert_array_equal(g0, p.grad)
    assert bn.get_rng().bit_generator.state == rng_state
    for m in model.modules():
        assert "forward" not in m.__dict__ and "backward" not in m.__dict__
    assert model.training
    model.eval()
    np.testing.assert_array_equal(model[:5].forward(x), ref)


def test_without_targets_uses_unit_gradient():
    model = bn.Sequential(bn.Linear(5, 3), bn.Tanh())
    res = profile(model, np.ones((4, 5), np.float32), repeats=1)
    assert [r.output_shape for r in res.rows] == [(4, 3), (4, 3)]
    assert res.loss_s >= 0


def test_bad_arguments():
    model = bn.Sequential(bn.Linear(5, 3))
    with pytest.raises(ValueError, match="repeats"):
        profile(model, np.ones((4, 5), np.float32), repeats=0)
    with pytest.raises(TypeError, match="Module"):
        profile(lambda x: x, np.ones((4, 5)))
    with pytest.raises(ValueError, match="targets"):
        profile(model, np.ones((4, 5), np.float32), loss_fn=bn.SoftmaxCrossEntropy())


def test_cli_profile_named_model(capsys):
    assert main(["profile", "cnn-small", "--batch", "4", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "Conv2d(1→32)" in out and "MaxPool2d" in out and "Linear(128→10)" in out
    assert "(4, 10)" in out


def test_cli_profile_model_file(tmp_path, capsys):
    model = bn.Sequential(bn.Flatten(), bn.Linear(12, 4))
    path = tmp_path / "m.safetensors"
    bn.save(model, path)
    assert main(["profile", str(path), "--batch", "3", "--input-shape", "3,2,2"]) == 0
    assert "Linear(12→4)" in capsys.readouterr().out


def test_cli_profile_errors(capsys):
    assert main(["profile", "no-such-model"]) == 1
    assert "no-such-model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # refused by argparse, with the flag's name
        main(["profile", "mlp", "--input-shape", "1,x"])
    assert info.value.code == 2
    assert "--input-shape" in capsys.readouterr().err
