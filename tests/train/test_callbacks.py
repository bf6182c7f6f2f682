from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import barenet as bn
import barenet.io as bio
from barenet.train import (
    CosineLR,
    EarlyStopping,
    GradientNormRecorder,
    History,
    ModelCheckpoint,
    ReduceLROnPlateau,
    StepLR,
    fit,
    make_schedule,
)

from .conftest import small_net


def _ctx(model=None, lr=0.1):
    model = model or small_net()
    opt = bn.optim.SGD(model.parameters(), lr=lr)
    return SimpleNamespace(
        model=model, optimizer=opt, history=History(), logs={}, stop_training=False, epoch=0, step=0
    )


def _fit_sgd(blobs, lr, epochs, batch_size, callback):
    """A seeded small_net trained by SGD on ``blobs`` with one callback; its History."""
    bn.seed(0)
    model = small_net()
    opt = bn.optim.SGD(model.parameters(), lr=lr)
    return fit(
        model,
        bn.SoftmaxCrossEntropy(),
        opt,
        *blobs,
        epochs=epochs,
        batch_size=batch_size,
        verbose=False,
        callbacks=[callback],
    )


def _feed(cb, ctx, values, key="val_loss"):
    for i, v in enumerate(values):
        ctx.epoch = i
        ctx.logs = {"epoch": i + 1, key: v}
        cb.on_epoch_end(ctx)
        if ctx.stop_training:
            return i + 1
    return len(values)


def test_early_stopping_waits_patience_epochs_then_restores_the_best_weights():
    ctx = _ctx()
    es = EarlyStopping("val_loss", patience=2)
    values = [1.0, 0.5, 0.7, 0.6, 0.4]
    best_w = None
    for i, v in enumerate(values):
        ctx.epoch, ctx.logs = i, {"epoch": i + 1, "val_loss": v}
        ctx.model.parameters()[0].data += 1.0  # the weights change every epoch
        if i == 1:
            best_w = ctx.model.parameters()[0].data.copy()
        es.on_epoch_end(ctx)
        if ctx.stop_training:
            break
    assert i == 3 and es.best == 0.5 and es.best_epoch == 2
    assert ctx.history.stopped_reason == "early_stopping"
    es.on_train_end(ctx)
    np.testing.assert_array_equal(ctx.model.parameters()[0].data, best_w)


def test_early_stopping_maximises_accuracies_and_honours_min_delta():
    es = EarlyStopping("val_acc", patience=2, min_delta=0.01, restore_best=False)
    assert _feed(es, _ctx(), [0.5, 0.505, 0.509, 0.9], key="val_acc") == 3


def test_early_stopping_in_fit_with_a_frozen_model(blobs):
    h = _fit_sgd(blobs, lr=0.0, epochs=10, batch_size=32, callback=EarlyStopping(patience=2))
    assert len(h.epochs) == 3 and h.stopped_reason == "early_stopping"


def test_step_and_cosine_schedules_set_the_optimizer_lr(blobs):
    h = _fit_sgd(blobs, lr=0.4, epochs=5, batch_size=32, callback=StepLR(2, gamma=0.5))
    assert [e["lr"] for e in h.epochs] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])
    cos = CosineLR(t_max=4, eta_min=0.1)
    cos.base_lr = 0.5
    assert [cos.lr_at(e) for e in range(6)] == pytest.approx(
        [
            0.5,
            0.1 + 0.4 * (1 + math.cos(math.pi / 4)) / 2,
            0.3,
            0.1 + 0.4 * (1 + math.cos(3 * math.pi / 4)) / 2,
            0.1,
            0.1,
        ]
    )


def test_reduce_on_plateau_cuts_the_lr_after_patience_epochs():
    ctx = _ctx(lr=1.0)
    cb = ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.2)
    lrs = []
    for i, v in enumerate([1.0, 1.0, 1.0, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]):
        ctx.logs = {"epoch": i + 1, "val_loss": v}
        cb.on_epoch_end(ctx)
        lrs.append(ctx.optimizer.lr)
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2])


