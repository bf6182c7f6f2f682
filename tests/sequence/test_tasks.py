"""Training the sequence tasks through fit: a language model by truncated BPTT, resumed
bit for bit from a checkpoint written mid-epoch; bits per character with the state
carried; the addition model and its exact-match score."""

from __future__ import annotations

import math

import numpy as np
import pytest

import barenet as bn
from barenet.data import DataLoader
from barenet.data.addition import addition
from barenet.data.text import bptt_arrays, load_text
from barenet.sequence import (
    bits_per_character,
    build_sequence_model,
    exact_match,
    fit_addition,
    fit_language_model,
)
from barenet.train import LambdaCallback, ModelCheckpoint, TruncatedBPTT, fit


def _lm_run(text, epochs, ckdir=None, resume=None, interrupt_at=None, tbptt_last=False):
    """A fresh model and optimizer each time, as a new process would build them."""
    bn.seed(0)
    lm = build_sequence_model(
        "char-lstm", text, hidden_size=12, embed_dim=6, num_layers=2, dropout=0.2
    )
    opt = bn.optim.Adam(lm.parameters(), lr=1e-2)
    cbs = [ModelCheckpoint(ckdir)] if ckdir else []
    if interrupt_at is not None:

        def stop(ctx):
            if ctx.step == interrupt_at:
                raise KeyboardInterrupt

        cbs.append(LambdaCallback(on_batch_end=stop))
    if tbptt_last:  # Ctrl-C lands before TruncatedBPTT has seen the finished step
        x, y = bptt_arrays(text.train, 4, 16)
        h = fit(
            lm,
            bn.SoftmaxCrossEntropy(),
            opt,
            DataLoader(x, y, 4, shuffle=False, seed=0),
            epochs=epochs,
            callbacks=[*cbs, TruncatedBPTT()],
            verbose=False,
            resume=resume,
            clip_norm=1.0,
        )
    else:
        h = fit_language_model(
            lm,
            text,
            opt,
            epochs=epochs,
            batch_size=4,
            seq_len=16,
            callbacks=cbs,
            resume=resume,
            verbose=False,
            clip_norm=1.0,
        )
    return lm, h


@pytest.mark.parametrize("tbptt_last", [False, True])
def test_a_language_model_resumed_mid_epoch_continues_bit_for_bit(tmp_path, tbptt_last):
    text = load_text()
    straight, h2 = _lm_run(text, 2, tbptt_last=tbptt_last)
    per_epoch = len(h2.steps) // 2
    _, h = _lm_run(text, 2, tmp_path, interrupt_at=per_epoch + 5, tbptt_last=tbptt_last)
    assert h.stopped_reason == "interrupted" and len(h.steps) == per_epoch + 5
    resumed, hr = _lm_run(text, 2, resume=tmp_path / "last.safetensors", tbptt_last=tbptt_last)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b)
    assert hr.steps == h2.steps
    assert not straight.carry_state and straight.carried is None  # fit let go of it


def test_training_lowers_the_loss_and_bpc_carries_the_state(f64):
    text = load_text()
    lm, h = _lm_run(text, 3)
    assert h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"] - 0.2
    last = h.epochs[-1]
    assert last["val_bpc"] == pytest.approx(last["val_loss"] / math.log(2))
    assert last["train_perplexity"] == pytest.approx(math.exp(last["train_loss"]))
    ids = text.test[: 1 + 5 * 20]  # one row of 20 chunks of 5: the same as one forward
    lm.to(np.float64)
    bpc = bits_per_character(lm, ids, seq_len=5, batch_size=1)
    loss = bn.SoftmaxCrossEntropy()(lm.eval()(ids[None, :-1]), ids[None, 1:])
    assert bpc == pytest.approx(loss / math.log(2), rel=1e-12)


def test_the_addition_model_trains_through_fit_and_is_scored_by_exact_match():
    bn.seed(0)
    sums = addition(1500, 200, digits=2, seed=0)
    s2s = build_sequence_model("seq2seq-lstm", sums, hidden_size=24, embed_dim=8)
    opt = bn.optim.Adam(s2s.parameters(), lr=1e-2)
    h = fit_addition(
        s2s,
        sums,
        opt,
        epochs=4,
        batch_size=64,
        verbose=False,
        val=(sums.x_test, sums.y_test),
        clip_norm=1.0,
    )
    assert h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"]
    assert 0.0 <= h.epochs[-1]["val_acc"] <= 1.0
    pred = bn.train.predict(s2s, sums.x_test).argmax(-1)
    want = float(np.mean((pred == sums.y_test).all(axis=1)))
    assert exact_match(s2s, sums.x_test, sums.y_test) == want
    assert exact_match(s2s, sums.x_test[:3], sums.x_test[:3, :3] * 0 + pred[:3]) == 1.0
