"""Batch transforms for ``x: (N, C, H, W)``, vectorised over the whole batch.

Every transform is a small class called as ``t(x, rng)``; ``rng`` is a
``numpy.random.Generator``, an int seed, or ``None`` (fresh entropy). The input
is never modified; a new array of the same shape and dtype is returned.

``parse_augment("flip,padcrop:2,erase")`` builds a :class:`Compose` from the
short spec the CLI takes; see :data:`AUGMENT_NAMES`.

Which augmentations fit which data: a horizontal flip (``flip``) keeps a shirt a
shirt, so it suits Fashion-MNIST and natural images, but it turns digits into
other shapes (a mirrored 2, 3, 7 is no digit) — never use it on MNIST, the
8x8 digits or the Kaggle digits. ``padcrop`` / ``shift``, ``erase`` and
``noise`` suit both. ``padcrop:p`` is the usual "pad with p zeros, then cut a
random H x W window" (torchvision's ``RandomCrop(H, padding=p)``); ``crop:k``
is different: it keeps a random k x k window and blanks the margins around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "Transform",
    "ScaleTo01",
    "Standardize",
    "Invert",
    "SaltPepper",
    "RandomShift",
    "RandomCropPad",
    "RandomPadCrop",
    "RandomHorizontalFlip",
    "RandomErasing",
    "Compose",
    "as_rng",
    "parse_augment",
    "AUGMENT_NAMES",
]

RngLike = np.random.Generator | int | None


def as_rng(rng: RngLike) -> np.random.Generator:
    """A Generator from a Generator (returned as is), an int seed or ``None``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng)}")


