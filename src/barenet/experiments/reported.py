"""The numbers a study's source report printed, beside the ones measured here.

A study that reproduces a report carries its numbers in a ``[reported]`` table::

    [reported]
    source = "the 21-layer CNN's report: He init, AdaGrad lr 0.01, batch 500, 8 epochs"
    data = "mnist"                      # what the report ran on
    column = "test_acc"                 # the results column its numbers compare with
    note = "He trains in 2 epochs ..."  # what it said without a number (optional)

    [reported.points]                   # grid point -> the report's value (fractions for %)
    "lr=0.01" = 0.9930

    [reported.by_epoch."lr=0.01"]       # a per-epoch series (optional)
    reported = "test accuracy"          # what the report's series is
    here = "val_acc"                    # the history key it is set beside
    values = [0.132, 0.976]

:func:`reported_lines` turns it into sentences such as
``lr=0.01: the report: 99.30 %; here: 91.24 ± 0.15 % (test accuracy, 3 seeds)``.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import is_finite_number
from .metrics import METRICS
from .table import Sweep, summarize

__all__ = ["check_reported", "reported_lines"]

_HISTORY_KEYS = {
    "val_acc": ("validation accuracy", True),
    "train_acc": ("training accuracy", True),
    "train_loss": ("training loss", False),
    "val_loss": ("validation loss", False),
}
_FRACTIONS = {k for k, spec in METRICS.items() if spec.pct}


def check_reported(rep, where: str = "study") -> dict:
    """``rep`` if it has the shape described above; else ``ValueError`` naming ``where``."""
    if not isinstance(rep, dict):
        raise ValueError(f"{where}: [reported] must be a table")
    unknown = set(rep) - {"source", "data", "column", "note", "points", "by_epoch"}
    if unknown:
        raise ValueError(f"{where}: unknown keys in [reported]: {sorted(unknown)}")
    points = rep.get("points", {})
    if points:
        if rep.get("column") not in METRICS:
            raise ValueError(
                f"{where}: [reported] column must be one of {sorted(METRICS)}, "
                f"got {rep.get('column')!r}"
            )
        bad = {k: v for k, v in points.items() if not is_finite_number(v)}
        if bad:
            raise ValueError(f"{where}: [reported.points] values must be numbers: {bad}")
    for point, series in rep.get("by_epoch", {}).items():
        ok = (
            isinstance(series, dict)
            and series.get("here") in _HISTORY_KEYS
            and isinstance(series.get("values"), list)
            and all(is_finite_number(v) for v in series["values"])
        )
        if not ok:
            raise ValueError(
                f"{where}: [reported.by_epoch.{point!r}] needs 'values' (numbers) and 'here' "
                f"(one of {sorted(_HISTORY_KEYS)})"
            )
    return rep


def _fmt(v: float, pct: bool, digits: int = 2) -> str:
    return f"{100 * v:.{digits}f} %" if pct else f"{v:.3g}"


def _series(values, pct: bool) -> str:
    return ", ".join(f"{100 * v:.1f}" if pct else f"{v:.3g}" for v in values) + (
        " %" if pct else ""
    )


def reported_lines(sweep: Sweep) -> list[str]:
    """Plain-text lines comparing the report's numbers with this sweep's; ``[]`` when the
    study has no ``[reported]`` table."""
    rep = sweep.manifest.get("reported")
    if not rep:
        return []
    rep = check_reported(rep, f"study {sweep.name}")
    data_here = sorted({str(r.settings.get("data")) for r in sweep.runs if r.settings.get("data")})
    lines = []
    head = f"The report ({rep['source']})" if rep.get("source") else "The report"
    if rep.get("data"):
        head += f" ran on {rep['data']}; these runs on {', '.join(data_here) or '?'}"
        if data_here and data_here != [rep["data"]]:
            head += ", so expect different numbers"
    lines.append(head + ".")
    if rep.get("note"):
        lines.append(f"The report: {rep['note']}")
    rows = {r["point"]: r for r in summarize(sweep)}
    col = rep.get("column")
    for point, value in rep.get("points", {}).items():
        pct = col in _FRACTIONS
        row = rows.get(point)
        if row is None or row[f"{col}_mean"] is None:
            here = "no finished run" if row is not None else "not in this sweep"
        else:
            mean, std, n = row[f"{col}_mean"], row[f"{col}_std"], row[f"{col}_n"]
            if pct:
                here = f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if n > 1 else "") + " %"
            else:
                here = f"{mean:.3g}" + (f" ± {std:.2g}" if n > 1 else "")
            here += f" ({METRICS[col].name}, {n} seed{'s' * (n != 1)})"
        lines.append(f"{point}: the report: {_fmt(value, pct)}; here: {here}")
    for point, series in rep.get("by_epoch", {}).items():
        name, pct = _HISTORY_KEYS[series["here"]]
        runs = [r for r in sweep.runs if r.point == point and r.status == "done" and r.epochs]
        what = series.get("reported", name)
        line = f"{point}, {what} by epoch: the report: {_series(series['values'], pct)}"
        curves = [[e.get(series["here"]) for e in r.epochs] for r in runs]
        curves = [c for c in curves if c and all(is_finite_number(v) for v in c)]
        if curves:
            n_ep = min(len(c) for c in curves)
            mean = np.mean([c[:n_ep] for c in curves], axis=0)
            line += (
                f"; here ({name}, mean of {len(curves)} seed{'s' * (len(curves) != 1)}): "
                f"{_series(mean, pct)}"
            )
        else:
            line += "; here: no finished run"
        lines.append(line)
    return lines
