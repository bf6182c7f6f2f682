"""A sweep read back from disk into one table: runs x settings x metrics, with the
histories.

:func:`load_sweep` reads every file the runs wrote (``sweep.json``, each run's
``metrics.json``, ``history.json``, ``error.txt``) once, into a :class:`Sweep`: one
:class:`RunRecord` per run with its settings, varied settings, status, metrics, the
scalar results of :func:`run_values` and the per-epoch and per-step histories. The
tables, figures and report are functions of that table; its per-point summary
(mean ± standard deviation over seeds, ``ddof=1``; 0 for one seed) is computed once.
A table can be read at any time, also for a sweep that is still running.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

__all__ = [
    "COLUMNS",
    "RunRecord",
    "Sweep",
    "by_point",
    "find_sweeps",
    "grad_norm_series",
    "load_sweep",
    "run_values",
    "summarize",
]

# (key, header, is a fraction shown as percent)
COLUMNS = [
    ("val_acc", "final val acc (%)", True),
    ("best_val_acc", "best val acc (%)", True),
    ("val_loss", "final val loss", False),
    ("early_train_loss", "train loss, epochs 1\u20113", False),
    ("test_acc", "test acc (%)", True),
    ("test_loss", "test loss", False),
    ("test_mse", "test MSE", False),
    ("epochs", "epochs", False),
    ("wall_time_s", "wall time (s)", False),
]


@dataclass
class RunRecord:
    """One run (a row of the table) as found on disk; ``status`` is ``done``,
    ``failed`` or ``pending``; ``values``: its scalar results (:func:`run_values`, the
    keys of :data:`COLUMNS`; empty unless done)."""

    name: str
    point: str
    seed: int
    settings: dict
    varied: dict
    status: str
    path: Path
    metrics: dict = field(default_factory=dict)
    epochs: list[dict] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    error: str = ""
    values: dict = field(default_factory=dict)


@dataclass
class Sweep:
    """A sweep folder as one table: its manifest (``sweep.json``) and its runs, in grid
    order; :attr:`summary` holds its rows per grid point."""

    path: Path
    manifest: dict
    runs: list[RunRecord]

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.path.name)

    @property
    def title(self) -> str:
        return str(self.manifest.get("title") or self.name)

    @property
    def task(self) -> str:
        for r in self.runs:
            if r.settings.get("data") == "sine" or "test_mse" in r.metrics:
                return "regression"
        return "classification"

    @property
    def points(self) -> list[str]:
        return list(dict.fromkeys(r.point for r in self.runs))

    @property
    def varied_keys(self) -> list[str]:
        return list(self.runs[0].varied) if self.runs else []

    @cached_property
    def summary(self) -> list[dict]:
        """The rows per grid point (see :func:`summarize`), computed once."""
        return _summary(self)


def _read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def _history(run_dir: Path) -> tuple[list[dict], list[float]]:
    h = _read_json(run_dir / "history.json", {})
    if isinstance(h, list):
        return h, []
    return list(h.get("epochs", []) or []), list(h.get("steps", []) or [])


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read ``path/sweep.json`` and every run folder it lists, each file once."""
    path = Path(path)
    manifest = _read_json(path / "sweep.json")
    if manifest is None:
        raise FileNotFoundError(f"{path}: no sweep.json here (not a sweep folder)")
    runs = []
    for spec in manifest.get("runs", []):
        run_dir = path / "runs" / spec["name"]
        metrics = _read_json(run_dir / "metrics.json")
        err = run_dir / "error.txt"
        status = "done" if metrics is not None else "failed" if err.is_file() else "pending"
        epochs, steps = _history(run_dir) if run_dir.is_dir() else ([], [])
        runs.append(
            RunRecord(
                name=spec["name"],
                point=spec["point"],
                seed=int(spec["seed"]),
                settings=spec.get("settings", {}),
                varied=spec.get("varied", {}),
                status=status,
                path=run_dir,
                metrics=metrics or {},
                epochs=epochs,
                steps=steps,
                error=err.read_text(encoding="utf-8").strip() if status == "failed" else "",
            )
        )
        if status == "done":
            runs[-1].values = run_values(runs[-1])
    return Sweep(path, manifest, runs)


