"""Image-like figures: confusion matrix, image grids, convolution filters."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._mpl import _figure, _save

__all__ = ["plot_confusion", "plot_images", "plot_filters"]


def plot_confusion(
    cm: np.ndarray,
    class_names: list[str],
    path: str | os.PathLike,
    title: str = "",
    size: tuple[float, float] = (7.0, 6.0),
) -> Path:
    """Confusion matrix ``cm: (K, K)`` (rows true, columns predicted), counts in cells."""
    fig, axes = _figure(size)
    ax = axes[0][0]
    cm = np.asarray(cm)
    im = ax.imshow(cm, cmap="Blues")
    k = len(cm)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    thresh = cm.max() / 2 if cm.size else 0
    for i, j in np.ndindex(cm.shape):
        ax.text(
            j,
            i,
            str(cm[i, j]),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if cm[i, j] > thresh else "black",
        )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(im, ax=ax, shrink=0.8, label="images")
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_images(
    images: np.ndarray,
    captions: list[str],
    path: str | os.PathLike,
    title: str = "",
    cols: int = 6,
    size: tuple[float, float] | None = None,
) -> Path:
    """A grid of images ``(N, C, H, W)`` in [0, 1] (first channel) with a caption each;
    ``size`` defaults to 8 inches wide and as tall as the rows need."""
    n = max(1, len(images))
    rows = int(np.ceil(n / cols))
    size = size or (8.0, 8.0 / cols * 1.25 * rows + (0.4 if title else 0.1))
    fig, axes = _figure(size, ncols=cols, nrows=rows)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < len(images):
            ax.imshow(np.asarray(images[i])[0], cmap="gray", vmin=0, vmax=1)
            ax.set_title(captions[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_filters(weight: np.ndarray, path: str | os.PathLike, title: str = "", size=None) -> Path:
    """The filters of a convolution, ``weight: (out, in, kh, kw)``: the first input
    channel of each output filter, each scaled to its own range."""
    w = np.asarray(weight, float)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected (out, in, kh, kw), got {w.shape}")
    f = w[:, 0]
    lo, hi = f.min(axis=(1, 2), keepdims=True), f.max(axis=(1, 2), keepdims=True)
    f = (f - lo) / np.where(hi > lo, hi - lo, 1.0)
    caps = [f"#{i}" for i in range(len(f))]
    cols = min(8, max(1, len(f)))
    return plot_images(f[:, None], caps, path, title, cols=cols, size=size)
