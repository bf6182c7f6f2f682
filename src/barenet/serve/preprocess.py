"""From a drawing to the model's input, the way the training images were made.

MNIST's digits were scaled so that their longer side fills 20 of the 28 pixels and
then moved so that their centre of mass sits at the centre; scikit-learn's 8x8
digits fill the whole frame (height 8, centre of mass at the centre); Fashion-MNIST's
items fill the frame too. A drawing goes the same way:

1. ink: 0 = background, 1 = full ink, whichever way round the picture was (dark ink
   on white paper or light ink on black is detected from the border, the paper's
   tint is subtracted);
2. the ink's bounding box is cut out and area-resampled so that its longer side
   takes ``fill`` of the frame (aspect ratio kept), then stretched to a peak of 1;
3. it is placed so that its centre of mass lands on the frame's centre (moved back
   inside where that would push ink out);
4. inverted (1 - x) when the model was trained on inverted images.

Everything is NumPy; ``prepare`` is what the server runs for every request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["InputSpec", "Prepared", "prepare", "to_ink", "centre", "area_resize"]

MIN_SIDE, MAX_SIDE = 4, 1024
INK_THRESHOLD = 0.1  # ink below this (after the paper's tint is removed) counts as paper
# How much of the frame a sample's longer side takes, per training set.
FILL = {"mnist": 20 / 28, "kaggle": 20 / 28, "digits": 1.0, "fashion-mnist": 1.0}


@dataclass(frozen=True)
class InputSpec:
    """The model's input as training made it: (channels, height, width), whether the
    images were inverted, and the fraction of the frame the ink's longer side fills."""

    channels: int
    height: int
    width: int
    invert: bool = False
    fill: float = 20 / 28

    @classmethod
    def from_metadata(cls, meta: dict) -> InputSpec:
        """Read a model file's metadata (as ``run_training`` writes it)."""
        shape = meta.get("input_shape")
        if not shape or len(shape) != 3:
            raise ValueError(
                f"serve: the model must take images (C, H, W); its file records input_shape "
                f"{shape!r}"
            )
        c, h, w = (int(s) for s in shape)
        if c not in (1, 3):
            raise ValueError(f"serve: a drawing gives 1 (or 3) channels, the model takes {c}")
        invert = bool((meta.get("normalisation") or {}).get("invert"))
        dataset = str(meta.get("dataset") or "").lower()
        fill = FILL.get(dataset, 20 / 28 if min(h, w) >= 16 else 1.0)
        return cls(c, h, w, invert, fill)


@dataclass(frozen=True)
class Prepared:
    """``x``: (1, C, H, W) float32, the model's input; ``view``: (H, W) in [0, 1], the
    same image as the model sees it; ``empty``: no ink was found; ``polarity``:
    "dark-ink" or "light-ink", as detected or given."""

    x: np.ndarray
    view: np.ndarray
    empty: bool
    polarity: str


def check_pixels(pixels) -> np.ndarray:
    """The pixels as a float64 (H, W) array, or a ValueError saying what is wrong."""
    try:
        a = np.asarray(pixels)
    except (TypeError, ValueError, OverflowError):
        a = None  # ragged rows, or a mixture NumPy cannot hold in one array
    if a is None or a.dtype.kind not in "iuf":  # bools, strings, None, huge ints: no
        raise ValueError(
            "pixels must be a list of rows of numbers (greyscale, 0 = black, 1 = white)"
        )
    a = a.astype(np.float64)
    if a.ndim != 2:
        raise ValueError(f"pixels must be a 2-D list of rows, got {a.ndim} dimension(s)")
    h, w = a.shape
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ValueError(
            f"pixels must be between {MIN_SIDE}x{MIN_SIDE} and {MAX_SIDE}x{MAX_SIDE}, got {h}x{w}"
        )
    if not np.isfinite(a).all():
        raise ValueError("pixels contain NaN or infinity")
    if a.min() < 0 or a.max() > 1:
        raise ValueError(f"pixels must lie in [0, 1], got values in [{a.min():g}, {a.max():g}]")
    return a


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def to_ink(pixels: np.ndarray, polarity: str = "auto") -> tuple[np.ndarray, str]:
    """(H, W) greyscale (0 = black, 1 = white) → ink in [0, 1] with 0 = background.

    polarity: "dark-ink" (drawing on white paper), "light-ink" (as MNIST stores
    digits) or "auto" (dark ink when the border is mostly light).
    """
    if polarity not in ("auto", "dark-ink", "light-ink"):
        raise ValueError(f"polarity must be auto, dark-ink or light-ink, got {polarity!r}")
    if polarity == "auto":
        polarity = "dark-ink" if np.median(_border(pixels)) > 0.5 else "light-ink"
    ink = 1.0 - pixels if polarity == "dark-ink" else pixels
    paper = float(np.median(_border(ink)))
    if paper > 0:  # tinted paper (a photo): its level becomes 0
        ink = np.clip((ink - paper) / max(1.0 - paper, 1e-6), 0.0, 1.0)
    return ink, polarity


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): row i averages input cells over [i, i+1)·n_in/n_out (overlaps
    weighted by length), the anti-aliased resize that image libraries call "area"."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def area_resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize (h, w) to (height, width) by area averaging: R_h · img · R_wᵀ."""
    return _area_matrix(img.shape[0], height) @ img @ _area_matrix(img.shape[1], width).T


def centre(ink: np.ndarray, height: int, width: int, fill: float) -> np.ndarray:
    """Cut out the ink, scale its longer side to ``fill`` of the frame, stretch its
    peak to 1, and place its centre of mass at the frame's centre. (H, W) → (height,
    width); an image with no ink gives zeros."""
    rows = np.flatnonzero(ink.max(axis=1) > INK_THRESHOLD)
    cols = np.flatnonzero(ink.max(axis=0) > INK_THRESHOLD)
    out = np.zeros((height, width))
    if rows.size == 0:
        return out
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = fill * min(height, width) / max(box.shape)
    scale = min(scale, height / box.shape[0], width / box.shape[1])
    bh = int(np.clip(round(box.shape[0] * scale), 1, height))
    bw = int(np.clip(round(box.shape[1] * scale), 1, width))
    small = area_resize(box, bh, bw)
    small /= max(small.max(), 1e-12)
    mass = small.sum()
    cy = (np.arange(bh) @ small.sum(axis=1)) / mass
    cx = (np.arange(bw) @ small.sum(axis=0)) / mass
    top = int(np.clip(round((height - 1) / 2 - cy), 0, height - bh))
    left = int(np.clip(round((width - 1) / 2 - cx), 0, width - bw))
    out[top : top + bh, left : left + bw] = small
    return out


def prepare(pixels, spec: InputSpec, polarity: str = "auto") -> Prepared:
    """A drawing (H, W) greyscale in [0, 1] (0 = black) → the model's input."""
    a = check_pixels(pixels)
    ink, polarity = to_ink(a, polarity)
    img = centre(ink, spec.height, spec.width, spec.fill)
    empty = not img.any()
    view = 1.0 - img if spec.invert else img
    x = np.broadcast_to(view, (1, spec.channels, spec.height, spec.width))
    return Prepared(x.astype(np.float32), view.astype(np.float32), empty, polarity)