def find_sweeps(root: str | os.PathLike) -> list[Path]:
    """Every folder at or below ``root`` holding a ``sweep.json``, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    return sorted({p.parent for p in root.rglob("sweep.json")})


def _num(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _col(epochs: list[dict], key: str) -> list[float]:
    return [v for v in (_num(e.get(key)) for e in epochs) if v is not None]


def run_values(run: RunRecord) -> dict[str, float | None]:
    """The scalar results of one run (``None`` where the run does not have them)."""
    m, ep = run.metrics, run.epochs
    val_acc, val_loss = _col(ep, "val_acc"), _col(ep, "val_loss")
    train_loss = _col(ep, "train_loss")
    best = _num(m.get("best_val_accuracy"))
    return {
        "val_acc": val_acc[-1] if val_acc else _num(m.get("val_accuracy")),
        "best_val_acc": best if best is not None else (max(val_acc) if val_acc else None),
        "val_loss": val_loss[-1] if val_loss else _num(m.get("val_loss")),
        "early_train_loss": float(np.mean(train_loss[:3])) if train_loss else None,
        "test_acc": _num(m.get("test_accuracy")),
        "test_loss": _num(m.get("test_loss")),
        "test_mse": _num(m.get("test_mse")),
        "epochs": _num(m.get("epochs")) if m.get("epochs") is not None else (len(ep) or None),
        "wall_time_s": _num(m.get("wall_time_s")),
    }


def summarize(sweep: Sweep) -> list[dict]:
    """One row per grid point: ``point``, ``varied``, ``n``, ``failed``, ``diverged``,
    ``pending`` and for every column key ``<key>_mean``, ``<key>_std`` and ``<key>_n``
    over the point's finished runs (a copy of :attr:`Sweep.summary`, free to change)."""
    return [{**row, "varied": dict(row["varied"])} for row in sweep.summary]


def _summary(sweep: Sweep) -> list[dict]:
    rows = []
    for point in sweep.points:
        runs = [r for r in sweep.runs if r.point == point]
        done = [r.values for r in runs if r.status == "done"]
        row = {
            "point": point,
            "varied": runs[0].varied,
            "n": len(done),
            "failed": sum(r.status == "failed" for r in runs),
            "diverged": sum(r.metrics.get("stopped_reason") == "diverged" for r in runs),
            "pending": sum(r.status == "pending" for r in runs),
        }
        for key, _, _ in COLUMNS:
            vals = [v[key] for v in done if v[key] is not None]
            row[f"{key}_mean"] = float(np.mean(vals)) if vals else None
            row[f"{key}_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
            row[f"{key}_n"] = len(vals)
        rows.append(row)
    return rows


def by_point(sweep: Sweep) -> dict[str, list[RunRecord]]:
    """Point -> its finished runs, in grid order."""
    out: dict[str, list[RunRecord]] = {}
    for r in sweep.runs:
        if r.status == "done":
            out.setdefault(r.point, []).append(r)
    return out


def grad_norm_series(sweep: Sweep) -> dict[str, tuple[list[str], np.ndarray]]:
    """Point -> (weight names, mean over seeds of the norms ``(epochs, layers)``), from
    the ``grad_norms`` that :class:`~barenet.train.GradientNormRecorder` put in each
    epoch record."""
    out = {}
    for point, runs in by_point(sweep).items():
        per_run = []
        for r in runs:
            recs = [e.get("grad_norms") for e in r.epochs]
            if recs and all(isinstance(g, dict) and g for g in recs):
                names = list(recs[0])
                per_run.append((names, np.array([[g.get(n, np.nan) for n in names] for g in recs])))
        if per_run:
            names = per_run[0][0]
            e = min(len(a) for _, a in per_run)
            same = [a[:e] for n, a in per_run if n == names]
            out[point] = (names, np.mean(same, axis=0))
    return out
