"""What reading a training checkpoint checks before any state changes.

Form, the file alone (:func:`check_training_state`, :func:`check_tensors`): every key
of the JSON training state with the type ``fit`` needs, tensors named ``model.*`` and
``optim.<i>.<name>`` with finite values. Fit, the file against what it is loaded into
(:func:`check_optimizer_fits`, :func:`check_callback_states`): the optimizer's
parameter indices, buffer shapes and hyperparameter kinds, and each callback's state.
Each failure is a ``ModelFileError`` naming the file and what is wrong.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ..core.checks import is_finite_number, is_int
from ..core.config import get_rng
from ..io import ModelFileError
from .history import History

# ---- checks of form: the file alone ------------------------------------------------------


def _malformed(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: malformed checkpoint: {what}")


def _kind(v) -> str:
    """A JSON value's kind, for comparing a stored value with the one it replaces."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float, np.number)):
        return "number"
    if isinstance(v, (list, tuple)):
        return "list"
    return type(v).__name__


# key → (what it must be, its test)
_TRAINING_KEYS = {
    "optimizer": ("a string", lambda v: isinstance(v, str)),
    "param_groups": ("a list of objects", lambda v: _list_of(v, dict)),
    "optimizer_scalars": ("an object", lambda v: isinstance(v, dict)),
    "rng_state": ("an object", lambda v: isinstance(v, dict)),
    "loader": ("an object", lambda v: isinstance(v, dict)),
    "next_epoch": ("an integer >= 0", lambda v: is_int(v) and v >= 0),
    "partial": ("null or an object", lambda v: v is None or isinstance(v, dict)),
    "step": ("an integer >= 0", lambda v: is_int(v) and v >= 0),
    "history": ("an object", lambda v: isinstance(v, dict)),
    "callbacks": ("a list of [name, state] pairs", lambda v: _list_of(v, list)),
}
_PARTIAL_KEYS = {
    "loss_sum": is_finite_number,
    "correct": lambda v: is_int(v) and v >= 0,
    "count": lambda v: is_int(v) and v >= 0,
    "time_s": is_finite_number,
    "done": lambda v: isinstance(v, bool),
}


def _list_of(v, kind: type) -> bool:
    return isinstance(v, list) and all(isinstance(x, kind) for x in v)


def check_training_state(path: Path, training) -> None:
    """Every key of the training state, with the type ``fit`` needs."""
    if not isinstance(training, dict):
        raise _malformed(path, f"training state must be an object, got {_kind(training)}")
    missing = [k for k in _TRAINING_KEYS if k not in training]
    if missing:
        raise _malformed(path, f"training state lacks {', '.join(missing)}")
    for key, (must, ok) in _TRAINING_KEYS.items():
        if not ok(training[key]):
            raise _malformed(path, f"{key} must be {must}, got {_clip(training[key])}")
    loader = training["loader"]
    if not all(is_int(loader.get(k)) and loader[k] >= 0 for k in ("seed", "epoch", "batch")):
        raise _malformed(path, f"loader must hold ints seed, epoch, batch >= 0: {_clip(loader)}")
    partial = training["partial"]
    if partial is not None:
        bad = [k for k, ok in _PARTIAL_KEYS.items() if not ok(partial.get(k))]
        bad += sorted(set(partial) - set(_PARTIAL_KEYS))
        if bad:
            raise _malformed(path, f"partial epoch sums: bad {', '.join(bad)} in {_clip(partial)}")
    for i, scalars in training["optimizer_scalars"].items():
        if not (i.isdigit() and isinstance(scalars, dict)):
            raise _malformed(path, f"optimizer_scalars[{i!r}] must be a parameter's numbers")
        for name, v in scalars.items():
            if not (is_int(v) and v >= 0 if name == "step" else is_finite_number(v)):
                raise _malformed(path, f"optimizer_scalars[{i!r}][{name!r}] is {_clip(v)}")
    try:  # on a generator of the same kind, not on barenet's own
        type(get_rng().bit_generator)().state = training["rng_state"]
    except (TypeError, ValueError, KeyError) as exc:
        raise _malformed(path, f"rng_state is not a generator state ({exc})") from None
    history = training["history"]
    steps = history.get("steps", [])
    if not isinstance(steps, list) or not all(x is None or is_finite_number(x) for x in steps):
        raise _malformed(path, "history steps must be a list of numbers")
    epochs = history.get("epochs", [])
    if not isinstance(epochs, list) or not all(isinstance(e, dict) for e in epochs):
        raise _malformed(path, "history epochs must be a list of objects")
    try:
        History.from_dict(history)
    except (TypeError, ValueError) as exc:
        raise _malformed(path, f"history: {exc}") from None
    for entry in training["callbacks"]:
        if not (len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], dict)):
            raise _malformed(path, f"callbacks entry {_clip(entry)} is not [name, state]")


