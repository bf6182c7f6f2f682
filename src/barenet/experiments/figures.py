"""All figures of one sweep, chosen from what its runs recorded.

Always: learning curves per setting, and the study's metric against the varied
setting. When the runs have them: per-step loss (``plots = ["steps"]``), the
regression fit, the confusion matrix and misclassified test images of the best
run, the first convolution's filters, and the layer-wise gradient flow.
Figures go to ``<sweep>/figures/<kind>.png`` (and ``.svg``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ..core.checks import is_number
from ..io import load_file
from ..layers import Conv2d
from ..train import confusion_matrix, load_data, predict
from . import plots
from .grid import format_value
from .metrics import METRICS, metric_of
from .table import RunRecord, Sweep, by_point, grad_norm_series, summarize

__all__ = ["make_figures"]

_AXIS_NAMES = {
    "lr": "learning rate",
    "batch_size": "batch size",
    "hidden": "hidden layer widths",
    "convs": "convolution layers",
    "init": "initialisation",
    "invert": "inverted input (ink = 0)",
    "dropout": "dropout probability",
}


def _best_run(sweep: Sweep) -> RunRecord | None:
    done = [r for r in sweep.runs if r.status == "done"]
    if not done:
        return None
    key, higher = ("val_acc", True) if sweep.task == "classification" else ("test_mse", False)

    def score(r):
        v = r.values[key]
        return -np.inf if v is None else (v if higher else -v)

    return max(done, key=score)


def _load(run: RunRecord):
    return load_file(run.path / "model.safetensors")


def _model_figures(sweep: Sweep, fig_dir: Path, made: list[Path]) -> None:
    """The figures of the best run's model: its file and its test data are read here,
    the one thing the table does not hold."""
    best = _best_run(sweep)
    if best is None or not (best.path / "model.safetensors").is_file():
        return
    model, meta = _load(best)
    d = load_data(best.settings)
    label = f"best run: {best.point}, seed {best.seed}"
    if sweep.task == "regression":
        curves = {}
        lo, hi = float(d.x_train.min()), float(d.x_train.max())
        xs = np.linspace(lo, hi, 300, dtype=np.float32)[:, None]
        for point, runs in by_point(sweep).items():
            if (runs[0].path / "model.safetensors").is_file():
                curves[point] = (xs, predict(_load(runs[0])[0], xs))
        if d.x_train.shape[1:] == (1,) and curves:
            n = min(len(d.x_train), 400)
            made.append(
                plots.plot_fit(
                    d.x_train[:n],
                    d.y_train[:n],
                    curves,
                    fig_dir / "fit",
                    title="fitted curves (seed of each setting's first run)",
                )
            )
        return
    pred = predict(model, d.x_test).argmax(axis=1)
    cm = confusion_matrix(d.y_test, pred, len(d.class_names))
    made.append(
        plots.plot_confusion_matrix(cm, d.class_names, fig_dir / "confusion", label, svg=True)
    )
    wrong = np.flatnonzero(pred != d.y_test)[:12]
    if len(wrong) and len(d.input_shape) == 3:
        caps = [f"true {d.class_names[d.y_test[i]]}\npred {d.class_names[pred[i]]}" for i in wrong]
        made.append(
            plots.plot_images(
                d.x_test[wrong],
                caps,
                fig_dir / "misclassified",
                title=f"misclassified test images ({label})",
            )
        )
    conv = next((m for m in model.modules() if isinstance(m, Conv2d)), None)
    if conv is not None:
        made.append(
            plots.plot_filters(
                conv.weight.data,
                fig_dir / "filters",
                title=f"first convolution's filters ({label})",
            )
        )


def make_figures(sweep: Sweep, out_dir: str | os.PathLike | None = None) -> list[Path]:
    """Draw every figure that applies to ``sweep``; returns the PNG paths.

    A figure that cannot be drawn (missing model file, data not available) is
    skipped with a warning on stderr, never an exception.
    """
    fig_dir = Path(out_dir) if out_dir is not None else sweep.path / "figures"
    made: list[Path] = []
    groups = by_point(sweep)
    if not groups:
        return made
    title = sweep.title
    regression = sweep.task == "regression"
    curve_metrics = (
        ("train_loss", "val_loss") if regression else ("train_loss", "val_loss", "val_acc")
    )
    series = {p: [r.epochs for r in runs] for p, runs in groups.items()}
    made.append(plots.plot_curves(series, fig_dir / "curves", curve_metrics, title=title))
    metric = metric_of(sweep)
    if METRICS[metric].in_table:
        rows = [r for r in summarize(sweep) if r[f"{metric}_mean"] is not None]
        if len(sweep.varied_keys) == 1:  # a bare value is label enough
            for r in rows:
                r["point"] = format_value(r["varied"].get(sweep.varied_keys[0]))
        spec = METRICS[metric]
        keys = sweep.varied_keys
        values = [r["varied"].get(keys[0]) for r in rows] if len(keys) == 1 else None
        x_key, lines = keys[0] if keys else "setting", None
        if len(keys) == 2:  # a numeric setting on the x axis, one line per value of the other
            numeric = [k for k in keys if all(is_number(r["varied"].get(k)) for r in rows)]
            if numeric:
                x_key = numeric[0]
                other = keys[1] if x_key == keys[0] else keys[0]
                values = [r["varied"].get(x_key) for r in rows]
                short = other.split(".")[-1]
                lines = [f"{short}={format_value(r['varied'].get(other))}" for r in rows]
        scale = 100.0 if spec.pct else 1.0
        made.append(
            plots.plot_final_vs_setting(
                [r["point"] for r in rows],
                [scale * r[f"{metric}_mean"] for r in rows],
                [scale * r[f"{metric}_std"] for r in rows],
                fig_dir / "final",
                xlabel=_AXIS_NAMES.get(x_key.split(".")[-1], x_key)
                if values is not None
                else "setting",
                ylabel=spec.axis,
                values=values,
                groups=lines,
            )
        )
    if "steps" in sweep.manifest.get("plots", []):
        steps = {p: [r.steps for r in runs if r.steps] for p, runs in groups.items()}
        bs = {p: int(runs[0].settings.get("batch_size", 64)) for p, runs in groups.items()}
        if any(steps.values()):
            made.append(plots.plot_step_loss(steps, fig_dir / "step_loss", bs, title=title))
    gn = grad_norm_series(sweep)
    if gn:
        made.append(
            plots.plot_grad_flow(
                gn,
                fig_dir / "grad_flow",
                title="weight-gradient norm (mean over an epoch's steps); top: one line per "
                "epoch, light = early; bottom: one line per layer, dark = input side",
            )
        )
    try:
        _model_figures(sweep, fig_dir, made)
    except (OSError, ValueError, ImportError, KeyError) as exc:
        print(f"warning: {sweep.name}: model figures skipped ({exc})", file=sys.stderr)
    return made
