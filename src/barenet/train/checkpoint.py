"""Training checkpoints: everything needed to continue a run exactly.

A checkpoint is a safetensors file (written atomically by
:func:`barenet.io.save_tensors`) holding

- tensors ``model.<name>``: the model's state dict (weights and buffers);
- tensors ``optim.<i>.<name>``: each optimizer buffer of parameter ``i``
  (``exp_avg``, ``momentum_buffer``, ...);
- JSON metadata: the architecture spec, the optimizer's class, hyperparameters and
  scalar state (``step``), barenet's global RNG state, the DataLoader state, the
  epoch to continue from (with the running sums of an interrupted epoch), the
  history so far and each callback's state.

No pickle: only raw numbers and JSON. Reading checks the whole file — every key of
the metadata and its type, the tensors' names, the optimizer state's shapes against
the model's parameters — before any state changes; a file that fails is a
``ModelFileError`` (a ``ValueError``) naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..core.config import get_rng_state, set_rng_state
from ..io import ModelFileError, load_tensors, save_tensors
from .checkpoint_checks import (
    check_callback_states,
    check_optimizer_fits,
    check_tensors,
    check_training_state,
    optimizer_tensors,
)
from .history import History

__all__ = ["CHECKPOINT_FORMAT", "load_checkpoint", "read_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "barenet-checkpoint"


def _to_json(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _to_json(x) for k, x in v.items()}
    return v


def save_checkpoint(path: str | os.PathLike, ctx) -> Path:
    """Write the training state of ``ctx`` (a running ``fit``'s context) to ``path``."""
    return write_checkpoint(path, checkpoint_payload(ctx))


def write_checkpoint(path: str | os.PathLike, payload) -> Path:
    """Write a ``checkpoint_payload`` to ``path`` (atomically)."""
    save_tensors(path, *payload)
    return Path(path)


def checkpoint_payload(ctx) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of a checkpoint of ``ctx``: copies, safe to keep in memory."""
    model, opt = ctx.model, ctx.optimizer
    tensors: dict[str, np.ndarray] = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_sd = opt.state_dict()
    scalars: dict[str, dict] = {}
    for i, st in opt_sd["state"].items():
        for name, v in st.items():
            if isinstance(v, np.ndarray):
                tensors[f"optim.{i}.{name}"] = v
            else:
                scalars.setdefault(str(i), {})[name] = _to_json(v)
    next_epoch, partial = ctx.resume_point()
    training = {
        "optimizer": type(opt).__name__,
        "param_groups": _to_json(opt_sd["param_groups"]),
        "optimizer_scalars": scalars,
        "rng_state": _to_json(get_rng_state()),
        # Mid-epoch, the loader's own counters cannot be trusted (an abandoned pass
        # ends its epoch); the trainer notes the position after every finished step.
        "loader": _to_json(ctx.loader.state_dict() if partial is None else ctx.loader_state),
        "next_epoch": next_epoch,
        "partial": _to_json(partial),
        "step": ctx.step,
        "history": ctx.history.to_dict(),
        "callbacks": [[type(cb).__name__, _to_json(cb.state_dict())] for cb in ctx.callbacks],
    }
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": "1",
        "spec": json.dumps(model.spec()),
        "training": json.dumps(training),
    }
    return tensors, meta


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """(tensors, training state) of the checkpoint at ``path``, its form checked: the
    format, every metadata key and its type, the tensors' names, finite values.

    Raises ``FileNotFoundError`` for a missing file and ``ModelFileError`` (a
    ``ValueError``) naming the file and what is wrong otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no such checkpoint: {path}")
    arrays, meta = load_tensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT or "training" not in meta:
        raise ModelFileError(f"{path}: not a barenet training checkpoint")
    try:
        training = json.loads(meta["training"])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: corrupt checkpoint metadata ({exc})") from None
    check_training_state(path, training)
    check_tensors(path, arrays)
    return arrays, training


def load_checkpoint(path: str | os.PathLike, model, optimizer=None) -> dict:
    """Load weights into ``model`` and state into ``optimizer`` (when given) from a
    checkpoint; returns the JSON training state (``rng_state``, ``loader``,
    ``next_epoch``, ``partial``, ``step``, ``history``, ``callbacks``).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (a
    ``ModelFileError``) for a file that is not a checkpoint, is malformed, or does not
    match the model or optimizer; nothing is modified in that case.
    """
    path = Path(path)
    arrays, training = read_checkpoint(path)
    _load_weights(path, arrays, training, model, optimizer)
    return training


def restore_training(path: str | os.PathLike, ctx) -> tuple[int, dict | None]:
    """Put the whole training state of a checkpoint into ``ctx`` (a ``fit``'s context:
    model, optimizer, loader, RNG, history, step and callbacks), all of it checked
    first; returns (epoch to continue from, running sums of an unfinished epoch)."""
    path = Path(path)
    arrays, training = read_checkpoint(path)
    loader = training["loader"]
    if loader["batch"] > len(ctx.loader):
        raise ModelFileError(
            f"{path}: checkpoint does not match the data: it stopped after batch "
            f"{loader['batch']} of an epoch, an epoch of this data has {len(ctx.loader)}"
        )
    callback_states = check_callback_states(path, ctx.callbacks, training["callbacks"])
    _load_weights(path, arrays, training, ctx.model, ctx.optimizer)
    ctx.loader.load_state_dict(loader)
    set_rng_state(training["rng_state"])
    ctx.history = History.from_dict(training["history"])
    ctx.history.stopped_reason = None
    ctx.step = training["step"]
    for cb, state in callback_states:
        cb.load_state_dict(state)
    return training["next_epoch"], training["partial"]


def _load_weights(path: Path, arrays, training: dict, model, optimizer) -> None:
    """Model weights and optimizer state, both checked before either changes."""
    model_sd = {k[6:]: v for k, v in arrays.items() if k.startswith("model.")}
    opt_sd = None
    if optimizer is not None:
        if training["optimizer"] != type(optimizer).__name__:
            raise ModelFileError(
                f"{path}: checkpoint was written with {training['optimizer']}, "
                f"not {type(optimizer).__name__}"
            )
        state = optimizer_tensors(path, arrays)
        for i, scalars in training["optimizer_scalars"].items():
            state.setdefault(int(i), {}).update(scalars)
        opt_sd = {"state": state, "param_groups": training["param_groups"]}
        check_optimizer_fits(path, opt_sd, optimizer, model)
    backup = model.state_dict()
    try:
        model.load_state_dict(model_sd)
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: checkpoint does not match the model: {exc}") from None
    if opt_sd is not None:
        try:
            optimizer.load_state_dict(opt_sd)
        except (KeyError, ValueError, TypeError) as exc:
            model.load_state_dict(backup)
            raise ModelFileError(
                f"{path}: checkpoint does not match the optimizer: {exc}"
            ) from None
