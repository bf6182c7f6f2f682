"""``fit``, ``evaluate`` and ``predict``: the training loop and batched inference.

A step is forward, loss, backward, ``on_after_backward`` callbacks, optimizer step,
zero_grad. Batches come from a :class:`barenet.data.DataLoader` (built from
``(x, y)`` when arrays are given), so every sample is seen once per epoch.

Divergence: when the outputs or the loss stop being finite (or the weights at the
end of an epoch), ``fit`` raises :class:`TrainingDiverged` (a
``FloatingPointError``) naming the epoch and step, with ``history.stopped_reason =
"diverged"``. Nothing is written at that point, so the last checkpoint on disk is
the last good one. Ctrl-C ends the run cleanly: callbacks' ``on_interrupt`` runs
(:class:`ModelCheckpoint` saves a resumable checkpoint), ``history.stopped_reason``
is ``"interrupted"`` and ``fit`` returns.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence

import numpy as np

from ..core.config import set_rng_state
from ..core.module import Module
from .callbacks import Callback
from .history import History

__all__ = ["TrainingDiverged", "TrainContext", "fit", "evaluate", "predict"]


class TrainingDiverged(FloatingPointError):
    """The loss (or the network's output or weights) became NaN or inf."""

    def __init__(self, message: str, history: History | None = None):
        super().__init__(message)
        self.history = history


class TrainContext:
    """What callbacks see: ``model, optimizer, loss_fn, loader, history, callbacks,
    epoch`` (0-based index of the epoch in progress), ``epochs`` (total), ``step``
    (optimizer steps so far), ``batch`` (index in the epoch), ``loss`` (last batch),
    ``logs`` (the epoch's record at ``on_epoch_end``), ``stop_training``."""

    def __init__(self, **kw):
        self.stop_training = False
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


def _is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _fmt(rec: dict) -> str:
    parts = [f"epoch {rec['epoch']}"]
    for k in ("train_loss", "train_acc", "val_loss", "val_acc"):
        v = rec.get(k)
        if v is not None:
            parts.append(f"{k} {v:.4f}")
    parts.append(f"lr {rec['lr']:.3g}  {rec['time_s']:.1f}s")
    return "  ".join(parts)


def _batches(model: Module, x: np.ndarray, batch_size: int):
    x = np.asarray(x)
    for i in range(0, len(x), batch_size):
        yield i, model.forward(x[i : i + batch_size])


def predict(model: Module, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Outputs of ``model`` in eval mode for ``x: (N, ...)``, batched: ``(N, K)``.
    The model's train/eval mode is restored afterwards."""
    if len(x) == 0:
        raise ValueError("predict: empty input (0 samples)")
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([out for _, out in _batches(model, x, int(batch_size))])
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
    with np.errstate(over="ignore", invalid="ignore"):
        out = predict(model, x, batch_size)
    if not np.isfinite(out).all():
        raise ValueError("evaluate: the model's outputs contain NaN or inf (diverged weights?)")
    return _score(out, np.asarray(y), loss_fn, int(batch_size), task)


def _score(out: np.ndarray, y: np.ndarray, loss_fn, batch_size: int, task: str) -> dict:
    loss = 0.0
    for i in range(0, len(out), batch_size):
        sl = slice(i, i + batch_size)
        loss += loss_fn(out[sl], y[sl]) * len(out[sl])
    res = {"loss": loss / len(out)}
    if task == "classification":
        labels = y.argmax(axis=1) if y.ndim == 2 else y
        res["accuracy"] = float(np.mean(out.argmax(axis=1) == labels))
    else:
        d = out.astype(np.float64) - y.reshape(out.shape)
        res["mse"] = float(np.mean(d * d))
    return res


def _progress(loader, verbose, epoch, epochs):
    if verbose is False or not _is_tty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=len(loader), desc=f"epoch {epoch + 1}/{epochs}", leave=True, unit="batch")


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
) -> History:
    """Train ``model`` for ``epochs`` epochs in total; returns the :class:`History`.

    ``train``: ``(x, y)`` arrays (``x: (N, ...)``, ``y: (N,)`` labels or ``(N, K)``
    targets) or a ``DataLoader``; ``val``: ``(x_val, y_val)`` evaluated after every
    epoch, or ``None``. ``transform`` (``t(x_batch, rng)``) and ``seed`` (the data
    order and augmentation; weights and dropout follow ``barenet.seed``) apply when
    arrays are given. ``verbose``: ``False`` prints nothing; otherwise a progress bar
    on a terminal, else one line per epoch. ``task``: ``"classification"`` or
    ``"regression"`` (no accuracies). ``resume``: a checkpoint path (see
    :class:`ModelCheckpoint`): weights, optimizer, RNGs, data order, history and
    callback state are restored and training continues up to ``epochs``.
    """
    from ..data import DataLoader
    from .checkpoint import load_checkpoint

    if task not in ("classification", "regression"):
        raise ValueError(f"fit: task must be 'classification' or 'regression', got {task!r}")
    if int(epochs) < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    if isinstance(train, DataLoader):
        loader = train
    else:
        try:
            x, y = train
        except (TypeError, ValueError):
            raise TypeError("fit: train must be (x, y) or a DataLoader") from None
        loader = DataLoader(x, y, batch_size, shuffle=True, transform=transform, seed=seed)
    if val is not None:
        try:
            xv, yv = val
        except (TypeError, ValueError):
            raise TypeError("fit: val must be (x_val, y_val) or None") from None
        if len(xv) != len(yv) or len(xv) == 0:
            raise ValueError(f"fit: val has {len(xv)} inputs and {len(yv)} targets")
        val = (np.asarray(xv), np.asarray(yv))
    classify = task == "classification"
    callbacks = list(callbacks)
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
    )
    start, partial = 0, None
    if resume is not None:
        st = load_checkpoint(resume, model, optimizer)
        loader.load_state_dict(st["loader"])
        set_rng_state(st["rng_state"])
        ctx.history = History.from_dict(st["history"])
        ctx.history.stopped_reason = None
        ctx.step, start, partial = int(st["step"]), int(st["next_epoch"]), st.get("partial")
        saved = st.get("callbacks", [])
        for cb, (name, cst) in zip(callbacks, saved):
            if type(cb).__name__ == name:
                cb.load_state_dict(cst)
    history = ctx.history
    ctx.epoch = start - 1
    model.train()
    for cb in callbacks:
        cb.on_train_begin(ctx)
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
            _run_epoch(ctx, verbose, classify)
            if ctx.stop_training:
                break
    except KeyboardInterrupt:
        history.stopped_reason = "interrupted"
        for cb in callbacks:
            cb.on_interrupt(ctx)
    if ctx.stop_training and history.stopped_reason is None:
        history.stopped_reason = "callback"
    for cb in callbacks:
        cb.on_train_end(ctx)
    model.train()
    return history


