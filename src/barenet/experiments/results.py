"""The results tables of a sweep, written from its table (:mod:`.table`):
``results.csv`` and ``results.md`` per grid point (mean ± std over seeds) with the
report's numbers beside them, and ``runs.csv`` per run with its error."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..io import atomic_write_bytes
from .grid import format_value
from .reported import reported_lines
from .table import (
    COLUMNS,
    RunRecord,
    Sweep,
    by_point,
    find_sweeps,
    grad_norm_series,
    load_sweep,
    run_values,
    summarize,
)

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
    "runs_cell",
]


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
        vals = run.values
        last = run.error.strip().splitlines()[-1] if run.error else ""
        w.writerow(
            [run.name, run.point, run.seed, run.status]
            + [_cell(vals.get(k)) for k, _, _ in COLUMNS]
            + [last]
        )
    md = f"## {sweep.title}\n\n" + markdown_table(rows)
    reported = reported_lines(sweep)
    if reported:
        md += "\nThe report and here:\n\n" + "".join(f"- {line}\n" for line in reported)
    paths = [out / "results.csv", out / "results.md", out / "runs.csv"]
    for p, text in zip(paths, [buf.getvalue(), md, runs_buf.getvalue()]):
        atomic_write_bytes(p, [text.encode()])
    return paths


def _cell(v) -> str:
    return "" if v is None else f"{v:.6g}"
