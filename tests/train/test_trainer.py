from __future__ import annotations

import math

import numpy as np
import pytest

import barenet as bn
from barenet.data import DataLoader
from barenet.train import (
    Callback,
    History,
    LambdaCallback,
    ModelCheckpoint,
    TrainingDiverged,
    evaluate,
    fit,
    predict,
)

from .conftest import small_net, weights


def _fit(model, data, epochs=3, **kw):
    (x, y), val = data
    opt = kw.pop("opt", None) or bn.optim.Adam(model.parameters(), lr=1e-2)
    return fit(
        model,
        bn.SoftmaxCrossEntropy(),
        opt,
        (x, y),
        val,
        epochs=epochs,
        batch_size=kw.pop("batch_size", 16),
        seed=kw.pop("seed", 1),
        verbose=kw.pop("verbose", False),
        **kw,
    )


def test_fit_records_epochs_steps_and_learns(blobs):
    bn.seed(0)
    model = small_net()
    h = _fit(model, blobs, epochs=4)
    assert [e["epoch"] for e in h.epochs] == [1, 2, 3, 4]
    assert len(h.steps) == 4 * math.ceil(96 / 16)
    for e in h.epochs:
        assert set(e) >= {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time_s"}
        assert e["lr"] == pytest.approx(1e-2)
    assert h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"]
    assert h.epochs[-1]["val_acc"] == 1.0
    assert h.stopped_reason is None
    assert model.training  # left in training mode
    assert model.needs_input_grad  # fit skips dL/dx only while it trains


def test_epoch_train_loss_is_the_sample_weighted_mean_of_steps(blobs):
    bn.seed(0)
    h = _fit(small_net(), blobs, epochs=1, batch_size=40)  # batches of 40, 40, 16
    s = h.steps
    assert h.epochs[0]["train_loss"] == pytest.approx((40 * s[0] + 40 * s[1] + 16 * s[2]) / 96)


def test_regression_has_no_accuracy():
    x = np.linspace(-1, 1, 64, dtype=np.float32)[:, None]
    y = (2 * x + 0.5).astype(np.float32)
    bn.seed(0)
    model = bn.Sequential(bn.Linear(1, 1))
    h = fit(
        model,
        bn.MSELoss(),
        bn.optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        (x, y),
        epochs=30,
        batch_size=16,
        verbose=False,
        task="regression",
    )
    assert h.epochs[0]["train_acc"] is None and h.epochs[0]["val_acc"] is None
    assert h.epochs[-1]["val_loss"] < 1e-3
    assert evaluate(model, bn.MSELoss(), x, y, task="regression")["mse"] < 1e-3


def test_evaluate_and_predict_match_a_direct_forward(blobs):
    bn.seed(0)
    model = small_net(dropout=0.5)
    (x, y), _ = blobs
    model.eval()
    ref = model(x)
    model.train()
    out = predict(model, x, batch_size=7)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert model.training
    res = evaluate(model, bn.SoftmaxCrossEntropy(), x, y, batch_size=10)
    assert res["accuracy"] == pytest.approx(np.mean(ref.argmax(1) == y))
    assert res["loss"] == pytest.approx(bn.SoftmaxCrossEntropy()(ref, y), rel=1e-5)


def test_fit_accepts_a_dataloader(blobs):
    (x, y), _ = blobs
    bn.seed(0)
    model = small_net()
    loader = DataLoader(x, y, batch_size=32, seed=3)
    h = fit(
        model,
        bn.SoftmaxCrossEntropy(),
        bn.optim.SGD(model.parameters(), lr=0.1),
        loader,
        epochs=2,
        verbose=False,
    )
    assert len(h.steps) == 6 and h.epochs[0]["val_loss"] is None


def test_quiet_prints_nothing_and_non_tty_prints_one_line_per_epoch(blobs, capsys):
    bn.seed(0)
    _fit(small_net(), blobs, epochs=2, verbose=False)
    assert capsys.readouterr().out == ""
    _fit(small_net(), blobs, epochs=2, verbose=None)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2") and "val_acc" in lines[1]


def test_hooks_run_in_order_and_gradients_are_visible_after_backward(blobs):
    calls = []
    norms = []

    class Spy(Callback):
        def on_train_begin(self, ctx):
            calls.append("train_begin")

        def on_epoch_begin(self, ctx):
            calls.append("epoch_begin")

        def on_after_backward(self, ctx):
            calls.append("after_backward")
            norms.append(sum(float(np.abs(p.grad).sum()) for p in ctx.model.parameters()))

        def on_batch_end(self, ctx):
            calls.append("batch_end")

        def on_epoch_end(self, ctx):
            calls.append("epoch_end")
            assert ctx.logs is ctx.history.epochs[-1]

        def on_train_end(self, ctx):
            calls.append("train_end")

    bn.seed(0)
    _fit(small_net(), blobs, epochs=1, batch_size=48, callbacks=[Spy()])
    assert calls == [
        "train_begin",
        "epoch_begin",
        "after_backward",
        "batch_end",
        "after_backward",
        "batch_end",
        "epoch_end",
        "train_end",
    ]
    assert all(n > 0 for n in norms)


def test_stop_training_from_a_callback(blobs):
    stop = LambdaCallback(on_epoch_end=lambda ctx: setattr(ctx, "stop_training", ctx.epoch == 1))
    bn.seed(0)
    h = _fit(small_net(), blobs, epochs=5, callbacks=[stop])
    assert len(h.epochs) == 2 and h.stopped_reason == "callback"


def test_huge_learning_rate_raises_diverged(blobs):
    bn.seed(0)
    model = small_net()
    with pytest.raises(TrainingDiverged, match="NaN/inf") as exc:
        _fit(model, blobs, epochs=3, opt=bn.optim.SGD(model.parameters(), lr=1e30))
    assert isinstance(exc.value, FloatingPointError)
    assert exc.value.history.stopped_reason == "diverged"


def test_injected_nan_keeps_the_last_good_checkpoint_byte_identical(blobs, tmp_path):
    snap = {}

    def poison(ctx):
        if ctx.epoch == 2 and ctx.batch == 1:
            ctx.model.parameters()[0].data[0, 0] = np.nan

    def snapshot(ctx):  # runs after ModelCheckpoint wrote this epoch's file
        snap[ctx.epoch] = (tmp_path / "last.safetensors").read_bytes()

    bn.seed(0)
    cbs = [ModelCheckpoint(tmp_path), LambdaCallback(on_batch_end=poison, on_epoch_end=snapshot)]
    with pytest.raises(TrainingDiverged, match="epoch 3") as exc:
        _fit(small_net(), blobs, epochs=4, callbacks=cbs)
    assert len(exc.value.history.epochs) == 2 and sorted(snap) == [0, 1]
    assert (tmp_path / "last.safetensors").read_bytes() == snap[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.safetensors", "last.safetensors"]


def _run(blobs, epochs, ckdir=None, resume=None, interrupt_at=None):
    """A fresh model/optimizer each time, as a new process would build them."""
    bn.seed(0)
    model = small_net(dropout=0.3)
    opt = bn.optim.Adam(model.parameters(), lr=1e-2)
    cbs = [ModelCheckpoint(ckdir)] if ckdir else []
    if interrupt_at is not None:

        def stop(ctx):
            if ctx.step == interrupt_at:
                raise KeyboardInterrupt

        cbs.append(LambdaCallback(on_batch_end=stop))
    (x, y), val = blobs
    h = fit(
        model,
        bn.SoftmaxCrossEntropy(),
        opt,
        (x, y),
        val,
        epochs=epochs,
        batch_size=16,
        callbacks=cbs,
        verbose=False,
        resume=resume,
        transform=lambda xb, rng: xb + rng.normal(0, 0.01, xb.shape).astype(xb.dtype),
    )
    return model, h


def test_resume_continues_exactly_as_the_uninterrupted_run(blobs, tmp_path):
    straight, h4 = _run(blobs, 4)
    _run(blobs, 2, ckdir=tmp_path)
    resumed, h = _run(blobs, 4, resume=tmp_path / "last.safetensors")
    assert all(np.array_equal(a, b) for a, b in zip(weights(straight), weights(resumed)))
    assert h.steps == h4.steps
    assert [e["val_loss"] for e in h.epochs] == [e["val_loss"] for e in h4.epochs]


def test_ctrl_c_saves_a_checkpoint_and_resuming_mid_epoch_is_exact(blobs, tmp_path):
    straight, h3 = _run(blobs, 3)
    _, h = _run(blobs, 3, ckdir=tmp_path, interrupt_at=8)  # epoch 2, batch 2 of 6
    assert h.stopped_reason == "interrupted" and len(h.epochs) == 1 and len(h.steps) == 8
    resumed, h2 = _run(blobs, 3, resume=tmp_path / "last.safetensors")
    assert all(np.array_equal(a, b) for a, b in zip(weights(straight), weights(resumed)))
    assert h2.epochs[1]["train_loss"] == pytest.approx(h3.epochs[1]["train_loss"], rel=1e-12)


def test_history_round_trips_through_json_and_csv(blobs, tmp_path):
    bn.seed(0)
    h = _fit(small_net(), blobs, epochs=2)
    h.epochs[0]["val_loss"] = float("nan")
    h.save_json(tmp_path / "h.json")
    back = History.load_json(tmp_path / "h.json")
    assert back.epochs[1] == pytest.approx(h.epochs[1])
    assert back.epochs[0]["val_loss"] is None and back.steps == h.steps
    h.save_csv(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0].split(",")[:7] == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "time_s",
    ]
    assert len(lines) == 3 and lines[2].startswith("2,")


def test_bad_arguments_are_rejected(blobs):
    model = small_net()
    opt = bn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="train must be"):
        fit(model, bn.SoftmaxCrossEntropy(), opt, np.zeros((4, 64)), epochs=1)
    with pytest.raises(ValueError, match="task"):
        fit(model, bn.SoftmaxCrossEntropy(), opt, blobs[0], epochs=1, task="ranking")
