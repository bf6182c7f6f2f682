"""The sweep figures, drawn from plain arrays and dicts (matplotlib, Agg backend).

Every function writes ``path`` as PNG and, next to it, the same figure as SVG,
at a fixed pixel size (``size`` in inches x ``DPI``), and returns the PNG path.
matplotlib is an optional dependency (``barenet[all]``) imported only here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import plotting
from ..plotting import DPI, integer_ticks, new_figure, save_figure
from ..train.plots import plot_confusion_matrix
from .imageplots import plot_filters, plot_images

_LABELS = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "train_acc": "training accuracy",
    "val_acc": "validation accuracy",
}

__all__ = [
    "DPI",
    "plot_curves",
    "plot_step_loss",
    "plot_final_vs_setting",
    "plot_fit",
    "plot_confusion_matrix",
    "plot_images",
    "plot_filters",
    "plot_grad_flow",
]


def _band(ax, x, runs: list[np.ndarray], color, label: str) -> None:
    """Mean line over ``runs`` (equal-length prefixes) with a min-max shaded band."""
    n = min(len(r) for r in runs)
    if n == 0:
        return
    arr = np.array([r[:n] for r in runs], dtype=float)
    mean = np.nanmean(arr, axis=0)
    ax.plot(x[:n], mean, color=color, label=label, lw=1.6)
    if len(runs) > 1:
        ax.fill_between(x[:n], np.nanmin(arr, 0), np.nanmax(arr, 0), color=color, alpha=0.2, lw=0)


def plot_curves(
    series: dict[str, list[list[dict]]],
    path: str | os.PathLike,
    metrics: tuple[str, ...] = ("train_loss", "val_loss", "val_acc"),
    title: str = "",
    size: tuple[float, float] = (12.0, 4.0),
) -> Path:
    """Per-epoch curves: one axis per metric, one colour per setting.

    ``series``: setting label -> list (one per seed) of History epoch dicts
    (``{"epoch", "train_loss", "val_loss", "val_acc", ...}``). The line is the mean
    over seeds, the band spans min to max. Metrics no run has are left out.
    """
    present = [
        m
        for m in metrics
        if any(e.get(m) is not None for h in series.values() for run in h for e in run)
    ]
    present = present or list(metrics[:1])
    fig, axes = new_figure(size, ncols=len(present))
    colors = plotting.colors(len(series))
    for ax, metric in zip(axes[0], present):
        for color, (label, runs) in zip(colors, series.items()):
            ys = [
                np.array([np.nan if e.get(metric) is None else e[metric] for e in r], float)
                for r in runs
                if r
            ]
            if ys:
                _band(ax, np.arange(1, max(map(len, ys)) + 1), ys, color, label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(integer_ticks())
        ax.set_ylabel(_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
        if metric.endswith("loss") and _spans_decades(ax):
            ax.set_yscale("log")
    axes[0][-1].legend(fontsize=8, loc="best", title_fontsize=8)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, svg=True)


def _spans_decades(ax) -> bool:
    ys = np.concatenate([ln.get_ydata() for ln in ax.get_lines()] or [np.ones(1)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    return ys.size > 0 and ys.max() / ys.min() > 30


def plot_step_loss(
    series: dict[str, list[np.ndarray]],
    path: str | os.PathLike,
    batch_sizes: dict[str, int],
    title: str = "",
    size: tuple[float, float] = (8.0, 4.5),
) -> Path:
    """Training loss per step against images seen (in hundreds), smoothed, mean over seeds.

    ``series``: label -> per-seed arrays of per-step losses; ``batch_sizes``: label -> batch size.
    """
    fig, axes = new_figure(size)
    ax = axes[0][0]
    for color, (label, runs) in zip(plotting.colors(len(series)), series.items()):
        runs = [np.asarray(r, float) for r in runs if len(r)]
        if not runs:
            continue
        n = min(map(len, runs))
        k = max(1, n // 50)
        smooth = [np.convolve(r[:n], np.ones(k) / k, mode="valid") for r in runs]
        x = (np.arange(len(smooth[0])) + k) * batch_sizes.get(label, 1) / 100.0
        _band(ax, x, smooth, color, label)
    ax.set_xlabel("training images seen (x100)")
    ax.set_ylabel("training loss (per step, smoothed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title)
    return save_figure(fig, path, svg=True)


def plot_final_vs_setting(
    labels: list[str],
    means: list[float],
    stds: list[float],
    path: str | os.PathLike,
    xlabel: str,
    ylabel: str,
    values: list | None = None,
    log_x: bool | None = None,
    size: tuple[float, float] = (7.0, 4.5),
    groups: list[str] | None = None,
) -> Path:
    """A final metric against the varied setting, with ±std error bars.

    Numeric ``values`` give a line (log x axis when ``log_x`` or when they span more
    than two decades, as learning rates do), one line per distinct ``groups`` entry
    when given (a second varied setting); otherwise one bar per label.
    """
    fig, axes = new_figure(size)
    ax = axes[0][0]
    m, s = np.asarray(means, float), np.asarray(stds, float)
    numeric = values is not None and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )
    if numeric:
        v = np.asarray(values, float)
        order = np.argsort(v)
        if log_x is None:
            log_x = bool(np.all(v > 0) and v.max() / v.min() > 100)
        g = np.asarray(groups if groups is not None else [""] * len(v), dtype=object)[order]
        names = list(dict.fromkeys(g))
        for color, name in zip(plotting.colors(len(names)), names):
            sel = order[g == name]
            ax.errorbar(
                v[sel],
                m[sel],
                yerr=s[sel],
                marker="o",
                capsize=4,
                lw=1.6,
                color=color,
                label=name or None,
            )
        if groups is not None:
            ax.legend(fontsize=8, loc="best")
        if log_x:
            ax.set_xscale("log")
    else:
        x = np.arange(len(labels))
        ax.bar(x, m, yerr=s, capsize=4, color=plotting.colors(len(labels)), alpha=0.85)
        ax.set_xticks(
            x,
            labels,
            rotation=20 if max(map(len, labels), default=0) > 10 else 0,
            ha="right" if max(map(len, labels), default=0) > 10 else "center",
            fontsize=8,
        )
        finite = m[np.isfinite(m)]
        if finite.size and finite.min() > 0:
            spread = max(float(np.ptp(finite)), float(np.nanmax(s)), 0.02 * float(finite.max()))
            ax.set_ylim(bottom=max(0.0, float(finite.min()) - 3 * spread))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path, svg=True)


def plot_fit(
    x_data: np.ndarray,
    y_data: np.ndarray,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike,
    title: str = "",
    size: tuple[float, float] = (7.0, 4.5),
) -> Path:
    """A regression fit: the data as points and each model's prediction as a line."""
    fig, axes = new_figure(size)
    ax = axes[0][0]
    ax.scatter(np.ravel(x_data), np.ravel(y_data), s=6, color="0.6", label="data", zorder=1)
    for color, (label, (xs, ys)) in zip(plotting.colors(len(curves)), curves.items()):
        ax.plot(np.ravel(xs), np.ravel(ys), color=color, lw=2, label=label, zorder=2)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title)
    return save_figure(fig, path, svg=True)


