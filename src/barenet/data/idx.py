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

The header is read first and the payload size it declares (an exact Python integer,
never wrapped) is checked before the body is read: against the file's size for a
raw file, against what deflate could possibly hold (about 1032 bytes per compressed
byte) for a gzip file, and against the memory available. Decompression streams
into a buffer of exactly the declared size and stops one byte past it, so a small
file that inflates to gigabytes is refused after reading its header, not after
inflating it.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from ..core.memory import check_fits
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
#: Deflate's best case is about 1032:1; a gzip file cannot inflate to more than this
#: many bytes per byte of its own (plus a little for the smallest files).
_DEFLATE_RATIO = 1032
_CHUNK = 1 << 16
_MAX_NDIM = 32  # NumPy 1.x's limit on an array's dimensions
_PIECE = 1 << 22  # inflated bytes per step: bounds the temporary copies


def _header(data: bytes, name: str) -> tuple[np.dtype, tuple[int, ...], int, int]:
    """(dtype, dims, header length, payload bytes) of the header at the start of
    ``data``; ``ValueError`` for a bad or incomplete header."""
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
    if not 1 <= ndim <= _MAX_NDIM:
        raise ValueError(
            f"{name}: IDX header declares {ndim} dimensions (barenet reads 1 to {_MAX_NDIM})"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header_len} bytes, "
            f"file has {len(data)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    payload = math.prod(dims) * dtype.itemsize  # exact: Python ints never wrap
    if math.prod(d for d in dims if d) * dtype.itemsize >= 2**63:  # NumPy's limit, zeros or not
        raise ValueError(
            f"{name}: IDX header declares shape {dims} of {dtype.name} = {payload} bytes, "
            "too large for an array"
        )
    return dtype, dims, header_len, payload


def _length_error(name, dims, dtype, expected, actual) -> ValueError:
    what = "truncated" if actual < expected else "oversized"
    return ValueError(
        f"{name}: {what} IDX payload: header says shape {dims} of {dtype.name} "
        f"= {expected} bytes, file has {actual}"
    )


class _Gunzip:
    """Inflate a gzip file (one or more members) a piece at a time, never producing
    more than asked for."""

    def __init__(self, f: IO[bytes], name: str):
        self.f, self.name = f, name
        self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = b""  # compressed bytes read but not yet given to self.d
        self.ended = False

    def _next_member(self) -> None:
        rest = self.d.unused_data.lstrip(b"\0")  # gzip allows zero padding after a member
        while not rest:
            more = self.f.read(_CHUNK)
            if not more:
                self.ended = True
                return
            rest = more.lstrip(b"\0")
        self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = rest

    def readinto(self, buf) -> int:
        """Fill ``buf`` with inflated bytes; returns how many (fewer only at the end)."""
        view, got, n = memoryview(buf).cast("B"), 0, len(buf)
        while got < n and not self.ended:
            if self.d.eof:
                self._next_member()
                continue
            data = self.d.unconsumed_tail or self.pending or self.f.read(_CHUNK)
            self.pending = b""
            try:
                piece = self.d.decompress(data, min(n - got, _PIECE))
            except zlib.error as e:
                raise ValueError(f"{self.name}: corrupt or truncated gzip data ({e})") from None
            if not data and not piece and not self.d.eof:
                raise ValueError(f"{self.name}: corrupt or truncated gzip data (it ends early)")
            view[got : got + len(piece)] = piece
            got += len(piece)
        view.release()
        return got

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        return bytes(buf[: self.readinto(buf)])


def read_idx_bytes(path: str | os.PathLike) -> bytearray:
    """The uncompressed bytes of an IDX file (gunzipped if it is gzip data).

    The header is checked, and the payload size it declares compared with what the
    file can hold and with the memory available, before the payload is read or
    inflated; a payload of any other length than declared is a ``ValueError``.
    """
    path = Path(path)
    name = str(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such IDX file") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        gz = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        src = _Gunzip(f, name) if gz else f
        try:
            head = src.read(4)
            if len(head) == 4 and head[:2] == b"\0\0":
                head += src.read(4 * head[3])
            dtype, dims, header_len, payload = _header(head, name)
            if not gz and payload != size - header_len:
                raise _length_error(name, dims, dtype, payload, size - header_len)
            if gz and payload > _DEFLATE_RATIO * size + 4096:
                raise ValueError(
                    f"{name}: IDX header declares shape {dims} = {payload} bytes, more than "
                    f"a {size}-byte gzip file can hold (truncated or corrupt)"
                )
            check_fits(header_len + payload, f"{name}: IDX payload of shape {dims}")
            data = bytearray(header_len + payload)
            data[:header_len] = head
            got = src.readinto(memoryview(data)[header_len:])
            if got < payload:
                raise _length_error(name, dims, dtype, payload, got)
            if gz and src.read(1):  # one byte more also runs the stream to its CRC check
                raise ValueError(
                    f"{name}: oversized IDX payload: header says shape {dims} of {dtype.name} "
                    f"= {payload} bytes, the gzip data holds more"
                )
        except EOFError as e:
            raise ValueError(f"{name}: corrupt or truncated gzip data ({e})") from None
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes into an array in native byte order.

    ``name`` is used in error messages only.
    """
    return _decode(data, name, copy=True)


def _decode(data, name: str, copy: bool) -> np.ndarray:
    dtype, dims, header_len, expected = _header(data, name)
    actual = len(data) - header_len
    if actual != expected:
        raise _length_error(name, dims, dtype, expected, actual)
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=copy)  # native order


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or .gz) into an array of its declared dtype and shape."""
    # The buffer is ours: single-byte data need not be copied out of it.
    return _decode(read_idx_bytes(path), str(path), copy=False)


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
