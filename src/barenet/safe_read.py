"""Strict readers of the two model-file containers: every header is checked before
anything it describes is allocated or read.

- JSON (safetensors headers, specs, metadata): nesting at most :data:`MAX_DEPTH`
  deep, no duplicate keys, no ``NaN``/``Infinity``.
- safetensors: the header is an object of tensor entries, each exactly
  ``{"dtype", "shape", "data_offsets"}`` with a known dtype, a shape of non-negative
  integers and integer offsets whose byte count matches the shape; the byte ranges,
  sorted, tile the body exactly (no overlap, no gap, nothing after); the optional
  ``__metadata__`` maps strings to strings.
- npz: stored or deflated members only, no encryption, unique ``*.npy`` names; each
  member's ``.npy`` header (magic, version, dtype, shape, order) is checked and its
  declared size compared with the member's before the data is read.

Every problem is a :class:`ModelFileError` (a ``ValueError``) naming the file; a
caller can check what the headers describe (``check``) before any tensor is read.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from .core.checks import bounded_int, is_int
from .core.memory import check_fits

__all__ = [
    "DTYPES",
    "MAX_DEPTH",
    "MAX_HEADER",
    "ModelFileError",
    "TensorInfo",
    "clip",
    "clip_text",
    "loads_strict",
    "read_npz",
    "read_safetensors",
]

#: safetensors dtype code -> NumPy dtype (little-endian in the file).
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
MAX_HEADER = 100 * 2**20
MAX_DEPTH = 64
MAX_MEMBERS = 100_000
_MAX_DIM = 2**62
_KEYS = {"dtype", "shape", "data_offsets"}


class ModelFileError(ValueError):
    """A model file that is corrupt, truncated, or not barenet's."""


class TensorInfo(NamedTuple):
    """What a header says about one tensor, checked: dtype, shape, byte count."""

    dtype: np.dtype
    shape: tuple[int, ...]
    nbytes: int