def test_make_schedule_parses_specs():
    assert make_schedule("none", 10) is None and make_schedule(None, 10) is None
    s = make_schedule("step:3:0.5", 10)
    assert isinstance(s, StepLR) and (s.step_size, s.gamma) == (3, 0.5)
    assert isinstance(make_schedule("cosine", 10), CosineLR)
    assert isinstance(make_schedule("plateau:0.5:3", 10), ReduceLROnPlateau)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("warp", 10)
    with pytest.raises(ValueError, match="numbers"):
        make_schedule("step:x", 10)


def _checkpoint_writes(monkeypatch, tmp_path, values, **kw):
    """(epoch, file) of every write a ModelCheckpoint makes while fed ``values``."""
    import barenet.train.checkpoint as ck

    written = []
    monkeypatch.setattr(ck, "checkpoint_payload", lambda c: c.logs["epoch"])
    monkeypatch.setattr(ck, "write_checkpoint", lambda path, p: written.append((p, path.name)))
    cb = ModelCheckpoint(tmp_path, monitor="val_acc", **kw)
    ctx = _ctx()
    _feed(cb, ctx, values, key="val_acc")
    cb.on_train_end(ctx)
    return written


def test_checkpoint_writes_best_only_on_improvement_and_last_every_epoch(tmp_path, monkeypatch):
    assert _checkpoint_writes(monkeypatch, tmp_path, [0.5, 0.4, 0.6]) == [
        (1, "best.safetensors"),
        (1, "last.safetensors"),
        (2, "last.safetensors"),
        (3, "best.safetensors"),
        (3, "last.safetensors"),
    ]


def test_checkpoint_every_n_epochs_keeps_the_best_epochs_state(tmp_path, monkeypatch):
    # best at epoch 1 and 3; writes happen at epochs 2 and 4 and at the end (epoch 5)
    assert _checkpoint_writes(monkeypatch, tmp_path, [0.5, 0.4, 0.6, 0.55, 0.5], every=2) == [
        (1, "best.safetensors"),
        (2, "last.safetensors"),
        (3, "best.safetensors"),
        (4, "last.safetensors"),
        (5, "last.safetensors"),
    ]


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_a_failed_checkpoint_write_leaves_the_previous_file_and_no_temp(
    blobs, tmp_path, monkeypatch, fail_at
):
    bn.seed(0)
    model = small_net()
    opt = bn.optim.Adam(model.parameters())
    fit(
        model,
        bn.SoftmaxCrossEntropy(),
        opt,
        *blobs,
        epochs=1,
        verbose=False,
        callbacks=[ModelCheckpoint(tmp_path)],
    )
    before = (tmp_path / "last.safetensors").read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(bio.os, fail_at, boom)
    with pytest.raises(OSError, match="disk full"):
        fit(
            model,
            bn.SoftmaxCrossEntropy(),
            opt,
            *blobs,
            epochs=1,
            verbose=False,
            callbacks=[ModelCheckpoint(tmp_path)],
        )
    monkeypatch.undo()
    assert (tmp_path / "last.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.safetensors", "last.safetensors"]


def test_gradient_norm_recorder_adds_per_weight_norms(blobs, tmp_path):
    h = _fit_sgd(blobs, lr=0.1, epochs=2, batch_size=96, callback=GradientNormRecorder())
    g = h.epochs[0]["grad_norms"]
    assert sorted(g) == ["1.weight", "3.weight"] and all(v > 0 for v in g.values())
    # one step per epoch: the recorded norm is that step's gradient norm
    bn.seed(0)
    m2 = small_net()
    loss = bn.SoftmaxCrossEntropy()
    x, y = blobs[0]
    loss(m2(x), y)
    m2.backward(loss.backward())
    assert g["3.weight"] == pytest.approx(np.linalg.norm(m2.parameters()[2].grad), rel=1e-5)
    h.save_csv(tmp_path / "h.csv")
    assert "grad_norm:1.weight" in (tmp_path / "h.csv").read_text().splitlines()[0]
