"""Training and scoring the two sequence tasks through ``fit``, so that a command line
(or a notebook) needs one call each.

- :func:`fit_language_model`: TBPTT over a :class:`~barenet.data.text.TextData`
  (batches from ``bptt_arrays``, in order, the state carried by
  :class:`~barenet.train.TruncatedBPTT`), validated on the held-out text;
  :func:`bits_per_character` scores a held-out stream with the state carried through it.
- :func:`fit_addition`: the Seq2Seq on :class:`~barenet.data.addition.AdditionData`;
  :func:`exact_match` is the share of answers right in every position.

Both take what ``fit`` takes (callbacks such as ``ModelCheckpoint``, ``resume``,
``clip_norm``, ``verbose``), so checkpoints and exact resume work as for every run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..core.device import as_numpy, scope, to_device
from ..data.addition import AdditionData
from ..data.loader import DataLoader
from ..data.text import TextData, bptt_arrays
from ..losses import SoftmaxCrossEntropy
from ..train.callbacks import Callback
from ..train.history import History
from ..train.tbptt import LanguageModelMetrics, TruncatedBPTT
from ..train.trainer import fit, predict
from .models import LanguageModel, Seq2Seq

__all__ = ["bits_per_character", "exact_match", "fit_addition", "fit_language_model"]


def fit_language_model(
    model: LanguageModel,
    data: TextData,
    optimizer,
    *,
    epochs: int,
    batch_size: int = 32,
    seq_len: int = 64,
    clip_norm: float | None = 5.0,
    callbacks: Sequence[Callback] = (),
    resume=None,
    verbose: bool | None = None,
    validate: bool = True,
    carry_state: bool = True,
    seed: int = 0,
) -> History:
    """Train ``model`` on ``data.train`` by truncated BPTT: ``batch_size`` rows of the
    text read ``seq_len`` characters per step, the state carried across steps and reset
    each epoch; gradients clipped to ``clip_norm`` (None: not). ``carry_state=False``:
    every chunk starts from a zero state instead, and the chunks are shuffled each
    epoch (by ``seed``). With ``validate`` the
    held-out text, cut the same way, gives ``val_loss``/``val_acc`` each epoch (each
    chunk from a zero state; :func:`bits_per_character` carries it); each epoch's record
    also holds ``train_bpc`` and ``val_bpc`` and the perplexities."""
    x, y = bptt_arrays(data.train, batch_size, seq_len)
    loader = DataLoader(x, y, batch_size, shuffle=not carry_state, seed=seed)
    val = None
    if validate:
        rows = max(1, min(batch_size, (len(data.test) - 1) // seq_len))
        val = bptt_arrays(data.test, rows, seq_len)
    return fit(
        model,
        SoftmaxCrossEntropy(),
        optimizer,
        loader,
        val,
        epochs=epochs,
        callbacks=[*([TruncatedBPTT()] if carry_state else []), LanguageModelMetrics(), *callbacks],
        verbose=verbose,
        resume=resume,
        clip_norm=clip_norm,
    )


def bits_per_character(
    model: LanguageModel, ids, seq_len: int = 100, batch_size: int = 16
) -> float:
    """Mean cross-entropy of each next character of the stream ``ids`` in bits:
    −(1/M) Σ log₂ p(cₜ₊₁ | c≤ₜ), over M = every character the ``batch_size`` rows of
    ``bptt_arrays`` predict, the state carried from chunk to chunk (eval mode)."""
    x, y = bptt_arrays(ids, batch_size, seq_len)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    device = model.device
    try:
        with scope(device):
            for i in range(0, len(x), batch_size):
                logits = model(to_device(x[i : i + batch_size], device), state)
                state = model.final_state
                z = np.asarray(as_numpy(logits), dtype=np.float64).reshape(-1, logits.shape[-1])
                t = y[i : i + batch_size].reshape(-1)
                zmax = z.max(axis=1)
                lse = zmax + np.log(np.exp(z - zmax[:, None]).sum(axis=1))
                total += float((lse - z[np.arange(len(t)), t]).sum())
                count += len(t)
    finally:
        model.train(was_training)
    return total / count / math.log(2)


def fit_addition(
    model: Seq2Seq,
    data: AdditionData,
    optimizer,
    *,
    epochs: int,
    batch_size: int = 128,
    clip_norm: float | None = None,
    callbacks: Sequence[Callback] = (),
    resume=None,
    verbose: bool | None = None,
    seed: int | None = 0,
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> History:
    """Train ``model`` on the training sums (shuffled each epoch by ``seed``);
    ``val``: (queries, answers) scored each epoch (per answer position)."""
    return fit(
        model,
        SoftmaxCrossEntropy(),
        optimizer,
        (data.x_train, data.y_train),
        val,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=callbacks,
        seed=seed,
        verbose=verbose,
        resume=resume,
        clip_norm=clip_norm,
    )


def exact_match(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """The share of rows whose every predicted token (argmax over the last axis) is the
    target's: answers right in every digit."""
    pred = predict(model, x, batch_size).argmax(axis=-1)
    return float(np.mean((pred == np.asarray(y)).all(axis=1)))
