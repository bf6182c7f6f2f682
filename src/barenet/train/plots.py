"""PNG figures of a run: learning curves, confusion matrix, a regression fit.

Drawn with matplotlib's object API on an Agg canvas (no display, no pyplot global
state) and written atomically. matplotlib is part of the ``[all]`` extra.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..plotting import integer_ticks, new_figure, save_figure

__all__ = ["plot_confusion_matrix", "plot_learning_curves", "plot_regression"]


def plot_learning_curves(history, path: str | os.PathLike, title: str = "") -> Path:
    """Loss (train and validation) per epoch, with the per-step training loss
    faintly behind it, and accuracy in a second panel when there is one."""
    recs = history.epochs
    ep = np.array([r["epoch"] for r in recs], dtype=float)
    has_acc = any(r.get("train_acc") is not None for r in recs)
    fig, grid = new_figure((11 if has_acc else 6, 4), 2 if has_acc else 1)
    axes = list(grid[0])
    ax = axes[0]
    steps = np.asarray(history.steps, dtype=float)
    if len(steps) and len(ep):
        first = ep[0] - 1
        xs = first + np.arange(1, len(steps) + 1) * (ep[-1] - first) / len(steps)
        ax.plot(xs, steps, color="tab:blue", alpha=0.15, lw=0.6, label="train (per step)")
        k = max(1, len(steps) // 100)  # a running mean keeps the trend readable
        if k > 1:
            smooth = np.convolve(steps, np.ones(k) / k, mode="valid")
            ax.plot(
                xs[k - 1 :],
                smooth,
                color="tab:blue",
                alpha=0.6,
                lw=1,
                label=f"train (mean of {k} steps)",
            )

    def col(key):
        return np.array([np.nan if r.get(key) is None else r[key] for r in recs], dtype=float)

    ax.plot(ep, col("train_loss"), "o-", color="tab:blue", ms=3, label="train")
    if np.isfinite(col("val_loss")).any():
        ax.plot(ep, col("val_loss"), "s-", color="tab:orange", ms=3, label="validation")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(integer_ticks())
    ax.set_ylabel("loss")
    if len(steps) and np.nanmin(steps) > 0 and np.nanmax(steps) / np.nanmin(steps) > 50:
        ax.set_yscale("log")
    ax.set_title(f"{title} loss".strip())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if has_acc:
        ax = axes[1]
        ax.plot(ep, 100 * col("train_acc"), "o-", color="tab:blue", ms=3, label="train")
        if np.isfinite(col("val_acc")).any():
            ax.plot(ep, 100 * col("val_acc"), "s-", color="tab:orange", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(integer_ticks())
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{title} accuracy".strip())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: list[str] | None,
    path: str | os.PathLike,
    title: str = "",
    svg: bool = False,
) -> Path:
    """Row-normalised confusion matrix ``cm: (K, K)`` (truth on rows) with the counts
    written in; PNG, plus SVG when ``svg``."""
    cm = np.asarray(cm)
    k = len(cm)
    names = class_names or [str(i) for i in range(k)]
    side = max(4.5, 0.55 * k + 2)
    fig, ((ax,),) = new_figure((side + 1, side))
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class")
    if k <= 20:
        for i, j in np.ndindex(k, k):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if frac[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} accuracy {100 * acc:.2f} %".strip())
    return save_figure(fig, path, svg=svg)


def plot_regression(
    x: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, path: str | os.PathLike, title: str = ""
) -> Path:
    """Targets as dots and the model's fitted curve, for 1-D inputs ``x: (N, 1)``."""
    x = np.asarray(x, dtype=float).ravel()
    order = np.argsort(x)
    fig, ((ax,),) = new_figure((6, 4))
    ax.plot(
        x[order],
        np.asarray(y_true, dtype=float).ravel()[order],
        ".",
        ms=3,
        color="tab:gray",
        label="target",
    )
    ax.plot(
        x[order],
        np.asarray(y_pred, dtype=float).ravel()[order],
        "-",
        color="tab:red",
        lw=2,
        label="model",
    )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title or "fit")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return save_figure(fig, path)