def plot_grad_flow(
    series: dict[str, tuple[list[str], np.ndarray]],
    path: str | os.PathLike,
    title: str = "",
    size: tuple[float, float] | None = None,
) -> Path:
    """Layer-wise weight-gradient norms, one column per setting, shared log y axis.

    ``series``: label -> (layer names from input to output, ``norms: (epochs, layers)``).
    Top row: norm against layer depth, one line per epoch (light = early). Bottom
    row: each layer's norm over training (dark = near the input).
    """
    k = len(series)
    size = size or (4.2 * k + 1.0, 7.0)
    fig, axes = new_figure(size, ncols=k, nrows=2, sharey="row")
    cmap = plotting.cmap("viridis")
    for col, (label, (names, norms)) in enumerate(series.items()):
        norms = np.atleast_2d(np.asarray(norms, float))
        e, layers = norms.shape
        top, bottom = axes[0][col], axes[1][col]
        for i in range(e):
            top.plot(
                np.arange(1, layers + 1),
                norms[i],
                marker="o",
                ms=3,
                color=cmap(0.85 - 0.75 * i / max(e - 1, 1)),
                label=f"epoch {i + 1}",
            )
        top.set_yscale("log")
        top.set_title(label, fontsize=10)
        top.set_xlabel("layer (1 = input side)")
        top.set_xticks(range(1, layers + 1))
        for j in range(layers):
            bottom.plot(
                np.arange(1, e + 1),
                norms[:, j],
                color=cmap(j / max(layers - 1, 1)),
                label=names[j] if j in (0, layers - 1) else None,
            )
        bottom.set_yscale("log")
        bottom.set_xlabel("epoch")
        bottom.xaxis.set_major_locator(integer_ticks())
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
        if e <= 8:
            top.legend(fontsize=7, loc="best")
        bottom.legend(fontsize=7, loc="best", title="layer", title_fontsize=7)
    axes[0][0].set_ylabel("weight-gradient norm")
    axes[1][0].set_ylabel("weight-gradient norm")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, svg=True)
