"""Image folders: valid images of every mode (8- and 16-bit greyscale, RGB, RGBA,
palette, JPEG, BMP), images in nested folders, hidden files and folders, other files,
and damaged ones (truncated, empty, random bytes, a PNG declaring 30000x30000 pixels),
empty class folders, a folder linking to itself, and entries that are no file at all
(dangling symlinks, symlink loops, FIFOs, links to a device), which must be skipped
with one message naming them.

The verdict comes from how each file was made: the reader must return every visible
image once, in its class, with its grey level (a 16-bit image scaled, not clipped),
or refuse a folder that holds a damaged image or an empty class.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import struct
import zlib
from pathlib import Path

import numpy as np

from .harness import Case, Outcome, api_error

TARGET = "image folders"
_GOOD = ["L", "I;16", "RGB", "RGBA", "P", "LA", "JPEG", "BMP"]
_BAD = ["truncated", "empty", "noise", "giant"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _write(path: Path, kind: str, level: int) -> None:
    """An image of uniform grey ``level`` (0..255), or a damaged file."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "I;16":
        Image.fromarray(np.full((6, 6), level * 257, np.uint16)).save(path.with_suffix(".png"))
    elif kind == "JPEG":
        Image.new("L", (6, 6), level).save(path.with_suffix(".jpg"), quality=100)
    elif kind == "BMP":
        Image.new("L", (6, 6), level).save(path.with_suffix(".bmp"))
    elif kind in ("RGB", "RGBA", "LA"):
        colour = (level,) * (1 if kind == "LA" else 3) + (255,) * (kind != "RGB")
        Image.new(kind, (6, 6), colour).save(path.with_suffix(".png"))
    elif kind == "P":
        im = Image.new("P", (6, 6), level)
        im.putpalette([c for v in range(256) for c in (v, v, v)])
        im.save(path.with_suffix(".png"))
    elif kind == "L":
        Image.new("L", (6, 6), level).save(path.with_suffix(".png"))
    elif kind == "truncated":
        buf = path.with_suffix(".png")
        Image.new("L", (6, 6), level).save(buf)
        buf.write_bytes(buf.read_bytes()[:40])
    elif kind == "empty":
        path.with_suffix(".png").write_bytes(b"")
    elif kind == "noise":
        path.with_suffix(".png").write_bytes(os.urandom(200))
    elif kind == "giant":  # a valid header declaring 30000 x 30000 pixels, tiny data
        ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
        idat = zlib.compress(b"\0" * 1000)
        data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
        path.with_suffix(".png").write_bytes(data + _png_chunk(b"IEND", b""))


_SPECIAL = ["dangling", "link-loop", "fifo", "device"]


def _odd_entries(folder: Path, kinds: list[str]) -> list[str]:
    """Entries that are no file at all, named like images, made in ``folder``: what the
    reader must skip and name. Returns their names."""
    made = []
    for kind in kinds:
        p = folder / f"{kind}.png"
        if kind == "dangling":
            p.symlink_to(folder / "nowhere.png")
        elif kind == "link-loop":
            p.symlink_to(p)
        elif kind == "fifo" and hasattr(os, "mkfifo"):
            os.mkfifo(p)
        elif kind == "device" and os.path.exists("/dev/null"):
            p.symlink_to("/dev/null")
        else:
            continue
        made.append(p.name)
    return made


def _tree(rng: random.Random):
    """[(relative path without suffix, kind, level, visible)] and notes."""
    entries = []
    for c in range(rng.randint(1, 3)):
        cls = f"class{c}"
        for j in range(rng.randint(0, 4)):
            where = rng.choice(["", "", "sub/", "sub/deeper/", ".hidden/"])
            name = rng.choice([f"img{j}", f".img{j}"]) if rng.random() < 0.1 else f"img{j}"
            kind = rng.choice(_GOOD) if rng.random() < 0.9 else rng.choice(_BAD)
            visible = not (where.startswith(".") or name.startswith("."))
            entries.append((f"{cls}/{where}{name}", kind, rng.randrange(256), visible))
        if rng.random() < 0.1:
            entries.append((f"{cls}/readme", "text", 0, False))
    return entries


def cases(rng: random.Random, n: int) -> list[Case]:
    out = []
    for _ in range(n):
        r = random.Random(rng.random())
        entries = _tree(r)
        loop = r.random() < 0.1
        what = ",".join(sorted({k for _, k, _, v in entries if v})) + (" loop" if loop else "")
        if any("/sub/" in e[0] for e in entries if e[3]):
            what += " nested"

        specials = r.sample(_SPECIAL, r.randint(1, len(_SPECIAL))) if r.random() < 0.15 else []
        what += "".join(f" {k}" for k in specials)

        def run(work, entries=entries, loop=loop, what=what, specials=specials):
            from barenet.data import load_image_folder

            root = Path(work) / "data"
            root.mkdir()
            classes: dict[str, list[tuple[int, str]]] = {}
            bad = False
            for rel, kind, level, visible in entries:
                cls = rel.split("/")[0]
                (root / cls).mkdir(exist_ok=True)
                classes.setdefault(cls, [])
                if kind == "text":
                    (root / f"{rel}.txt").write_text("notes", encoding="utf-8")
                    continue
                _write(root / rel, kind, level)
                if visible:
                    if kind in _BAD:
                        bad = True
                    else:
                        classes[cls].append((level, kind))
            if loop and classes:
                os.symlink(root / sorted(classes)[0], root / sorted(classes)[0] / "again")
            odd = _odd_entries(root / sorted(classes)[-1], specials) if classes else []
            valid = bool(classes) and not bad and all(classes.values())
            said = io.StringIO()
            try:
                with contextlib.redirect_stderr(said):
                    x, y, names = load_image_folder(root, (6, 6))
            except BaseException as exc:  # noqa: BLE001 - classified
                raise api_error(exc, valid=valid) from None
            if odd and not (f"skipped {len(odd)} entr" in said.getvalue()
                            and all(o in said.getvalue() for o in odd)):  # fmt: skip
                raise Outcome("loss", f"skipped {', '.join(odd)} without saying so")
            if not valid:
                raise Outcome("garbage", "accepted a folder with a damaged image or no images")
            want = sum(len(v) for v in classes.values())
            if len(x) != want or names != sorted(classes):
                raise Outcome("loss", f"{len(x)} images of {want} ({what})")
            for k, cls in enumerate(names):
                got = np.sort(x[y == k][:, 0, 0, 0])
                exp = np.sort([lv / 255 for lv, _ in classes[cls]])
                if not np.allclose(got, exp, atol=2.5 / 255):
                    kinds = sorted({kd for _, kd in classes[cls]})
                    raise Outcome("loss", f"grey levels differ in {cls} ({','.join(kinds)})")
            raise Outcome("ok")

        out.append(Case(TARGET, what, run))
    return out
