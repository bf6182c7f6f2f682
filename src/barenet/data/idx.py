"""IDX files, the format MNIST and Fashion-MNIST ship in, raw or gzip-compressed.

Layout (all big-endian)::

    byte 0-1   0x00 0x00                       magic
    byte 2     type code                       0x08 ubyte, 0x09 byte, 0x0B short,
                                               0x0C int, 0x0D float, 0x0E double
    byte 3     ndim
    4*ndim     dimension sizes, uint32 each
    payload    prod(dims) * itemsize bytes, row-major

The reader checks every field and that the payload length matches the header
exactly; anything else is a ``ValueError`` naming the file and the problem.
Compression is detected from the gzip magic bytes, not from the file name.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ..io import atomic_write_bytes

__all__ = ["IDX_DTYPES", "read_idx", "parse_idx", "write_idx", "read_idx_pair", "read_idx_bytes"]

#: IDX type code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The uncompressed bytes of an IDX file (gunzipped if it is gzip data)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such IDX file") from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes into an array in native byte order.

    ``name`` is used in error messages only.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: {len(data)} bytes, shorter than the header")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{name}: not an IDX file: magic starts with 0x{data[0]:02X} 0x{data[1]:02X}, "
            "expected 0x00 0x00"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header_len} bytes, "
            f"file has {len(data)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        what = "truncated" if actual < expected else "oversized"
        raise ValueError(
            f"{name}: {what} IDX payload: header says shape {dims} of {dtype.name} "
            f"= {expected} bytes, file has {actual}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # native order, writable copy


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or .gz) into an array of its declared dtype and shape."""
    return parse_idx(read_idx_bytes(path), str(path))


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file, atomically; gzip it if the name ends in ``.gz``
    (or if ``compress`` says so). Supported dtypes: those in ``IDX_DTYPES``."""
    arr = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    dt = arr.dtype.newbyteorder("=")
    if dt not in codes:
        raise TypeError(f"write_idx {path}: dtype {arr.dtype} has no IDX type code")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"write_idx {path}: need 1..255 dimensions, got {arr.ndim}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"write_idx {path}: dimension too large for IDX: {arr.shape}")
    code = codes[dt]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = str(path).endswith(".gz")
    if compress:
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)


def read_idx_pair(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file.

    Returns ``images: (N, H, W) uint8`` and ``labels: (N,) int64``; checks that
    images are 3-D ubyte, labels 1-D integer, and that the counts agree.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected images of shape (N, H, W) ubyte, "
            f"got shape {images.shape} {images.dtype}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{labels_path}: expected labels of shape (N,) integer, "
            f"got shape {labels.shape} {labels.dtype}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"images/labels count mismatch: {images_path} has {len(images)} images, "
            f"{labels_path} has {len(labels)} labels"
        )
    return images, labels.astype(np.int64)