def _diverged(ctx, what: str):
    ctx.history.stopped_reason = "diverged"
    return TrainingDiverged(
        f"training diverged: {what} became NaN/inf at epoch {ctx.epoch + 1}, step {ctx.step} "
        f"(lr {ctx.optimizer.lr:g}); try a smaller learning rate. The last checkpoint "
        f"written before this step is kept unchanged.",
        ctx.history,
    )


def _run_epoch(ctx, verbose, classify: bool) -> None:
    model, opt, loss_fn, p = ctx.model, ctx.optimizer, ctx.loss_fn, ctx.partial
    t0 = time.perf_counter() - p["time_s"]
    for cb in ctx.callbacks:
        cb.on_epoch_begin(ctx)
    ctx.loader_state = ctx.loader.state_dict()
    bar = _progress(ctx.loader, verbose, ctx.epoch, ctx.epochs)
    if bar is not None and ctx.loader.batch:
        bar.update(ctx.loader.batch)
    try:
        for b, (xb, yb) in enumerate(ctx.loader if not p["done"] else (), ctx.loader.batch):
            ctx.batch = b
            with np.errstate(over="ignore", invalid="ignore"):
                out = model.forward(xb)
                if not np.isfinite(out).all():
                    raise _diverged(ctx, "the network output")
                loss = loss_fn(out, yb)
                if not math.isfinite(loss):
                    raise _diverged(ctx, "the loss")
                wanted = model.needs_input_grad
                model.needs_input_grad = False  # the batch is data: dL/dx is never used
                try:
                    model.backward(loss_fn.backward())
                finally:
                    model.needs_input_grad = wanted
                for cb in ctx.callbacks:
                    cb.on_after_backward(ctx)
                opt.step()
            opt.zero_grad()
            ctx.step += 1
            ctx.loader_state = ctx.loader.state_dict()
            ctx.loss = loss
            ctx.history.steps.append(loss)
            n = len(xb)
            p["loss_sum"] += loss * n
            p["count"] += n
            if classify:
                labels = yb.argmax(axis=1) if np.ndim(yb) == 2 else yb
                p["correct"] += int(np.count_nonzero(out.argmax(axis=1) == labels))
            p["time_s"] = time.perf_counter() - t0
            if bar is not None:
                post = {"loss": f"{p['loss_sum'] / p['count']:.4f}"}
                if classify:
                    post["acc"] = f"{p['correct'] / p['count']:.4f}"
                bar.set_postfix(post, refresh=False)
                bar.update(1)
            for cb in ctx.callbacks:
                cb.on_batch_end(ctx)
        p["done"] = True
        if not all(np.isfinite(q.data).all() for q in model.parameters()):
            raise _diverged(ctx, "a weight")
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
        ctx.history.epochs.append(rec)
        ctx.logs = rec
        ctx.epoch_closed = True
        if bar is not None:
            bar.set_postfix_str(_fmt(rec).split("  ", 1)[1], refresh=True)
        elif verbose is not False:
            print(_fmt(rec), flush=True)
        for cb in ctx.callbacks:
            cb.on_epoch_end(ctx)
    finally:
        if bar is not None:
            bar.close()
