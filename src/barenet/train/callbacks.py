"""Callbacks: small objects whose hooks ``fit`` calls at fixed points.

Hooks (all optional), each given the training context ``ctx``:
``on_train_begin``, ``on_epoch_begin``, ``on_after_backward`` (every step, after
``model.backward`` and before ``optimizer.step``: gradients are readable),
``on_batch_end``, ``on_epoch_end`` (``ctx.logs`` is this epoch's history record,
already appended; callbacks may add keys to it), ``on_interrupt`` (Ctrl-C) and
``on_train_end``. Set ``ctx.stop_training = True`` to stop after the current epoch.

A callback that keeps state across epochs exposes ``state_dict()`` /
``load_state_dict()`` so a resumed run continues it exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import checkpoint as ck

__all__ = [
    "Callback",
    "CosineLR",
    "EarlyStopping",
    "GradientNormRecorder",
    "LambdaCallback",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "StepLR",
    "make_schedule",
]


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, ctx) -> None:
        """Before the first epoch (also on resume)."""

    def on_epoch_begin(self, ctx) -> None:
        """Before each epoch."""

    def on_after_backward(self, ctx) -> None:
        """After every ``model.backward``, before ``optimizer.step``: gradients are readable."""

    def on_batch_end(self, ctx) -> None:
        """After every optimizer step."""

    def on_epoch_end(self, ctx) -> None:
        """After each epoch; ``ctx.logs`` is its history record, already appended."""

    def on_interrupt(self, ctx) -> None:
        """When the run is interrupted (Ctrl-C)."""

    def on_train_end(self, ctx) -> None:
        """After the last epoch, an early stop or an interruption."""

    def state_dict(self) -> dict:
        """What a resumed run needs to continue this callback exactly (here nothing)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``'s output."""
        for k, v in state.items():
            setattr(self, k, v)


