"""matplotlib plumbing shared by the figure modules: a fixed-size figure, atomic
PNG + SVG saving, and colours. matplotlib (``barenet[all]``) is imported lazily, and
pyplot never: figures are plain ``matplotlib.figure.Figure`` objects, so drawing
them neither changes the user's backend nor keeps global state."""

from __future__ import annotations

import os
from pathlib import Path

DPI = 100


def _mpl():
    try:
        import matplotlib
        import matplotlib.figure
        import matplotlib.ticker
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plots need matplotlib: pip install matplotlib (or barenet[all])"
        ) from None
    return matplotlib


def _integer_ticks():
    return _mpl().ticker.MaxNLocator(integer=True)


def _cmap(name: str):
    return _mpl().colormaps[name]


def _figure(size: tuple[float, float], ncols: int = 1, nrows: int = 1, **kw):
    """A ``size``-inch figure at :data:`DPI` with an ``(nrows, ncols)`` array of axes."""
    fig = _mpl().figure.Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _save(fig, path: str | os.PathLike) -> Path:
    """Write ``path`` as PNG and its ``.svg`` sibling, each atomically; returns the PNG."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_suffix(".svg")):
        tmp = p.with_name(f".{p.stem}.tmp{p.suffix}")
        fig.savefig(tmp, dpi=DPI)
        os.replace(tmp, p)
    return path


def _colors(n: int):
    cmap = _cmap("tab10" if n <= 10 else "viridis")
    return [cmap(i if n <= 10 else i / max(n - 1, 1)) for i in range(n)]