def clip(value, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages of bounded length."""
    return clip_text(repr(value), limit)


def clip_text(text: str, limit: int = 160) -> str:
    """``text`` cut to ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- JSON ---------------------------------------------------------------------------

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _depth(raw: bytes) -> int:
    """Deepest nesting of [ and { outside strings."""
    bare = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    step = np.isin(bare, (0x5B, 0x7B)).astype(np.int64) - np.isin(bare, (0x5D, 0x7D))
    return int(np.cumsum(step).max(initial=0))


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ModelFileError(f"duplicate key {clip(k, 60)}")
        out[k] = v
    return out


def _no_constant(name: str):
    raise ModelFileError(f"{name} is not a JSON number")


def loads_strict(text: str | bytes, what: str):
    """Parse JSON with bounded nesting, no duplicate keys and no NaN/Infinity;
    ``ModelFileError`` naming ``what`` otherwise."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    depth = _depth(raw)
    if depth > MAX_DEPTH:
        raise ModelFileError(f"{what}: JSON nested {depth} deep (at most {MAX_DEPTH})")
    # The format is UTF-8 without a byte-order mark: json.loads would guess UTF-16 or
    # UTF-32 from the bytes and skip a mark, so they are decoded here, strictly.
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ModelFileError(f"{what}: starts with a byte-order mark; the format is plain UTF-8")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:4]:
        raise ModelFileError(f"{what}: UTF-16 or UTF-32 text; the format is UTF-8")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{what}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(decoded, object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constant, parse_int=bounded_int)  # fmt: skip
    except ModelFileError as exc:
        raise ModelFileError(f"{what}: {exc}") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{what}: not valid JSON ({clip_text(str(exc), 160)})") from None
    except ValueError as exc:  # bounded_int: an integer longer than int() reads
        raise ModelFileError(f"{what}: {exc}") from None


# -- shapes -------------------------------------------------------------------------


def _shape(v, what: str) -> tuple[int, ...]:
    if not isinstance(v, (list, tuple)) or not all(is_int(s) for s in v):
        raise ModelFileError(f"{what}: shape must be a list of integers, got {clip(v, 80)}")
    if any(s < 0 or s > _MAX_DIM for s in v):
        raise ModelFileError(f"{what}: shape {clip(v, 80)} has a size out of range")
    n = 1
    for s in v:
        n *= s if s else 1
    if n > _MAX_DIM:
        raise ModelFileError(f"{what}: shape {clip(v, 80)} has too many elements")
    return tuple(v)


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


# -- safetensors --------------------------------------------------------------------


def _safetensors_header(f: IO[bytes], size: int, path: Path):
    """(entries name -> (TensorInfo, lo, hi), metadata, body start) of an open file."""
    if size < 8:
        raise ModelFileError(f"{path}: too short to be a model file ({size} bytes)")
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_HEADER or 8 + n > size:
        raise ModelFileError(f"{path}: header length {n} does not fit the {size}-byte file")
    header = loads_strict(f.read(n), f"{path}: header")
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ModelFileError(f"{path}: __metadata__ must map names to strings")
    body = size - 8 - n
    entries: dict[str, tuple[TensorInfo, int, int]] = {}
    for name, e in header.items():
        what = f"{path}: tensor {clip(name, 60)}"
        if not isinstance(e, dict) or set(e) != _KEYS:
            raise ModelFileError(f"{what}: entry must have exactly {sorted(_KEYS)}")
        code = e["dtype"]
        if not isinstance(code, str) or code not in DTYPES:
            raise ModelFileError(f"{what}: unknown dtype {clip(code, 20)}; known: {list(DTYPES)}")
        shape = _shape(e["shape"], what)
        off = e["data_offsets"]
        if not (isinstance(off, list) and len(off) == 2 and all(is_int(v) for v in off)):
            raise ModelFileError(f"{what}: data_offsets must be two integers, got {clip(off)}")
        lo, hi = off
        if not 0 <= lo <= hi <= body:
            raise ModelFileError(
                f"{what}: bytes {lo}..{hi} lie outside the file (its body has {body} bytes;"
                " truncated?)"
            )
        dt = DTYPES[code]
        nbytes = _count(shape) * dt.itemsize
        if hi - lo != nbytes:
            raise ModelFileError(f"{what}: {hi - lo} bytes for shape {shape} of {code}")
        entries[name] = (TensorInfo(dt, shape, nbytes), lo, hi)
    end = 0
    for name, (_, lo, hi) in sorted(entries.items(), key=lambda kv: (kv[1][1], kv[1][2])):
        if lo != end:
            kind = "overlaps the one before" if lo < end else f"leaves a gap of {lo - end} bytes"
            raise ModelFileError(f"{path}: tensor {clip(name, 60)} {kind}")
        end = hi
    if end != body:
        raise ModelFileError(f"{path}: {body - end} unexplained bytes after the tensors")
    return entries, meta, 8 + n


def _read_into(f: IO[bytes], info: TensorInfo, what: str) -> np.ndarray:
    arr = np.empty(info.shape, dtype=info.dtype)
    if info.nbytes:
        got = f.readinto(memoryview(arr.reshape(-1)).cast("B"))
        if got != info.nbytes:
            raise ModelFileError(f"{what}: truncated ({got} of {info.nbytes} bytes)")
    return arr.astype(info.dtype.newbyteorder("="), copy=False)


Check = Callable[[dict[str, str], dict[str, TensorInfo]], None]


def read_safetensors(
    path: str | os.PathLike, check: Check | None = None
) -> tuple[OrderedDict[str, np.ndarray], dict[str, str]]:
    """(arrays, string metadata) of a safetensors file; ``check(metadata, infos)`` runs
    after the header is validated and before any tensor is read."""
    path = Path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        entries, meta, start = _safetensors_header(f, size, path)
        if check is not None:
            check(meta, {k: e[0] for k, e in entries.items()})
        check_fits(size, f"{path}: its tensors")
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, (info, lo, _) in entries.items():
            f.seek(start + lo)
            out[name] = _read_into(f, info, f"{path}: tensor {clip(name, 60)}")
    return out, meta


# -- npz ----------------------------------------------------------------------------


def _npy_header(fp: IO[bytes], what: str) -> tuple[np.dtype, tuple[int, ...], bool]:
    fmt = np.lib.format
    major, _ = fmt.read_magic(fp)
    if major not in (1, 2, 3):
        raise ModelFileError(f"{what}: unknown .npy version {major}")
    read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
    shape, fortran, dtype = read(fp)
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ModelFileError(f"{what}: dtype {clip_text(str(dtype), 60)} is not plain numbers")
    if dtype.newbyteorder("<") not in DTYPES.values():
        raise ModelFileError(f"{what}: unsupported dtype {dtype}")
    return dtype, _shape(list(shape), what), bool(fortran)


def read_npz(
    path: str | os.PathLike, check: Check | None = None, meta_member: str = "__barenet__"
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(arrays, metadata) of an ``.npz``; the member ``meta_member`` (uint8 bytes of a
    JSON object of strings) is the metadata. ``check`` as in :func:`read_safetensors`."""
    path = Path(path)
    try:
        return _read_npz(path, check, meta_member)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        struct.error,
        UnicodeDecodeError,
        NotImplementedError,  # zipfile: an unsupported feature the checks did not catch
        RuntimeError,  # zipfile: encrypted member
        OSError,  # zipfile: a seek to an offset the damaged directory gives
    ) as exc:
        raise ModelFileError(f"{path}: corrupt .npz model file ({clip_text(str(exc))})") from None
    except ValueError as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{path}: corrupt .npz model file ({clip_text(str(exc))})") from None