class LambdaCallback(Callback):
    """Wrap plain functions as hooks: ``LambdaCallback(on_epoch_end=lambda ctx: ...)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


def _mode(monitor: str, mode: str) -> str:
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"callbacks: mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


def _monitored(ctx, monitor: str, who: str) -> float | None:
    v = ctx.logs.get(monitor)
    if v is None and monitor.startswith("val_"):
        v = ctx.logs.get("train_" + monitor[4:])  # no validation data: use training
    if v is None:
        raise ValueError(f"{who}: metric {monitor!r} is not in the epoch record {sorted(ctx.logs)}")
    return float(v)


class _Monitor(Callback):
    def __init__(self, monitor: str, mode: str, min_delta: float):
        self.monitor, self.mode, self.min_delta = monitor, _mode(monitor, mode), float(min_delta)
        self.best: float | None = None

    def _improved(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        if self.best is None:
            return True
        d = self.min_delta
        return v < self.best - d if self.mode == "min" else v > self.best + d


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    with ``restore_best`` the weights of the best epoch are put back at the end."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        mode: str = "auto",
        min_delta: float = 0.0,
        restore_best: bool = True,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.restore_best = int(patience), bool(restore_best)
        self.wait, self.best_epoch, self._best_state = 0, None, None

    def on_epoch_end(self, ctx) -> None:
        v = _monitored(ctx, self.monitor, "EarlyStopping")
        if self._improved(v):
            self.best, self.best_epoch, self.wait = v, ctx.logs["epoch"], 0
            if self.restore_best:
                self._best_state = ctx.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            ctx.stop_training = True
            ctx.history.stopped_reason = "early_stopping"

    def on_train_end(self, ctx) -> None:
        if self.restore_best and self._best_state is not None:
            ctx.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch}


class ModelCheckpoint(_Monitor):
    """Write the full training state (weights, optimizer, RNGs, loader, history) to
    ``directory/last.safetensors`` every ``every`` epochs, at the end and on Ctrl-C,
    and to ``directory/best.safetensors`` when ``monitor`` improves. Each write goes
    to a temporary file renamed into place, so an old checkpoint is never
    half-replaced. With ``every`` > 1 (long runs of tiny epochs, where the writes
    would dominate) the best state is kept in memory and written with the next
    scheduled write, so ``best`` still holds the best epoch's exact state. After a
    second Ctrl-C that broke into a step (``ctx.consistent`` false) nothing more is
    written: the files on disk are the last consistent state."""

    def __init__(
        self,
        directory,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best: bool = True,
        save_last: bool = True,
        min_delta: float = 0.0,
        every: int = 1,
    ):
        super().__init__(monitor, mode, min_delta)
        if int(every) < 1:
            raise ValueError(f"ModelCheckpoint: every must be >= 1, got {every}")
        self.directory = Path(directory)
        self.save_best, self.save_last = bool(save_best), bool(save_last)
        self.every = int(every)
        self._pending_best = None
        self._last_written: tuple[int, int] | None = None

    @property
    def last_path(self) -> Path:
        return self.directory / "last.safetensors"

    @property
    def best_path(self) -> Path:
        return self.directory / "best.safetensors"

    @property
    def wrote_last(self) -> bool:
        """Whether this callback has written ``last_path`` (in this process)."""
        return self._last_written is not None

    def on_epoch_end(self, ctx) -> None:
        if self.save_best and self._improved(_monitored(ctx, self.monitor, "ModelCheckpoint")):
            self.best = _monitored(ctx, self.monitor, "ModelCheckpoint")
            self._pending_best = ck.checkpoint_payload(ctx)
        if (ctx.epoch + 1) % self.every == 0:
            self._flush(ctx)

    def on_train_end(self, ctx) -> None:
        if not getattr(ctx, "consistent", True):  # a forced Ctrl-C split a step
            return
        # Only what the schedule left unwritten: with every=1 this writes nothing.
        self._flush(ctx, last=self._last_written != (ctx.epoch, ctx.step))

    def on_interrupt(self, ctx) -> None:
        if getattr(ctx, "consistent", True):
            self._flush(ctx)

    def _flush(self, ctx, last: bool = True) -> None:
        if self._pending_best is not None:
            ck.write_checkpoint(self.best_path, self._pending_best)
            self._pending_best = None
        if last and self.save_last:
            ck.write_checkpoint(self.last_path, ck.checkpoint_payload(ctx))
            self._last_written = (ctx.epoch, ctx.step)

    def state_dict(self) -> dict:
        return {"best": self.best}


class _Schedule(Callback):
    """Sets ``optimizer.lr`` at the start of every epoch from the epoch index."""

    def __init__(self):
        self.base_lr: float | None = None

    def on_train_begin(self, ctx) -> None:
        if self.base_lr is None:
            self.base_lr = float(ctx.optimizer.lr)

    def on_epoch_begin(self, ctx) -> None:
        ctx.optimizer.lr = self.lr_at(ctx.epoch)

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not define lr_at")

    def state_dict(self) -> dict:
        return {"base_lr": self.base_lr}


class StepLR(_Schedule):
    """lr = base · gamma^(epoch // step_size)   (epoch counted from 0)."""

    def __init__(self, step_size: int, gamma: float = 0.1):
        super().__init__()
        if int(step_size) < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(_Schedule):
    """lr = η_min + (base - η_min)(1 + cos(π · epoch / t_max)) / 2, flat after t_max."""

    def __init__(self, t_max: int, eta_min: float = 0.0):
        super().__init__()
        if int(t_max) < 1:
            raise ValueError(f"CosineLR: t_max must be >= 1, got {t_max}")
        self.t_max, self.eta_min = int(t_max), float(eta_min)

    def lr_at(self, epoch: int) -> float:
        e = min(epoch, self.t_max)
        return (
            self.eta_min
            + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * e / self.t_max)) / 2
        )


