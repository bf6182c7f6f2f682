"""Image-like figures: image grids and convolution filters (the confusion matrix is
:func:`barenet.train.plots.plot_confusion_matrix`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..plotting import new_figure, save_figure

__all__ = ["plot_images", "plot_filters"]


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
    fig, axes = new_figure(size, ncols=cols, nrows=rows)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < len(images):
            ax.imshow(np.asarray(images[i])[0], cmap="gray", vmin=0, vmax=1)
            ax.set_title(captions[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, svg=True)


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