def _read_npz(path: Path, check: Check | None, meta_member: str):
    size = path.stat().st_size
    with zipfile.ZipFile(path) as z:
        members = z.infolist()
        if len(members) > MAX_MEMBERS:
            raise ModelFileError(f"{path}: {len(members)} members in the archive")
        names: dict[str, zipfile.ZipInfo] = {}
        for m in members:
            what = f"{path}: member {clip(m.filename, 60)}"
            if m.flag_bits & 0x1:
                raise ModelFileError(f"{what} is encrypted")
            if m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ModelFileError(f"{what}: compression method {m.compress_type} unsupported")
            if not m.filename.endswith(".npy") or "/" in m.filename:
                raise ModelFileError(f"{what}: not a .npy array at the top of the archive")
            name = m.filename[:-4]
            if name in names:
                raise ModelFileError(f"{what} appears twice")
            # Deflate shrinks by at most about 1032:1: a larger claim cannot be true.
            limit = m.compress_size if m.compress_type == zipfile.ZIP_STORED else 1032 * size
            if m.file_size > limit + 64:
                raise ModelFileError(f"{what}: claims {m.file_size} bytes from {size}")
            names[name] = m
        infos: dict[str, tuple[TensorInfo, bool]] = {}
        for name, m in names.items():
            what = f"{path}: member {clip(m.filename, 60)}"
            with z.open(m) as fp:
                dtype, shape, fortran = _npy_header(fp, what)
                nbytes = _count(shape) * dtype.itemsize
                if m.file_size - fp.tell() != nbytes:
                    raise ModelFileError(
                        f"{what}: {m.file_size - fp.tell()} bytes of data for shape {shape}"
                    )
            infos[name] = (TensorInfo(dtype, shape, nbytes), fortran)
        if meta_member not in infos:
            raise ModelFileError(f"{path}: an .npz file, but not a barenet model file")
        minfo = infos.pop(meta_member)[0]
        if minfo.dtype != np.uint8 or len(minfo.shape) != 1 or minfo.nbytes > MAX_HEADER:
            raise ModelFileError(f"{path}: {meta_member} must be a 1-D uint8 array of JSON")
        meta = loads_strict(_member(z, names[meta_member], minfo, False, path).tobytes(), str(path))
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ModelFileError(f"{path}: {meta_member} must be a JSON object of strings")
        if check is not None:
            check(meta, {k: v[0] for k, v in infos.items()})
        check_fits(sum(i.nbytes for i, _ in infos.values()), f"{path}: its tensors")
        arrays = {k: _member(z, names[k], i, fo, path) for k, (i, fo) in infos.items()}
    return arrays, meta


def _member(z: zipfile.ZipFile, m: zipfile.ZipInfo, info: TensorInfo, fortran: bool, path):
    what = f"{path}: member {clip(m.filename, 60)}"
    with z.open(m) as fp:
        _npy_header(fp, what)
        if fortran:
            arr = _read_into(fp, TensorInfo(info.dtype, info.shape[::-1], info.nbytes), what)
            arr = arr.T.copy()
        else:
            arr = _read_into(fp, info, what)
        if fp.read(1):  # reading to the end also makes zipfile check the CRC
            raise ModelFileError(f"{what}: data after the array")
    return arr