def _nchw(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a batch (N, C, H, W), got shape {x.shape}")
    return x


class Transform:
    """Base class: ``__call__(x, rng=None) -> x'`` of the same shape."""

    def __call__(self, x: np.ndarray, rng: RngLike = None) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not define __call__")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class ScaleTo01(Transform):
    """``x / max_value`` as float32 (uint8 pixels 0..255 -> [0, 1])."""

    def __init__(self, max_value: float = 255.0):
        if max_value <= 0:
            raise ValueError(f"ScaleTo01: max_value must be > 0, got {max_value}")
        self.max_value = float(max_value)

    def __call__(self, x, rng=None):
        return np.asarray(x, dtype=np.float32) / np.float32(self.max_value)


class Standardize(Transform):
    """``(x - mean) / std``; scalars, or one value per channel."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if np.any(self.std <= 0) or not np.all(np.isfinite(self.std)):
            raise ValueError(f"Standardize: std must be finite and > 0, got {std}")

    def _per_channel(self, v: np.ndarray, x: np.ndarray) -> np.ndarray:
        if v.ndim == 0:
            return v.astype(x.dtype)
        if v.shape != (x.shape[1],):
            raise ValueError(f"Standardize: {v.size} values for {x.shape[1]} channels")
        return v.astype(x.dtype)[None, :, None, None]

    def __call__(self, x, rng=None):
        x = _nchw("Standardize", x)
        if x.dtype.kind != "f":
            x = x.astype(np.float32)
        return (x - self._per_channel(self.mean, x)) / self._per_channel(self.std, x)

    def __repr__(self):
        return f"Standardize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Invert(Transform):
    """``max_value - x``: for [0, 1] data, ink becomes 1 and paper 0 (or back)."""

    def __init__(self, max_value: float = 1.0):
        self.max_value = float(max_value)

    def __call__(self, x, rng=None):
        x = np.asarray(x)
        return (np.asarray(self.max_value, dtype=x.dtype) - x).astype(x.dtype, copy=False)


class SaltPepper(Transform):
    """Each value independently becomes ``low`` (p/2) or ``high`` (p/2)."""

    def __init__(self, p: float = 0.05, low: float = 0.0, high: float = 1.0):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"SaltPepper: p must be in [0, 1], got {p}")
        self.p, self.low, self.high = float(p), float(low), float(high)

    def __call__(self, x, rng=None):
        x = np.asarray(x)
        u = as_rng(rng).random(x.shape)
        out = x.copy()
        out[u < self.p / 2] = self.low
        out[(u >= self.p / 2) & (u < self.p)] = self.high
        return out


def _gather(padded: np.ndarray, top: np.ndarray, left: np.ndarray, h: int, w: int):
    """Per-sample window ``padded[n, :, top[n]:top[n]+h, left[n]:left[n]+w]``."""
    n, c = padded.shape[:2]
    rows = top[:, None] + np.arange(h)  # (N, h)
    cols = left[:, None] + np.arange(w)  # (N, w)
    return padded[
        np.arange(n)[:, None, None, None],
        np.arange(c)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


class RandomShift(Transform):
    """Translate each sample by its own ``(dy, dx)``, uniform in ``-max_px..max_px``;
    pixels shifted in are 0. ``out[n, c, i, j] = x[n, c, i - dy, j - dx]``."""

    def __init__(self, max_px: int = 2):
        if int(max_px) != max_px or max_px < 0:
            raise ValueError(f"RandomShift: max_px must be a non-negative int, got {max_px}")
        self.max_px = int(max_px)

    def __call__(self, x, rng=None):
        x = _nchw("RandomShift", x)
        m = self.max_px
        n, _, h, w = x.shape
        d = as_rng(rng).integers(-m, m + 1, size=(2, n))
        if m == 0:
            return x.copy()
        padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)))
        return _gather(padded, m - d[0], m - d[1], h, w)


class RandomCropPad(Transform):
    """Cut a random ``crop x crop`` window out of each sample and paste it
    centred (at row/col offset ``(H - crop) // 2``, ``(W - crop) // 2``) on a
    zero canvas of the original size. So the content moves by up to
    ``(H - crop) / 2`` px and the margins outside the window are blanked."""

    def __init__(self, crop: int = 22):
        if int(crop) != crop or crop <= 0:
            raise ValueError(f"RandomCropPad: crop must be a positive int, got {crop}")
        self.crop = int(crop)

    def __call__(self, x, rng=None):
        x = _nchw("RandomCropPad", x)
        n, _, h, w = x.shape
        k = self.crop
        if k > h or k > w:
            raise ValueError(f"RandomCropPad: crop {k} larger than images of {h}x{w}")
        g = as_rng(rng)
        top = g.integers(0, h - k + 1, size=n)
        left = g.integers(0, w - k + 1, size=n)
        out = np.zeros_like(x)
        t, l0 = (h - k) // 2, (w - k) // 2
        out[:, :, t : t + k, l0 : l0 + k] = _gather(x, top, left, k, k)
        return out


class RandomPadCrop(Transform):
    """Zero-pad each side by ``padding`` px, then cut a random ``H x W`` window per
    sample (torchvision's ``RandomCrop((H, W), padding=padding)``):
    ``out[n, c, i, j] = padded[n, c, top[n] + i, left[n] + j]`` with ``top, left``
    uniform in ``0..2·padding``, so the content moves by up to ``padding`` px."""

    def __init__(self, padding: int = 4):
        if int(padding) != padding or padding < 0:
            raise ValueError(f"RandomPadCrop: padding must be a non-negative int, got {padding}")
        self.padding = int(padding)

    def __call__(self, x, rng=None):
        x = _nchw("RandomPadCrop", x)
        p = self.padding
        n, _, h, w = x.shape
        g = as_rng(rng)
        top = g.integers(0, 2 * p + 1, size=n)
        left = g.integers(0, 2 * p + 1, size=n)
        if p == 0:
            return x.copy()
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        return _gather(padded, top, left, h, w)


class RandomHorizontalFlip(Transform):
    """Mirror each sample left-right with probability ``p``:
    ``out[n, c, i, j] = x[n, c, i, W-1-j]`` where flipped, else ``x[n]``.
    Right for clothes and natural images; wrong for digits and letters."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, x, rng=None):
        x = _nchw("RandomHorizontalFlip", x)
        flip = as_rng(rng).random(x.shape[0]) < self.p
        return np.where(flip[:, None, None, None], x[..., ::-1], x)


class RandomErasing(Transform):
    """With probability ``p`` per sample, set one random rectangle to ``value``
    (Zhong et al. 2017; torchvision's ``RandomErasing``): its area is
    ``scale[0]..scale[1]`` of the image and its aspect ratio ``h/w`` is log-uniform
    in ``ratio``; it is cut to fit the image. One mask for the whole batch:
    ``erase[n, i, j] = top[n] <= i < top[n] + h[n] and left[n] <= j < left[n] + w[n]``."""

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: float = 0.0,
    ):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        if not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(
                f"RandomErasing: need 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= "
                f"ratio[1], got scale={scale}, ratio={ratio}"
            )
        self.p, self.value = float(p), float(value)
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))

    def __call__(self, x, rng=None):
        x = _nchw("RandomErasing", x)
        n, _, hh, ww = x.shape
        g = as_rng(rng)
        on = g.random(n) < self.p
        area = g.uniform(*self.scale, size=n) * hh * ww
        aspect = np.exp(g.uniform(np.log(self.ratio[0]), np.log(self.ratio[1]), size=n))
        h = np.clip(np.round(np.sqrt(area * aspect)), 1, hh).astype(np.int64)
        w = np.clip(np.round(np.sqrt(area / aspect)), 1, ww).astype(np.int64)
        top = (g.random(n) * (hh - h + 1)).astype(np.int64)
        left = (g.random(n) * (ww - w + 1)).astype(np.int64)
        i, j = np.arange(hh), np.arange(ww)
        rows = (i >= top[:, None]) & (i < (top + h)[:, None])  # (N, H)
        cols = (j >= left[:, None]) & (j < (left + w)[:, None])  # (N, W)
        erase = on[:, None, None] & rows[:, :, None] & cols[:, None, :]  # (N, H, W)
        return np.where(erase[:, None], np.asarray(self.value, dtype=x.dtype), x)


