"""Read a finished (or partly finished) sweep back from disk and tabulate it.

Everything comes from the files the runs wrote (``run.json``, ``metrics.json``,
``history.json``, ``error.txt``), so a table can be rebuilt at any time, also for a
sweep that is still running. Per grid point the table gives mean ± standard
deviation over seeds (sample standard deviation, ``ddof=1``; 0 for one seed).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import atomic_write_bytes
from .grid import format_value

__all__ = [
    "RunRecord",
    "Sweep",
    "COLUMNS",
    "find_sweeps",
    "load_sweep",
    "run_values",
    "summarize",
    "markdown_table",
    "write_tables",
    "fmt_mean_std",
    "by_point",
    "grad_norm_series",
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
    """One run as found on disk; ``status`` is ``done``, ``failed`` or ``pending``."""

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


@dataclass
class Sweep:
    """A sweep folder: its manifest (``sweep.json``) and its runs, in grid order."""

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
    """Read ``path/sweep.json`` and every run folder it lists."""
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
    """One row per grid point: ``point``, ``varied``, ``n``, ``failed`` and for every
    column key ``<key>_mean`` and ``<key>_std`` over the point's finished runs."""
    rows = []
    for point in sweep.points:
        runs = [r for r in sweep.runs if r.point == point]
        done = [run_values(r) for r in runs if r.status == "done"]
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


def fmt_mean_std(mean: float | None, std: float, n: int, pct: bool = False) -> str:
    """``"96.1 ± 0.4"`` (percent for fractions), ``"0.00412 ± 0.0003"``, or ``"-"``."""
    if mean is None:
        return "-"
    if std == 0 and float(mean).is_integer():
        return f"{mean:.0f}"
    if pct:
        return f"{100 * mean:.1f} ± {100 * std:.1f}" if n > 1 else f"{100 * mean:.1f}"
    digits = ".3g" if abs(mean) < 1000 else ".0f"
    return f"{mean:{digits}} ± {std:.2g}" if n > 1 else f"{mean:{digits}}"


def runs_cell(row: dict) -> str:
    """``"3"``, ``"2 (1 failed)"``, ``"3 (1 diverged)"``, ``"1 (2 pending)"``: finished runs,
    and the runs that went wrong or have not finished yet."""
    notes = [f"{row[k]} {k}" for k in ("failed", "diverged", "pending") if row.get(k)]
    return f"{row['n']}" + (f" ({', '.join(notes)})" if notes else "")


def _used_columns(rows: list[dict]) -> list[tuple[str, str, bool]]:
    return [c for c in COLUMNS if any(r[f"{c[0]}_mean"] is not None for r in rows)]


def markdown_table(rows: list[dict]) -> str:
    """The summary as a Markdown table: setting, runs, then mean ± std columns."""
    cols = _used_columns(rows)
    head = ["setting", "runs"] + [h for _, h, _ in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        runs = runs_cell(r)
        cells = [r["point"].replace("|", "/"), runs]
        cells += [fmt_mean_std(r[f"{k}_mean"], r[f"{k}_std"], r[f"{k}_n"], p) for k, _, p in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(sweep: Sweep, out_dir: str | os.PathLike | None = None) -> list[Path]:
    """Write ``results.csv``, ``results.md`` (per point) and ``runs.csv`` (per run, with
    errors) into ``out_dir`` (default: the sweep folder); returns the paths."""
    out = Path(out_dir) if out_dir is not None else sweep.path
    rows = summarize(sweep)
    keys = sweep.varied_keys
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        ["point", *keys, "runs", "failed"]
        + [f"{k}_{s}" for k, _, _ in COLUMNS for s in ("mean", "std")]
    )
    for r in rows:
        w.writerow(
            [r["point"], *(format_value(r["varied"].get(k)) for k in keys), r["n"], r["failed"]]
            + [_cell(r[f"{k}_{s}"]) for k, _, _ in COLUMNS for s in ("mean", "std")]
        )
    runs_buf = io.StringIO()
    w = csv.writer(runs_buf)
    w.writerow(["name", "point", "seed", "status"] + [k for k, _, _ in COLUMNS] + ["error"])
    for run in sweep.runs:
        vals = run_values(run) if run.status == "done" else {}
        last = run.error.strip().splitlines()[-1] if run.error else ""
        w.writerow(
            [run.name, run.point, run.seed, run.status]
            + [_cell(vals.get(k)) for k, _, _ in COLUMNS]
            + [last]
        )
    md = f"## {sweep.title}\n\n" + markdown_table(rows)
    from .reported import reported_lines

    reported = reported_lines(sweep)
    if reported:
        md += "\nThe report and here:\n\n" + "".join(f"- {line}\n" for line in reported)
    paths = [out / "results.csv", out / "results.md", out / "runs.csv"]
    for p, text in zip(paths, [buf.getvalue(), md, runs_buf.getvalue()]):
        atomic_write_bytes(p, [text.encode()])
    return paths


def _cell(v) -> str:
    return "" if v is None else f"{v:.6g}"
