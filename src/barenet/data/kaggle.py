"""Kaggle "Digit Recognizer" CSV files.

``train.csv``: header ``label,pixel0,...,pixel783``, one image per line;
``test.csv``: the same without ``label``. Pixels are integers in 0..255, row-major
28x28; labels 0..9. Returned as ``x: (N, 1, 28, 28) float32`` in [0, 1] and
``y: (N,) int64``.

Reading is strict: every line after the header is one image (only blank lines at
the very end are dropped), every field a decimal integer (optional sign and
surrounding spaces). Nothing is a comment (``#`` is a bad character like any
other), nothing is skipped, and the number of images returned is the number of
data lines. Every problem (bad header, ragged row, non-integer or out-of-range
value) is a ``ValueError`` naming the file, the 1-based line and the column, with
the offending text cut short.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from ..io import atomic_open

__all__ = ["read_digit_csv", "kaggle_train", "kaggle_test", "write_submission"]

_PIXELS = [f"pixel{i}" for i in range(784)]
# Bytes a field may hold: digits, a sign, spaces (and the CR of CRLF line ends).
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[list(b"0123456789+- \t\r,")] = True
_INTEGER = re.compile(rb"[ \t]*[+-]?[0-9]+[ \t\r]*")


def _clip(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _header(path: Path, line: bytes, labeled: bool | None) -> bool:
    names = [f.strip().strip('"') for f in line.decode("utf-8", "replace").split(",")]
    has_label = bool(names) and names[0] == "label"
    if labeled is not None and labeled != has_label:
        want = "a 'label' first column" if labeled else "no 'label' column"
        raise ValueError(f"{path}: line 1: expected {want}, header starts with {_clip(names[0])}")
    expected = (["label"] if has_label else []) + _PIXELS
    if names != expected:
        if len(names) != len(expected):
            raise ValueError(
                f"{path}: line 1: header has {len(names)} columns, expected {len(expected)} "
                f"({expected[0]}, ..., pixel783)"
            )
        j = next(i for i, (a, b) in enumerate(zip(names, expected)) if a != b)
        raise ValueError(
            f"{path}: line 1: header column {j + 1} is {_clip(names[j])}, expected {expected[j]!r}"
        )
    return has_label


def _field_error(path: Path, body: list[bytes], names: list[str], i: int, j: int, why: str):
    field = body[i].split(b",")[j].decode("utf-8", "replace")
    return ValueError(f"{path}: line {i + 2}, column {j + 1} ({names[j]}): {_clip(field)} {why}")


def _check_bytes(path: Path, blob: bytes, body: list[bytes], names: list[str]) -> None:
    """Refuse any byte that cannot be part of an integer field, naming where it is."""
    raw = np.frombuffer(blob, dtype=np.uint8)
    bad = np.flatnonzero(~_ALLOWED[raw] & (raw != ord("\n")))
    if bad.size:
        pos = int(bad[0])
        i = blob.count(b"\n", 0, pos)
        j = blob.count(b",", blob.rfind(b"\n", 0, pos) + 1, pos)
        raise _field_error(path, body, names, i, j, "is not an integer")


def _diagnose(path: Path, body: list[bytes], names: list[str]) -> ValueError:
    """Find the first field that is not an integer (slow path, errors only)."""
    for i, line in enumerate(body):
        for j, field in enumerate(line.split(b",")):
            if not _INTEGER.fullmatch(field):
                return _field_error(path, body, names, i, j, "is not an integer")
            digits = field.strip(b" \t\r").lstrip(b"+-").lstrip(b"0")  # int() stops at 4300
            if len(digits) > 19 or int(digits or b"0") > 2**62:
                return _field_error(path, body, names, i, j, "is out of range")
    return ValueError(f"{path}: could not parse the CSV body")


def read_digit_csv(
    path: str | os.PathLike, labeled: bool | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle digit CSV: ``(x: (N, 1, 28, 28) float32, y: (N,) int64 or None)``.

    ``labeled=None`` follows the header; ``True``/``False`` demands a label
    column or its absence. ``y`` is ``None`` for an unlabeled file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such CSV file") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{path}: empty file, expected a header line")
    has_label = _header(path, lines[0], labeled)
    names = (["label"] if has_label else []) + _PIXELS
    body = lines[1:]
    if not body:
        raise ValueError(f"{path}: no data rows after the header")
    commas = np.fromiter((ln.count(b",") for ln in body), dtype=np.int64, count=len(body))
    bad = np.flatnonzero(commas != len(names) - 1)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{path}: line {i + 2}: {commas[i] + 1} fields, expected {len(names)} (ragged row)"
        )
    blob = b"\n".join(body)
    _check_bytes(path, blob, body, names)
    try:
        table = np.loadtxt(io.BytesIO(blob), delimiter=",", dtype=np.int64, ndmin=2, comments=None)
    except (ValueError, OverflowError):
        raise _diagnose(path, body, names) from None
    if table.shape != (len(body), len(names)):  # every line is one image, none skipped
        raise ValueError(
            f"{path}: read {table.shape[0]} rows of {table.shape[1]} fields from "
            f"{len(body)} data lines of {len(names)} fields"
        )
    off = 1 if has_label else 0
    pixels = table[:, off:]
    bad_px = np.argwhere((pixels < 0) | (pixels > 255))
    if bad_px.size:
        i, j = (int(v) for v in bad_px[0])
        raise ValueError(
            f"{path}: line {i + 2}, column {j + off + 1} ({names[j + off]}): "
            f"pixel value {pixels[i, j]} outside 0..255"
        )
    y = None
    if has_label:
        y = table[:, 0].copy()
        bad_y = np.flatnonzero((y < 0) | (y > 9))
        if bad_y.size:
            i = int(bad_y[0])
            raise ValueError(f"{path}: line {i + 2}: label {y[i]} outside 0..9")
    x = pixels.astype(np.float32).reshape(-1, 1, 28, 28)
    x /= np.float32(255.0)
    return x, y


def _csv_in(path_or_dir: str | os.PathLike, name: str) -> Path:
    p = Path(path_or_dir).expanduser()
    return p / name if p.is_dir() else p


def kaggle_train(path_or_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``train.csv`` (a file, or a directory holding it): ``x: (N, 1, 28, 28)``, ``y: (N,)``."""
    x, y = read_digit_csv(_csv_in(path_or_dir, "train.csv"), labeled=True)
    assert y is not None
    return x, y


def kaggle_test(path_or_dir: str | os.PathLike) -> np.ndarray:
    """``test.csv`` (a file, or a directory holding it): ``x: (N, 1, 28, 28)``."""
    return read_digit_csv(_csv_in(path_or_dir, "test.csv"), labeled=False)[0]


def write_submission(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write ``ImageId,Label`` lines (ImageId from 1) for ``labels: (N,)`` ints
    in 0..9, atomically."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"write_submission {path}: labels must be 1-D, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"write_submission {path}: labels must be integers")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise TypeError(f"write_submission {path}: labels must be integers, got {y.dtype}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(
            f"write_submission {path}: labels must be in 0..9, found {y.min()}..{y.max()}"
        )
    ids = np.arange(1, len(y) + 1)
    with atomic_open(path, "w") as fh:
        fh.write("ImageId,Label\n")
        fh.writelines(f"{i},{v}\n" for i, v in zip(ids.tolist(), y.tolist()))
