"""Image folders: ``root/<class name>/<image>.bmp|png|jpg|jpeg``.

One sub-folder per class; class names are the sorted folder names and label
``k`` is ``class_names[k]``. Images in folders nested inside a class folder belong
to that class (read recursively, as torchvision's ``ImageFolder`` and Keras do;
a folder linked twice is read once). Hidden files and folders (names starting
with ".") and files with other extensions are skipped; so are entries that are no
file at all (dangling symlinks, symlink loops, FIFOs, devices), with one warning
on stderr saying how many and which. Images are read with
Pillow, converted to greyscale (transparent pixels composited on white), resized
to ``size=(H, W)`` and returned as ``x: (N, 1, H, W) float32`` in [0, 1]
(0 = black), ``y: (N,) int64``. 16-bit greyscale images keep their full range
(divided by 65535), not clipped to 8 bits.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
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


def _not_a_file(p: Path) -> str | None:
    """What ``p`` is when it is neither a folder nor a regular file, else None."""
    try:
        mode = p.stat().st_mode  # follows links
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if exc.errno == errno.ENOENT and p.is_symlink():
            return "a dangling symlink"
        return f"unreadable ({exc.strerror})"
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def _images_under(folder: Path, odd: list[str]) -> list[Path]:
    """Image files in ``folder`` and the folders inside it, sorted by their path
    relative to ``folder``; hidden entries skipped, a folder reached twice read once.
    Entries that are neither folders nor regular files (dangling symlinks, symlink
    loops, FIFOs, devices, sockets) are skipped and appended to ``odd``, described."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    todo = [folder]
    while todo:
        d = todo.pop()
        st = d.stat()
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        for p in sorted(d.iterdir()):
            if p.name.startswith("."):
                continue
            what = _not_a_file(p)
            if what is not None:
                odd.append(f"{p} ({what})")
            elif p.is_dir():
                todo.append(p)
            elif p.suffix.lower() in IMAGE_EXTENSIONS:
                found.append(p)
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _say_skipped(root: Path, odd: list[str]) -> None:
    """One line on stderr for every entry skipped because it is not a file or folder."""
    if odd:
        shown = "; ".join(odd[:5]) + (f"; and {len(odd) - 5} more" if len(odd) > 5 else "")
        n = len(odd)
        print(f"warning: {root}: skipped {n} entr{'y' if n == 1 else 'ies'} that "
              f"{'is' if n == 1 else 'are'} neither an image file nor a folder: {shown}",
              file=sys.stderr)  # fmt: skip


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
    odd: list[str] = []
    for k, name in enumerate(classes):
        found = _images_under(root / name, odd)
        if not found:
            _say_skipped(root, odd)
            raise ValueError(
                f"{root / name}: class folder has no images ({', '.join(IMAGE_EXTENSIONS)})"
            )
        files += found
        labels += [k] * len(found)
    _say_skipped(root, odd)
    x = np.empty((len(files), 1, h, w), dtype=np.float32)
    for i, f in enumerate(files):  # one decode per file; no per-pixel work in Python
        x[i, 0] = load_image(f, (h, w))
    return x, np.asarray(labels, dtype=np.int64), classes
