"""What a training run records: one dict per epoch and the loss of every step."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from ..io import atomic_write_bytes

__all__ = ["History", "EPOCH_KEYS"]

EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time_s")


def _clean(v):
    """JSON-safe value: NaN/inf become None, numpy scalars plain numbers."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class History:
    """Per-epoch records and per-step training losses of one run.

    ``epochs``: list of dicts with ``epoch`` (1-based), ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc``, ``lr``, ``time_s`` (accuracy keys are ``None`` for
    regression, ``val_*`` ``None`` without validation data; callbacks may add keys,
    e.g. ``grad_norms``). ``steps``: the training loss of every optimizer step.
    ``stopped_reason``: ``None`` (ran all epochs), ``"early_stopping"``,
    ``"interrupted"`` (Ctrl-C), ``"terminated"`` (SIGTERM), ``"diverged"`` or
    ``"callback"``.
    """

    def __init__(self, epochs=None, steps=None, stopped_reason: str | None = None):
        self.epochs: list[dict] = list(epochs or [])
        self.steps: list[float] = [float(s) for s in (steps or [])]
        self.stopped_reason = stopped_reason

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epochs)}, steps={len(self.steps)})"

    def column(self, key: str) -> list:
        """Values of ``key`` over the epochs (``None`` where absent)."""
        return [e.get(key) for e in self.epochs]

    def best(self, key: str, mode: str = "auto"):
        """Best value of ``key`` (max for accuracies, min otherwise), or ``None``."""
        vals = [v for v in self.column(key) if v is not None and math.isfinite(v)]
        if not vals:
            return None
        if mode == "auto":
            mode = "max" if "acc" in key else "min"
        return max(vals) if mode == "max" else min(vals)

    @property
    def last(self) -> dict:
        """The last epoch's record (``{}`` before the first)."""
        return self.epochs[-1] if self.epochs else {}

    def to_dict(self) -> dict:
        """``{"epochs", "steps", "stopped_reason"}`` as JSON-safe values."""
        return _clean(
            {"epochs": self.epochs, "steps": self.steps, "stopped_reason": self.stopped_reason}
        )

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """The History that ``to_dict`` described."""
        if not isinstance(d, dict) or not isinstance(d.get("epochs", []), list):
            raise ValueError("History: expected a dict with an 'epochs' list")
        return cls(d.get("epochs"), d.get("steps"), d.get("stopped_reason"))

    def save_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        atomic_write_bytes(path, [json.dumps(self.to_dict(), indent=1).encode()])
        return Path(path)

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> History:
        """Read a file that ``save_json`` wrote."""
        try:
            d = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"History.load_json: {path} is not valid JSON ({exc})") from None
        return cls.from_dict(d)

    def save_csv(self, path: str | os.PathLike) -> Path:
        """One row per epoch: the standard keys, other scalar keys, then per-layer
        gradient norms as ``grad_norm:<name>`` columns. Atomic."""
        rows = []
        for e in self.epochs:
            row = {k: v for k, v in e.items() if not isinstance(v, dict)}
            for name, v in (e.get("grad_norms") or {}).items():
                row[f"grad_norm:{name}"] = v
            rows.append(_clean(row))
        cols = list(EPOCH_KEYS)
        for r in rows:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r[k]) for k in cols})
        atomic_write_bytes(path, [buf.getvalue().encode()])
        return Path(path)
