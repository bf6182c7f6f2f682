"""``train_step``: one optimizer step on one batch, apart from any loop.

    out = model(x);  loss = loss_fn(out, y)       # NaN/inf here: TrainingDiverged
    model.backward(loss_fn.backward())            # dL/dx is not computed: the batch is data
    after_backward()                              # gradients are readable
    optimizer.step();  on_update(loss, out)       # Ctrl-C is held across these
    optimizer.zero_grad()

A step completes or leaves no trace. An exception before the optimizer update
(Ctrl-C, a diverged loss, bad labels) puts barenet's random generator and the
model's buffers (BatchNorm's running statistics) back as they were and zeroes the
gradients, so the weights, buffers and generator are those of the last finished
step. From the update on, Ctrl-C is held until the update and ``on_update`` (a
loop's bookkeeping) are done — inside ``interrupts_handled()``, which ``fit`` runs
in and a loop of your own can too (see :mod:`barenet.train.interrupts`). An
exception that an optimizer raises after its update (its ``step_count`` moved on)
still gets ``on_update`` before it goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..core.backend import array_module
from ..core.config import get_rng_state, set_rng_state
from ..core.device import scope, to_device
from ..core.module import Module
from ..losses import Loss
from .interrupts import held_interrupts

__all__ = ["TrainingDiverged", "train_step"]


class TrainingDiverged(FloatingPointError):
    """The loss (or the network's output or weights) became NaN or inf.

    ``history``: the run's :class:`~barenet.train.History` when raised by ``fit``;
    ``what``: which quantity stopped being finite."""

    def __init__(self, message: str, history=None, what: str = "the loss"):
        super().__init__(message)
        self.history = history
        self.what = what


def _diverged(what: str) -> TrainingDiverged:
    return TrainingDiverged(
        f"train_step: {what} became NaN/inf; nothing was updated (try a smaller learning rate)",
        what=what,
    )


def _defines_value(loss_fn) -> bool:
    """Whether ``loss_fn`` gives its loss as an array (``Loss.value``); a loss of your own
    that defines only ``forward`` (a float) is called as before."""
    return getattr(type(loss_fn), "value", Loss.value) is not Loss.value


def _undo(model: Module, rng_state: dict, buffers: dict) -> None:
    set_rng_state(rng_state)
    if buffers:
        model.load_state_dict(buffers, strict=False)
    model.zero_grad()


def train_step(
    model: Module,
    loss_fn,
    optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    after_backward: Callable[[], None] | None = None,
    on_update: Callable[[float, np.ndarray], None] | None = None,
) -> float:
    """One forward, backward and optimizer step on the batch ``(x, y)``; returns the
    loss (a float). ``x: (N, ...)``; ``y``: what ``loss_fn`` takes (``(N,)`` labels
    or ``(N, K)`` targets). The model is used in whatever mode it is in (call
    ``model.train()`` first). Gradients are zeroed after the update.

    ``after_backward()`` runs between backward and the optimizer step (gradients
    are readable there); ``on_update(loss, out)``, with ``out: (N, K)`` the
    network's output, runs right after the update, with Ctrl-C held inside
    ``interrupts_handled()``, for bookkeeping that must not be separated from it.
    Raises
    :class:`TrainingDiverged` when the output or the loss is NaN/inf, before
    anything is updated. ``x`` and ``y`` may be NumPy arrays for a model on a GPU:
    they are copied there.
    """
    return float(_step(model, loss_fn, optimizer, x, y, after_backward, on_update, False))


def _step(model, loss_fn, optimizer, x, y, after_backward, on_update, defer: bool):
    """``train_step``'s work; returns the loss as a float on the CPU. On a GPU with
    ``defer``, the loss stays there (a 0-d array, also given to ``on_update``) and the
    NaN/inf checks of the output and the loss are left to the caller, which checks the
    losses it keeps (``fit``: once per epoch): nothing in the step waits for the GPU.
    """
    device = model.device
    if device != "cpu":
        with scope(device):
            return _step_on(
                model, loss_fn, optimizer, to_device(x, device), y, after_backward, on_update, defer
            )
    return _step_on(model, loss_fn, optimizer, x, y, after_backward, on_update, defer)


def _step_on(model, loss_fn, optimizer, x, y, after_backward, on_update, defer: bool):
    rng_state = get_rng_state()
    buffers = {k: v.copy() for k, v in model.named_buffers()}
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            out = model.forward(x)
            if defer and type(out) is not np.ndarray and _defines_value(loss_fn):
                loss = loss_fn.value(out, y, check_finite=False)
            else:
                if not array_module(out).isfinite(out).all():
                    raise _diverged("the network output")
                loss = loss_fn(out, y)
                if not math.isfinite(loss):
                    raise _diverged("the loss")
            wanted = model.needs_input_grad
            model.needs_input_grad = False  # the batch is data: dL/dx is never used
            try:
                model.backward(loss_fn.backward())
            finally:
                model.needs_input_grad = wanted
        if after_backward is not None:
            after_backward()
    except BaseException:
        _undo(model, rng_state, buffers)
        raise
    count = getattr(optimizer, "step_count", None)
    updated = False
    try:
        with held_interrupts():
            with np.errstate(over="ignore", invalid="ignore"):
                optimizer.step()
            updated = True
            if on_update is not None:
                on_update(loss, out)
            optimizer.zero_grad()
    except BaseException:
        if updated:
            raise
        if count is None or getattr(optimizer, "step_count", None) == count:
            _undo(model, rng_state, buffers)  # the optimizer raised before its update
            raise
        with held_interrupts():  # it raised after its update: the step happened
            if on_update is not None:
                on_update(loss, out)
            optimizer.zero_grad()
        raise
    return loss
