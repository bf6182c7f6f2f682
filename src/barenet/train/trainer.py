"""``fit``, ``evaluate`` and ``predict``: the training loop and batched inference.

Each batch is one :func:`barenet.train.train_step` (forward, loss, backward,
``on_after_backward`` callbacks, optimizer step, zero_grad). Batches come from a
:class:`barenet.data.DataLoader` (built from ``(x, y)`` when arrays are given), so
every sample is seen once per epoch.

Divergence: when the outputs or the loss stop being finite (or the weights at the
end of an epoch), ``fit`` raises :class:`TrainingDiverged` (a
``FloatingPointError``) naming the epoch and step, with ``history.stopped_reason =
"diverged"``. Nothing is written at that point, so a checkpoint on disk is the
last good one.

On a GPU (a model moved with ``model.to("cuda")``), NumPy batches are copied to the
model's device, and nothing in an epoch waits for the GPU: each step's loss, the
running loss and the count of correct answers stay on the device and come to the host
together, in one transfer at the end of the epoch (or when Ctrl-C stops it), where
a NaN/inf loss of any step of the epoch is reported as above. ``predict`` and
``evaluate`` run the model there and bring the outputs back in one transfer.

Ctrl-C ends the run cleanly: callbacks' ``on_interrupt`` runs
(:class:`ModelCheckpoint` saves a resumable checkpoint), ``history.stopped_reason``
is ``"interrupted"`` and ``fit`` returns. SIGTERM (``kill PID``) does the same, with
``history.stopped_reason = "terminated"``. A step is never split: Ctrl-C before the
optimizer update undoes the step (see :mod:`barenet.train.step`), from the update
to the step's bookkeeping, and while an epoch's record and ``on_epoch_end``
callbacks run, it is held until they are done. Resuming from that checkpoint
therefore continues bit for bit as the uninterrupted run would have. A second
Ctrl-C while one is held interrupts at once; ``ctx.consistent`` is then false and
:class:`ModelCheckpoint` keeps the checkpoint it wrote before.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ..core.backend import array_module, backend_name
from ..core.device import as_numpy, device_of, scope, to_device
from ..core.module import Module
from ..data import DataLoader
from ..optim import _check_clip, clip_grad_norm
from .callbacks import Callback
from .checkpoint import restore_training
from .history import History
from .interrupts import ForcedInterrupt, Terminated, held_interrupts, interrupts_handled
from .progress import ProgressBar
from .step import TrainingDiverged, _step

__all__ = ["TrainingDiverged", "TrainContext", "fit", "evaluate", "predict"]


class TrainContext:
    """What callbacks see: ``model, optimizer, loss_fn, loader, history, callbacks,
    epoch`` (0-based index of the epoch in progress), ``epochs`` (total), ``step``
    (optimizer steps so far), ``batch`` (index in the epoch), ``loss`` (last batch),
    ``logs`` (the epoch's record at ``on_epoch_end``), ``stop_training``,
    ``partial`` (the running sums of the epoch in progress) and ``consistent``
    (false only after a second Ctrl-C broke into a step or an epoch's end)."""

    def __init__(self, **kw):
        self.stop_training = False
        self.consistent = True
        self.logs: dict = {}
        self.loss = float("nan")
        self.batch = 0
        self.partial = {"loss_sum": 0.0, "correct": 0, "count": 0, "time_s": 0.0, "done": False}
        self.epoch_closed = True
        self.__dict__.update(kw)

    def resume_point(self) -> tuple[int, dict | None]:
        """(epoch to continue from, running sums of an unfinished epoch or None)."""
        if self.epoch_closed:
            return self.epoch + 1, None
        return self.epoch, dict(self.partial)


def _batches(model: Module, x: np.ndarray, batch_size: int, device: str = "cpu"):
    if array_module(x) is np:
        x = np.asarray(x)
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size]
        yield i, model.forward(xb if device == "cpu" else to_device(xb, device))


def _on_device(v) -> bool:
    """Whether ``v`` is an array on a GPU (a figure not yet brought to the host)."""
    return hasattr(v, "shape") and backend_name(v) == "cupy"


def _check_finite(model: Module, who: str) -> None:
    arrays = [(n, p.data) for n, p in model.named_parameters()]
    arrays += [(n, b) for n, b in model.named_buffers() if b.dtype.kind == "f"]
    if arrays and not all(type(a) is np.ndarray for _, a in arrays):  # on a GPU: one transfer
        xp = array_module(*(a for _, a in arrays))
        flags = xp.stack([xp.isfinite(a).all() for _, a in arrays]).get()
        bad = [n for (n, _), ok in zip(arrays, flags) if not ok]
    else:
        bad = [n for n, a in arrays if not np.isfinite(a).all()]
    if bad:
        raise ValueError(
            f"{who}: the model's weights are not finite (NaN/inf in {', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}); it cannot be used (a diverged run?)"
        )


def predict(model: Module, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Outputs of ``model`` in eval mode for ``x: (N, ...)``, batched: ``(N, K)``.
    The model's train/eval mode is restored afterwards. A model whose weights or
    buffers hold NaN/inf is refused (``ValueError``)."""
    if len(x) == 0:
        raise ValueError("predict: empty input (0 samples)")
    _check_finite(model, "predict")
    was_training = model.training
    device = model.device
    model.eval()
    try:
        with scope(device):
            outs = [out for _, out in _batches(model, x, int(batch_size), device)]
            out = array_module(outs[0]).concatenate(outs)
            return out if type(out) is np.ndarray else out.get()  # one transfer
    finally:
        model.train(was_training)


def evaluate(
    model: Module,
    loss_fn,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 500,
    task: str = "classification",
) -> dict:
    """Mean loss over ``(x, y)`` in eval mode, plus ``accuracy`` for classification
    (``y: (N,)`` labels or ``(N, K)`` one-hot) or ``mse`` for regression."""
    if len(x) != len(y):
        raise ValueError(f"evaluate: {len(x)} inputs but {len(y)} targets")
    _check_finite(model, "evaluate")
    with np.errstate(over="ignore", invalid="ignore"):
        out = predict(model, x, batch_size)
    if not np.isfinite(out).all():
        raise ValueError("evaluate: the model's outputs contain NaN or inf (diverged weights?)")
    return _score(out, as_numpy(y), loss_fn, int(batch_size), task)


def _score(out: np.ndarray, y: np.ndarray, loss_fn, batch_size: int, task: str) -> dict:
    loss = 0.0
    if task != "classification":
        for i in range(0, len(out), batch_size):
            sl = slice(i, i + batch_size)
            loss += loss_fn(out[sl], y[sl]) * len(out[sl])
        d = out.astype(np.float64) - y.reshape(out.shape)
        return {"loss": loss / len(out), "mse": float(np.mean(d * d))}
    correct = count = 0
    for i in range(0, len(out), batch_size):
        sl = slice(i, i + batch_size)
        n, hits = _tally(out[sl], y[sl], loss_fn)
        if n:
            loss += loss_fn(out[sl], y[sl]) * n
        count, correct = count + n, correct + int(hits)
    return {"loss": loss / max(count, 1), "accuracy": correct / max(count, 1)}


def _labels(out, y):
    """Class labels of ``y`` for outputs ``out`` (..., K): y itself, or the argmax of
    one-hot / soft targets shaped like ``out``."""
    return y.argmax(axis=-1) if np.ndim(y) == out.ndim else y


def _tally(out, y, loss_fn) -> tuple[int, object]:
    """(targets scored, right answers) of one batch: one per sample, or one per step of
    a sequence ((N, T, K) outputs, (N, T) labels); labels equal to the loss's
    ``ignore_index`` (padding) are not scored. The count is an int; the right answers an
    int, or a device scalar for outputs on a GPU."""
    labels = np.asarray(_labels(out, y)) if type(out) is np.ndarray else _labels(out, y)
    ignore = getattr(loss_fn, "ignore_index", None)
    pred = out.argmax(axis=-1)
    if type(out) is np.ndarray:
        hit = pred == labels
        if ignore is None:
            return int(labels.size), int(np.count_nonzero(hit))
        valid = labels != ignore
        return int(np.count_nonzero(valid)), int(np.count_nonzero(hit & valid))
    host = np.asarray(as_numpy(labels)) if hasattr(labels, "shape") else np.asarray(labels)
    valid = None if ignore is None else host != ignore
    n = int(host.size) if valid is None else int(np.count_nonzero(valid))
    hit = pred == to_device(host, device_of(out))
    if valid is not None:
        hit &= to_device(valid, device_of(out))
    return n, array_module(out).count_nonzero(hit)


def fit(
    model: Module,
    loss_fn,
    optimizer,
    train,
    val=None,
    *,
    epochs: int,
    batch_size: int = 64,
    transform=None,
    callbacks: Sequence[Callback] = (),
    seed: int | None = None,
    verbose: bool | None = None,
    task: str = "classification",
    resume=None,
    clip_norm: float | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs in total; returns the :class:`History`.

    ``train``: ``(x, y)`` arrays (``x: (N, ...)``, ``y: (N,)`` labels or ``(N, K)``
    targets) or a ``DataLoader``; ``val``: ``(x_val, y_val)`` evaluated after every
    epoch, or ``None``. ``transform`` (``t(x_batch, rng)``) and ``seed`` (the data
    order and augmentation; weights and dropout follow ``barenet.seed``) apply when
    arrays are given. ``verbose``: ``False`` prints nothing; otherwise a
    :class:`ProgressBar` (a bar on a terminal, else one line per epoch) is put first
    in the callbacks unless one is there. ``task``: ``"classification"`` or
    ``"regression"`` (no accuracies). ``resume``: a checkpoint path (see
    :class:`ModelCheckpoint`): weights, optimizer, RNGs, data order, history and
    callback state are restored and training continues up to ``epochs``.
    ``clip_norm``: after each backward (and the callbacks' ``on_after_backward``, which
    see the gradients as computed), scale the model's gradients to a global L2 norm of
    at most ``clip_norm`` (:func:`barenet.optim.clip_grad_norm`).

    Sequences: outputs (N, T, K) with labels (N, T) (a language model) are scored per
    step — ``train_acc``, ``val_acc`` and the losses are averages over the steps, and
    the steps whose label is the loss's ``ignore_index`` (padding) are not counted.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"fit: task must be 'classification' or 'regression', got {task!r}")
    if int(epochs) < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    if clip_norm is not None:
        clip_norm = _check_clip("fit", clip_norm)
    if isinstance(train, DataLoader):
        loader = train
    else:
        try:
            x, y = train
        except (TypeError, ValueError):
            raise TypeError("fit: train must be (x, y) or a DataLoader") from None
        if seed is None and resume is not None:
            seed = 0  # replaced by the checkpoint's: no draw from the global generator
        loader = DataLoader(x, y, batch_size, shuffle=True, transform=transform, seed=seed)
    if val is not None:
        try:
            xv, yv = val
        except (TypeError, ValueError):
            raise TypeError("fit: val must be (x_val, y_val) or None") from None
        if len(xv) != len(yv) or len(xv) == 0:
            raise ValueError(f"fit: val has {len(xv)} inputs and {len(yv)} targets")
        val = (as_numpy(xv), as_numpy(yv))  # kept on the host, like the training data
    classify = task == "classification"
    callbacks = list(callbacks)
    if verbose is not False and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.insert(0, ProgressBar())
    ctx = TrainContext(
        model=model,
        optimizer=optimizer,
        loss_fn=loss_fn,
        loader=loader,
        history=History(),
        callbacks=callbacks,
        epoch=-1,
        epochs=int(epochs),
        step=0,
        task=task,
        val=val,
        clip_norm=clip_norm,
    )
    start, partial = 0, None
    if resume is not None:
        start, partial = restore_training(resume, ctx)
    history = ctx.history
    ctx.epoch = start - 1
    ctx.device = model.device
    model.train()
    for cb in callbacks:
        cb.on_train_begin(ctx)
    with interrupts_handled():
        try:
            for epoch in range(start, int(epochs)):
                ctx.epoch, ctx.epoch_closed = epoch, False
                ctx.partial = partial or {
                    "loss_sum": 0.0,
                    "correct": 0,
                    "count": 0,
                    "time_s": 0.0,
                    "done": False,
                }
                partial = None
                _run_epoch(ctx, classify)
                if ctx.stop_training:
                    break
        except KeyboardInterrupt as exc:
            _settle(ctx, interrupted=True)
            history.stopped_reason = "terminated" if isinstance(exc, Terminated) else "interrupted"
            ctx.consistent = not isinstance(exc, ForcedInterrupt)
            for cb in callbacks:
                cb.on_interrupt(ctx)
        finally:
            for cb in callbacks:
                if isinstance(cb, ProgressBar):
                    cb.close()
    if ctx.stop_training and history.stopped_reason is None:
        history.stopped_reason = "callback"
    for cb in callbacks:
        cb.on_train_end(ctx)
    model.train()
    return history


def _diverged(ctx, what: str) -> TrainingDiverged:
    ctx.history.stopped_reason = "diverged"
    return TrainingDiverged(
        f"training diverged: {what} became NaN/inf in epoch {ctx.epoch + 1}, after "
        f"{ctx.step} step{'s' * (ctx.step != 1)} (lr {ctx.optimizer.lr:g}); try a smaller "
        f"learning rate",
        ctx.history,
        what,
    )


def _settle(ctx, interrupted: bool = False) -> None:
    """Bring the figures an epoch kept on the GPU (each step's loss, the running loss
    and correct count) to the host in one transfer; a step whose loss was NaN/inf
    raises ``TrainingDiverged`` (outside Ctrl-C's handling, which only settles)."""
    steps, p = ctx.history.steps, ctx.partial
    k = len(steps)
    while k > 0 and _on_device(steps[k - 1]):
        k -= 1
    pending = steps[k:]
    sums = [v for v in (p["loss_sum"], p["correct"]) if _on_device(v)]
    if not pending and not sums:
        return
    xp = array_module(*pending, *sums)
    parts = [xp.stack(pending).astype(xp.float64)] if pending else []
    parts += [xp.stack([v.astype(xp.float64) for v in sums])] if sums else []
    host = xp.concatenate(parts).get().tolist()  # the one transfer
    steps[k:] = host[: len(pending)]
    rest = host[len(pending) :]
    if _on_device(p["loss_sum"]):
        p["loss_sum"] = rest.pop(0)
    if _on_device(p["correct"]):
        p["correct"] = int(round(rest.pop(0)))
    if pending:
        ctx.loss = steps[-1]
    if not np.isfinite(steps[k:]).all() and not interrupted:
        raise _diverged(ctx, "the loss")


def _hooks(callbacks: list[Callback], name: str) -> list[Callback]:
    """The callbacks that define hook ``name`` (as a method or, for LambdaCallback,
    an attribute)."""
    base = getattr(Callback, name)
    return [cb for cb in callbacks if getattr(type(cb), name) is not base or name in vars(cb)]


def _run_epoch(ctx, classify: bool) -> None:
    model, opt, loss_fn, p = ctx.model, ctx.optimizer, ctx.loss_fn, ctx.partial
    t0 = time.perf_counter() - p["time_s"]
    ctx.loader_state = ctx.loader.state_dict()
    for cb in ctx.callbacks:
        cb.on_epoch_begin(ctx)
    # State that on_after_backward hooks change is put back if the step is undone.
    hooked = _hooks(ctx.callbacks, "on_after_backward")
    before: list[tuple[Callback, dict]] = []

    def after_backward() -> None:
        before[:] = [(cb, cb.state_dict()) for cb in hooked]
        for cb in ctx.callbacks:
            cb.on_after_backward(ctx)
        if ctx.clip_norm is not None:
            clip_grad_norm(model.parameters(), ctx.clip_norm)

    def on_update(loss: float, out: np.ndarray) -> None:
        ctx.step += 1
        ctx.loader_state = ctx.loader.state_dict()
        ctx.loss = loss
        ctx.history.steps.append(loss)
        n, hits = _tally(out, yb, loss_fn) if classify else (len(xb), 0)
        p["loss_sum"] += loss * n  # on a GPU: a device scalar until _settle
        p["count"] += n
        if classify:
            p["correct"] += hits
        p["time_s"] = time.perf_counter() - t0

    for b, (xb, yb) in enumerate(ctx.loader if not p["done"] else (), ctx.loader.batch):
        ctx.batch, step = b, ctx.step
        before.clear()
        try:
            _step(model, loss_fn, opt, xb, yb, after_backward, on_update, defer=True)
        except TrainingDiverged as exc:
            raise _diverged(ctx, exc.what) from None
        except BaseException:
            if ctx.step == step:  # the step was undone: so is what its hooks recorded
                for cb, state in before:
                    cb.load_state_dict(state)
            raise
        for cb in ctx.callbacks:
            cb.on_batch_end(ctx)
    p["done"] = True
    _settle(ctx)
    try:
        _check_finite(model, "fit")
    except ValueError:
        raise _diverged(ctx, "a weight") from None
    rec = {
        "epoch": ctx.epoch + 1,
        "train_loss": p["loss_sum"] / max(p["count"], 1),
        "train_acc": p["correct"] / max(p["count"], 1) if classify else None,
        "val_loss": None,
        "val_acc": None,
        "lr": float(opt.lr),
    }
    if ctx.val is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            out = predict(model, ctx.val[0], 500)
        if not np.isfinite(out).all():
            raise _diverged(ctx, "the validation output")
        res = _score(out, ctx.val[1], loss_fn, 500, ctx.task)
        rec["val_loss"], rec["val_acc"] = res["loss"], res.get("accuracy")
    rec["time_s"] = time.perf_counter() - t0
    with held_interrupts():  # the epoch's record and its callbacks go together
        ctx.history.epochs.append(rec)
        ctx.logs = rec
        ctx.epoch_closed = True
        for cb in ctx.callbacks:
            cb.on_epoch_end(ctx)