class Compose(Transform):
    """Apply transforms in order, all drawing from the same generator."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, x, rng=None):
        g = as_rng(rng)
        for t in self.transforms:
            x = t(x, g)
        return x

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self):
        return f"Compose([{', '.join(map(repr, self.transforms))}])"


def _num(name: str, arg: str | None, kind: type, default):
    if arg is None:
        return default
    try:
        return kind(arg)
    except ValueError:
        raise ValueError(f"augment {name!r}: expected a {kind.__name__}, got {arg!r}") from None


#: name -> (builder, help) for :func:`parse_augment`.
AUGMENT_NAMES: dict[str, tuple[Callable[[str | None], Transform], str]] = {
    "shift": (lambda a: RandomShift(_num("shift", a, int, 2)), "shift[:px] random translation"),
    "noise": (lambda a: SaltPepper(_num("noise", a, float, 0.05)), "noise[:p] salt-and-pepper"),
    "crop": (lambda a: RandomCropPad(_num("crop", a, int, 22)), "crop[:size] crop, pad centred"),
    "padcrop": (
        lambda a: RandomPadCrop(_num("padcrop", a, int, 4)),
        "padcrop[:pad] zero-pad, then a random crop of the original size",
    ),
    "flip": (
        lambda a: RandomHorizontalFlip(_num("flip", a, float, 0.5)),
        "flip[:p] random left-right mirror (clothes, not digits)",
    ),
    "erase": (
        lambda a: RandomErasing(_num("erase", a, float, 0.5)),
        "erase[:p] blank one random rectangle",
    ),
    "invert": (lambda a: Invert(_num("invert", a, float, 1.0)), "invert: x -> 1 - x"),
}


def parse_augment(spec: str | None) -> Compose:
    """``"flip,padcrop:2,noise:0.05"`` -> ``Compose([...])`` in that order.

    Each item is ``name`` or ``name:value``; ``""``/``"none"`` gives an empty
    Compose. Unknown names or bad values raise ``ValueError``.
    """
    items = [s.strip() for s in (spec or "").split(",") if s.strip()]
    if items == ["none"]:
        items = []
    out = []
    for item in items:
        name, _, arg = item.partition(":")
        name = name.strip().lower()
        if name not in AUGMENT_NAMES:
            known = ", ".join(AUGMENT_NAMES)
            raise ValueError(f"unknown augmentation {name!r} in {spec!r}; known: {known}")
        try:
            out.append(AUGMENT_NAMES[name][0](arg.strip() if arg else None))
        except ValueError as e:
            raise ValueError(f"augmentation {item!r}: {e}") from None
    return Compose(out)