def check_tensors(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Names ``model.*`` and ``optim.<i>.<name>`` only, finite values."""
    for name, a in arrays.items():
        if not name.startswith(("model.", "optim.")):
            raise _malformed(path, f"tensor {name!r} is neither model.* nor optim.*")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise _malformed(path, f"tensor {name!r} holds NaN or infinite values")
    optimizer_tensors(path, arrays)


def optimizer_tensors(path: Path, arrays) -> dict[int, dict[str, np.ndarray]]:
    """``optim.<i>.<name>`` tensors by parameter index and buffer name."""
    state: dict[int, dict[str, np.ndarray]] = {}
    for k, v in arrays.items():
        if k.startswith("optim."):
            _, i, name = (k.split(".", 2) + ["", ""])[:3]
            if not (i.isdigit() and name):
                raise _malformed(path, f"tensor {k!r} is not optim.<parameter index>.<name>")
            state.setdefault(int(i), {})[name] = v
    return state


def _clip(v, n: int = 80) -> str:
    text = repr(v)
    return text if len(text) <= n else text[: n - 1] + "…"


# ---- checks of fit: the file against the model, optimizer and callbacks ------------------


def check_optimizer_fits(path: Path, opt_sd: dict, optimizer, model) -> None:
    """Parameter indices, buffer shapes and hyperparameter types against ``optimizer``
    (whose parameters are ``model``'s, named in the message)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    names = {id(p): n for n, p in model.named_parameters()}
    for i, st in sorted(opt_sd["state"].items()):
        if i >= len(params):
            raise ModelFileError(
                f"{path}: optimizer state for parameter {i}, but the optimizer has "
                f"{len(params)} parameters"
            )
        for name, v in st.items():
            if isinstance(v, np.ndarray) and v.shape != tuple(params[i].shape):
                who = names.get(id(params[i]), f"parameter {i}")
                raise ModelFileError(
                    f"{path}: optimizer state {name!r} of {who} has shape {v.shape}, "
                    f"the model's is {tuple(params[i].shape)}"
                )
    mine = optimizer.state_dict()["param_groups"]
    stored = opt_sd["param_groups"]
    if len(stored) != len(mine):
        raise ModelFileError(
            f"{path}: {len(stored)} optimizer parameter groups, the optimizer has {len(mine)}"
        )
    for g, (theirs, ours) in enumerate(zip(stored, mine)):
        for k, v in theirs.items():
            if k not in ours:
                raise _malformed(path, f"param_groups[{g}] has an unknown key {k!r}")
            if _kind(v) != _kind(ours[k]) or (_kind(v) == "number" and not is_finite_number(v)):
                raise _malformed(
                    path, f"param_groups[{g}][{k!r}] is {_clip(v)}, not like {_clip(ours[k])}"
                )
            if _kind(v) == "list" and (
                len(v) != len(ours[k]) or not all(is_finite_number(x) for x in v)
            ):
                raise _malformed(path, f"param_groups[{g}][{k!r}] must be {len(ours[k])} numbers")


def check_callback_states(path: Path, callbacks, saved: list) -> list[tuple[object, dict]]:
    """Each callback with the state saved by the callback of the same class and the same
    rank among that class's callbacks (a display added or dropped on resume shifts
    nothing); each state holds only keys of the callback's own state, of their kinds,
    and loads into a copy of the callback."""
    by_name: dict[str, list[dict]] = {}
    for name, state in saved:
        by_name.setdefault(name, []).append(state)
    seen: dict[str, int] = {}
    pairs = []
    for cb in callbacks:
        name = type(cb).__name__
        i = seen[name] = seen.get(name, -1) + 1
        if i >= len(by_name.get(name, ())):
            continue
        state, own = by_name[name][i], cb.state_dict()
        for k, v in state.items():
            if k not in own:
                raise _malformed(path, f"{name} state has an unknown key {k!r}")
            if None not in (v, own[k]) and _kind(v) != _kind(own[k]):
                raise _malformed(path, f"{name} state {k!r} is {_clip(v)}")
        try:
            copy.copy(cb).load_state_dict(state)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise _malformed(path, f"{name} state does not load ({exc})") from None
        pairs.append((cb, state))
    return pairs
