"""``TruncatedBPTT``: a recurrent model's state carried across the batches of an epoch.

With batches made by :func:`barenet.data.text.bptt_arrays` and a non-shuffled loader,
row r of batch k + 1 continues row r of batch k. This callback has the model start each
training batch from the final state of the previous one (the model's ``carry_state``),
forgets it at the start of each epoch, and keeps the state reached by the last finished
step in its own state, so that a checkpoint written mid-epoch (Ctrl-C) resumes with it:
the resumed run continues bit for bit. The gradient is cut at each batch's first step
(backpropagation runs through the batch's steps only).

The model must have ``carry_state``, ``carried`` (its state: an array, or a tuple of
arrays) and ``reset_state()``, as :class:`barenet.sequence.LanguageModel` has.
"""

from __future__ import annotations

import numpy as np

from ..core.device import as_numpy, to_device
from .callbacks import Callback
from .metrics import bits_per_character, perplexity

__all__ = ["LanguageModelMetrics", "TruncatedBPTT"]


def _to_json(state):
    if state is None:
        return None
    parts = state if isinstance(state, tuple) else (state,)
    return {
        "tuple": isinstance(state, tuple),
        "parts": [
            {"shape": list(p.shape), "dtype": str(p.dtype), "values": as_numpy(p).ravel().tolist()}
            for p in parts
        ],
    }


def _from_json(data, device: str):
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("parts"), list):
        raise ValueError(f"TruncatedBPTT: a saved state is an object of parts, got {data!r:.60}")
    parts = []
    for p in data["parts"]:
        dtype = np.dtype(p["dtype"])
        if dtype.kind != "f":
            raise ValueError(f"TruncatedBPTT: a saved state must be floats, not {dtype}")
        a = np.asarray(p["values"], dtype=dtype).reshape([int(s) for s in p["shape"]])
        if not np.isfinite(a).all():
            raise ValueError("TruncatedBPTT: a saved state holds NaN or inf")
        parts.append(to_device(a, device))
    return tuple(parts) if data.get("tuple") else parts[0]


class TruncatedBPTT(Callback):
    """Carry the model's recurrent state from batch to batch within an epoch."""

    def __init__(self):
        self.state = None  # the state after the last finished step, as JSON (or None)
        self._arrays = None  # the same, as the model's arrays
        self._step = None  # the step after which _arrays was taken
        self._ctx = None

    def on_train_begin(self, ctx) -> None:
        for name in ("carry_state", "carried", "reset_state"):
            if not hasattr(ctx.model, name):
                raise TypeError(
                    f"TruncatedBPTT: the model ({type(ctx.model).__name__}) has no {name!r}; "
                    "it needs a recurrent model that can carry its state (LanguageModel)"
                )
        ctx.model.carry_state = True
        self._ctx, self._step = ctx, ctx.step

    def on_epoch_begin(self, ctx) -> None:
        if ctx.loader_state["batch"] == 0:  # a new epoch: every row starts afresh
            ctx.model.reset_state()
            self.state = self._arrays = None
        else:  # resumed in the middle of an epoch: the state of its last finished step
            if self._arrays is None and self.state is not None:
                self._arrays = _from_json(self.state, ctx.model.device)
            ctx.model.carried = self._arrays

    def on_batch_end(self, ctx) -> None:
        self._arrays, self.state = ctx.model.carried, None  # JSON only when asked for
        self._step = ctx.step

    def on_train_end(self, ctx) -> None:
        ctx.model.carry_state = False
        ctx.model.reset_state()
        self._ctx = None

    def state_dict(self) -> dict:
        ctx = self._ctx
        if ctx is not None and self._step is not None and ctx.step != self._step:
            # Ctrl-C between a finished step and its on_batch_end: no forward has run
            # since that step, so the model's carried state is the one it reached
            self.on_batch_end(ctx)
        if self.state is None and self._arrays is not None:
            self.state = _to_json(self._arrays)
        return {"state": self.state}

    def load_state_dict(self, state: dict) -> None:
        data = state.get("state")
        _from_json(data, "cpu")  # checked now: a bad one is refused before anything changes
        self.state, self._arrays = data, None


class LanguageModelMetrics(Callback):
    """Adds ``train_bpc``, ``train_perplexity`` (and ``val_bpc``, ``val_perplexity`` with
    validation data) to each epoch's record, from its mean cross-entropy per character."""

    def on_epoch_end(self, ctx) -> None:
        for part in ("train", "val"):
            loss = ctx.logs.get(f"{part}_loss")
            if loss is not None:
                ctx.logs[f"{part}_bpc"] = bits_per_character(loss)
                ctx.logs[f"{part}_perplexity"] = perplexity(loss)
