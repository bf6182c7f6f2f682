"""matplotlib plumbing shared by every figure barenet draws: a fixed-size figure,
atomic PNG (and optional SVG) saving, and colours.

matplotlib (``barenet[all]``) is imported lazily, and pyplot never: figures are
plain ``matplotlib.figure.Figure`` objects on an Agg canvas, so drawing them
neither changes the user's backend nor keeps global state.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from .io import atomic_write_bytes

DPI = 100


def mpl():
    """The matplotlib module, or a clear ImportError naming the extra to install."""
    try:  # optional engine: matplotlib, barenet[all]
        import matplotlib
        import matplotlib.figure
        import matplotlib.ticker
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plots need matplotlib: pip install 'barenet[all]' (or pip install matplotlib)"
        ) from None
    return matplotlib


def integer_ticks():
    return mpl().ticker.MaxNLocator(integer=True)


def cmap(name: str):
    return mpl().colormaps[name]


def new_figure(size: tuple[float, float], ncols: int = 1, nrows: int = 1, **kw):
    """A ``size``-inch figure at :data:`DPI` with an ``(nrows, ncols)`` array of axes."""
    fig = mpl().figure.Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save_figure(fig, path: str | os.PathLike, svg: bool = False) -> Path:
    """Write ``path`` as PNG (and its ``.svg`` sibling when asked), each atomically;
    returns the PNG's path."""
    path = Path(path).with_suffix(".png")
    for p, fmt in [(path, "png")] + ([(path.with_suffix(".svg"), "svg")] if svg else []):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=DPI)
        atomic_write_bytes(p, buf.getvalue())
    return path


def colors(n: int):
    """n distinguishable colours: tab10 up to 10, viridis beyond."""
    cm = cmap("tab10" if n <= 10 else "viridis")
    return [cm(i if n <= 10 else i / max(n - 1, 1)) for i in range(n)]
