"""Image folders: ``root/<class name>/<image>.bmp|png|jpg|jpeg``.

One sub-folder per class; class names are the sorted folder names and label
``k`` is ``class_names[k]``. Images in folders nested inside a class folder belong
to that class (read recursively, as torchvision's ``ImageFolder`` and Keras do;
a folder linked twice is read once). Hidden files and folders (names starting
with ".") and files with other extensions are skipped. Images are read with
Pillow, converted to greyscale (transparent pixels composited on white), resized
to ``size=(H, W)`` and returned as ``x: (N, 1, H, W) float32`` in [0, 1]
(0 = black), ``y: (N,) int64``. 16-bit greyscale images keep their full range
(divided by 65535), not clipped to 8 bits.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder", "load_image"]

IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".png", ".jpg", ".jpeg")


def _pil():
    try:
        from PIL import Image  # optional engine: Pillow, barenet[all]
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading image folders needs Pillow: pip install pillow (or barenet[all])"
        ) from None
    return Image


def load_image(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """One image file as ``(H, W) float32`` in [0, 1]; ``ValueError`` naming the
    file if Pillow cannot decode it."""
    Image = _pil()
    h, w = size
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode.startswith("I"):  # 16-bit (I;16, I;16B) or 32-bit integer pixels
                return _wide_greyscale(im, path, (h, w))
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            g = im.convert("L")
            if g.size != (w, h):
                g = g.resize((w, h), Image.Resampling.BILINEAR)
            return np.asarray(g, dtype=np.float32) / np.float32(255.0)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"{path}: unreadable or corrupt image ({e})") from None


def _wide_greyscale(im, path, size: tuple[int, int]) -> np.ndarray:
    """A 16-bit greyscale image as (H, W) float32 in [0, 1]: value / 65535. Pillow's
    own conversion to 8 bits clips every value above 255 to white."""
    Image = _pil()
    h, w = size
    a = np.asarray(im)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise ValueError(f"{path}: pixel values beyond 16 bits (mode {im.mode}) are not supported")
    f = (a.astype(np.float32) / np.float32(65535.0)).astype(np.float32)
    if f.shape != (h, w):
        f = np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(f, dtype=np.float32)


def _images_under(folder: Path) -> list[Path]:
    """Image files in ``folder`` and the folders inside it, sorted by their path
    relative to ``folder``; hidden entries skipped, a folder reached twice read once."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    todo = [folder]
    while todo:
        d = todo.pop()
        st = d.stat()
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        for p in d.iterdir():
            if p.name.startswith("."):
                continue
            if p.is_dir():
                todo.append(p)
            elif p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                found.append(p)
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (H, W), got {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    return h, w


def load_image_folder(
    root: str | os.PathLike, size: tuple[int, int] = (28, 28)
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load every image under ``root/<class>/`` (and folders nested in a class folder).

    Returns ``(x: (N, 1, H, W) float32 in [0, 1], y: (N,) int64, class_names)``,
    files in sorted order within each class. Raises ``FileNotFoundError`` for a
    missing root and ``ValueError`` for no class folders, a class folder with no
    images, or an unreadable image (naming the file).
    """
    h, w = _check_size(size)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: image folder not found")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{root}: no class sub-folders (expected {root}/<class>/<image>.png)")
    files: list[Path] = []
    labels: list[int] = []
    for k, name in enumerate(classes):
        found = _images_under(root / name)
        if not found:
            raise ValueError(
                f"{root / name}: class folder has no images ({', '.join(IMAGE_EXTENSIONS)})"
            )
        files += found
        labels += [k] * len(found)
    x = np.empty((len(files), 1, h, w), dtype=np.float32)
    for i, f in enumerate(files):  # one decode per file; no per-pixel work in Python
        x[i, 0] = load_image(f, (h, w))
    return x, np.asarray(labels, dtype=np.int64), classes