class ReduceLROnPlateau(_Monitor):
    """Multiply lr by ``factor`` when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 2,
        mode: str = "auto",
        min_lr: float = 0.0,
        min_delta: float = 1e-4,
    ):
        super().__init__(monitor, mode, min_delta)
        if not 0 < float(factor) < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        self.factor, self.patience, self.min_lr = float(factor), int(patience), float(min_lr)
        self.wait = 0

    def on_epoch_end(self, ctx) -> None:
        v = _monitored(ctx, self.monitor, "ReduceLROnPlateau")
        if self._improved(v):
            self.best, self.wait = v, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            ctx.optimizer.lr = max(self.min_lr, ctx.optimizer.lr * self.factor)
            self.wait = 0

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait}


class GradientNormRecorder(Callback):
    """Adds ``grad_norms`` to each epoch record: for every weight (parameters with 2+
    axes) the mean over the epoch's steps of ‖∂L/∂W‖₂, keyed by parameter name.
    The sums of an epoch in progress are part of its state, so a run resumed
    mid-epoch records the same means."""

    def __init__(self):
        self._sums: dict[str, float] = {}
        self._n = 0

    def on_after_backward(self, ctx) -> None:
        for name, p in ctx.model.named_parameters():
            if p.data.ndim >= 2:
                g = p.grad.ravel()
                self._sums[name] = self._sums.get(name, 0.0) + float(np.sqrt(np.dot(g, g)))
        self._n += 1

    def on_epoch_end(self, ctx) -> None:
        n = max(self._n, 1)
        ctx.logs["grad_norms"] = {k: v / n for k, v in self._sums.items()}
        self._sums, self._n = {}, 0

    def state_dict(self) -> dict:
        return {"sums": dict(self._sums), "n": self._n}

    def load_state_dict(self, state: dict) -> None:
        self._sums = {str(k): float(v) for k, v in state.get("sums", {}).items()}
        self._n = int(state.get("n", 0))


def make_schedule(spec: str | None, epochs: int, lr: float | None = None) -> Callback | None:
    """Parse ``"step:10:0.5"``, ``"cosine"`` / ``"cosine:1e-5"``, ``"plateau"`` /
    ``"plateau:0.5:2"`` or ``"none"`` into a schedule callback (``None`` for none).

    ``step[:N[:gamma]]``: lr × gamma every N epochs (N >= 1, 0 < gamma <= 1;
    default N = epochs // 3, gamma 0.1); ``cosine[:final_lr]``: cosine decay over
    the run down to ``final_lr`` (>= 0 and below the starting ``lr``, when given);
    ``plateau[:factor[:patience]]``: see :class:`ReduceLROnPlateau`. Anything else,
    extra fields or values out of range raise ``ValueError`` naming the schedule."""
    if spec is None or spec == "" or spec == "none":
        return None
    name, *args = str(spec).strip().split(":")
    forms = {
        "step": "step[:N[:gamma]]",
        "cosine": "cosine[:final_lr]",
        "plateau": "plateau[:factor[:patience]]",
    }
    if name not in forms:
        raise ValueError(f"unknown schedule {spec!r}; use {', '.join(forms.values())} or none")
    if len(args) > forms[name].count(":"):
        raise ValueError(f"schedule {spec!r}: too many fields; the form is {forms[name]}")
    try:
        nums = [float(a) for a in args]
    except ValueError:
        raise ValueError(f"schedule {spec!r}: arguments must be numbers ({forms[name]})") from None

    def bad(what: str) -> ValueError:
        return ValueError(f"schedule {spec!r}: {what} ({forms[name]})")

    if not all(math.isfinite(v) for v in nums):
        raise bad("arguments must be finite")
    if name == "step":
        if nums and (nums[0] < 1 or not nums[0].is_integer()):
            raise bad(f"N must be a whole number of epochs >= 1, got {args[0]}")
        if len(nums) > 1 and not 0 < nums[1] <= 1:
            raise bad(f"gamma must be in (0, 1], got {args[1]}")
        step = int(nums[0]) if nums else max(1, epochs // 3)
        return StepLR(step, nums[1] if len(nums) > 1 else 0.1)
    if name == "cosine":
        final = nums[0] if nums else 0.0
        if final < 0 or (lr is not None and final >= lr):
            below = f" and below the learning rate {lr:g}" if lr is not None else ""
            raise bad(f"the final learning rate must be >= 0{below}, got {args[0]}")
        return CosineLR(max(1, epochs), final)
    if len(nums) > 1 and (nums[1] < 1 or not nums[1].is_integer()):
        raise bad(f"patience must be a whole number of epochs >= 1, got {args[1]}")
    if nums and not 0 < nums[0] < 1:
        raise bad(f"factor must be in (0, 1), got {args[0]}")
    return ReduceLROnPlateau(
        factor=nums[0] if nums else 0.1, patience=int(nums[1]) if len(nums) > 1 else 2
    )
