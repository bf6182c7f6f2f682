"""Model files: weights, the architecture as JSON, and metadata, in one file.

Two containers, chosen by the file's extension:

- ``.safetensors`` (default for any other extension): 8-byte little-endian header
  length, a JSON header naming every tensor's dtype, shape and byte range, then the
  raw little-endian bytes. Architecture and metadata are JSON strings in the
  header's ``__metadata__``.
- ``.npz``: NumPy's zip of ``.npy`` arrays, read with ``allow_pickle=False``; the
  JSON lives in a uint8 array named ``__barenet__``.

Neither path can run code when a file is read: JSON and raw numbers only, no pickle.
Files are written to a temporary file in the same folder and renamed into place.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from .core.module import Module, build

FORMAT = "barenet"
VERSION = 1
_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class ModelFileError(ValueError):
    """A model file that is corrupt, truncated, or not barenet's."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched,
    so a crash never leaves half a file under the final name. ``mode``: "wb" or "w"
    (UTF-8 text, newlines as written).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        kwargs = {"encoding": "utf-8", "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` (bytes, or an iterable of byte chunks) to ``path`` atomically."""
    chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    with atomic_open(path, "wb") as f:
        for c in chunks:
            f.write(c)


def save_tensors(path, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    """Write named arrays and string metadata as a safetensors file, atomically."""
    header: dict = {"__metadata__": {k: str(v) for k, v in meta.items()}}
    blobs, offset = [], 0
    for name, arr in tensors.items():
        a = np.asarray(arr, order="C")  # not ascontiguousarray: it turns 0-d into (1,)
        if a.dtype not in _CODES:
            raise TypeError(f"save: tensor {name!r} has unsupported dtype {a.dtype}")
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": _CODES[a.dtype],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    atomic_write_bytes(path, [struct.pack("<Q", len(hb)), hb, *blobs])


def load_tensors(path) -> tuple[OrderedDict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file, checking every offset; returns (arrays, metadata)."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ModelFileError(f"{path}: too short to be a model file ({len(raw)} bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > _MAX_HEADER or 8 + n > len(raw):
        raise ModelFileError(f"{path}: header length {n} does not fit the {len(raw)}-byte file")
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(raw)[8 + n :]
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    end_seen = 0
    for name, info in header.items():
        try:
            dt = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
            shape = tuple(int(s) for s in info["shape"])
            lo, hi = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{path}: bad header entry for {name!r}: {info!r}") from None
        if min(shape, default=0) < 0 or not 0 <= lo <= hi <= len(body):
            raise ModelFileError(f"{path}: tensor {name!r} lies outside the file (truncated?)")
        if hi - lo != int(np.prod(shape, dtype=np.int64)) * dt.itemsize:
            raise ModelFileError(f"{path}: tensor {name!r} has {hi - lo} bytes for shape {shape}")
        out[name] = np.frombuffer(body[lo:hi], dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
        end_seen = max(end_seen, hi)
    if end_seen != len(body):
        raise ModelFileError(f"{path}: {len(body) - end_seen} unexplained bytes after the tensors")
    return out, meta


def _pack(model: Module, metadata: dict | None) -> dict[str, str]:
    return {
        "format": FORMAT,
        "version": str(VERSION),
        "spec": json.dumps(model.spec()),
        "metadata": json.dumps(metadata or {}),
    }


def save(model: Module, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write ``model`` (architecture, weights, buffers) and JSON ``metadata`` to ``path``.

    ``.npz`` gives a NumPy archive; anything else a safetensors file. Atomic.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save: expected a barenet Module, got {type(model).__name__}")
    path = Path(path)
    meta = _pack(model, metadata)
    state = model.state_dict()
    if path.suffix == ".npz":
        import io as _io

        buf = _io.BytesIO()
        arrays = dict(state)
        arrays["__barenet__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(buf, **arrays)
        atomic_write_bytes(path, [buf.getvalue()])
    else:
        save_tensors(path, state, meta)
    return path


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"load: no such model file: {path}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise ModelFileError(f"{path}: corrupt .npz model file ({exc})") from None
        if "__barenet__" not in arrays:
            raise ModelFileError(f"{path}: an .npz file, but not a barenet model file")
        try:
            meta = json.loads(arrays.pop("__barenet__").tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{path}: corrupt barenet header ({exc})") from None
        return arrays, meta
    return load_tensors(path)


def load_file(path: str | os.PathLike) -> tuple[Module, dict]:
    """Rebuild the model stored in ``path``; returns (model, metadata)."""
    path = Path(path)
    arrays, meta = _read(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "spec" not in meta:
        raise ModelFileError(f"{path}: not a barenet model file (no barenet header)")
    try:
        spec = json.loads(meta["spec"])
        metadata = json.loads(meta.get("metadata", "{}"))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: corrupt architecture spec ({exc})") from None
    try:
        model = build(spec)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{path}: cannot rebuild the architecture: {exc}") from None
    dtypes = {a.dtype for k, a in arrays.items() if a.dtype.kind == "f"}
    if len(dtypes) == 1:
        model.to(dtypes.pop())
    try:
        model.load_state_dict(arrays)
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: weights do not match the architecture: {exc}") from None
    model.metadata = metadata
    return model, metadata


def load(path: str | os.PathLike) -> Module:
    """Rebuild the model stored in ``path`` (its metadata is on ``model.metadata``)."""
    return load_file(path)[0]
