"""Model files: weights, the architecture as JSON, and metadata, in one file.

Two containers, chosen by the file's extension:

- ``.safetensors`` (default for any other extension): 8-byte little-endian header
  length, a JSON header naming every tensor's dtype, shape and byte range, then the
  raw little-endian bytes. Architecture and metadata are JSON strings in the
  header's ``__metadata__``.
- ``.npz``: NumPy's zip of ``.npy`` arrays, read with ``allow_pickle=False``; the
  JSON lives in a uint8 array named ``__barenet__``.

Neither path can run code when a file is read: JSON and raw numbers only, no pickle.
Reading checks the whole header before anything is allocated (see
:mod:`barenet.safe_read`): a file that is corrupt, truncated, foreign, of an unknown
version, or whose tensors do not match its architecture is a :class:`ModelFileError`.
Files are written to a temporary file in the same folder and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import io as _io
import json
import os
import struct
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from .core.checks import is_number
from .core.memory import check_parameters_fit
from .core.module import Module, build, spec_state_shapes
from .safe_read import (
    DTYPES,
    ModelFileError,
    TensorInfo,
    clip,
    clip_text,
    loads_strict,
    read_npz,
    read_safetensors,
)

FORMAT = "barenet"
VERSION = 1
#: Versions of the model-file layout this reader understands.
KNOWN_VERSIONS = ("1",)
# Every key of the header's metadata; "sha256" is absent from files of older barenets.
_HEADER_KEYS = {"format", "version", "spec", "metadata", "sha256"}
_CODES = {v.newbyteorder("="): k for k, v in DTYPES.items()}


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
    if path.exists() and not path.is_file():
        # os.replace would swap a device such as /dev/null (as root) for a file.
        what = "a folder" if path.is_dir() else "not a regular file"
        raise ValueError(f"{path} is {what}; a file is written only over a regular file")
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
    """Read a safetensors file, its whole header checked first (see
    :mod:`barenet.safe_read`); returns (arrays, string metadata)."""
    return read_safetensors(path)


def _pack(model: Module, metadata: dict | None) -> dict[str, str]:
    return {
        "format": FORMAT,
        "version": str(VERSION),
        "spec": json.dumps(model.spec()),
        "metadata": json.dumps(metadata or {}),
    }


def digest(meta: dict[str, str], arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of a model file's content: its spec and metadata strings, then each tensor
    (by name: the name, dtype, shape and little-endian bytes). Stored in the file, it
    makes any damage to the weights or the JSON strings detectable."""
    h = hashlib.sha256()
    for key in ("spec", "metadata"):
        h.update(meta.get(key, "").encode("utf-8", "surrogatepass") + b"\0")
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False))
        code = _CODES.get(a.dtype.newbyteorder("="), a.dtype.str)
        h.update(f"{name}\0{code}\0{a.shape}\0".encode("utf-8", "surrogatepass"))
        h.update(memoryview(a.reshape(-1)).cast("B"))
    return h.hexdigest()


def save(model: Module, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write ``model`` (architecture, weights, buffers) and JSON ``metadata`` to ``path``.

    ``.npz`` gives a NumPy archive; anything else a safetensors file. Atomic. The file
    carries the SHA-256 of its content (see :func:`digest`), checked when it is read.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save: expected a barenet Module, got {type(model).__name__}")
    path = Path(path)
    meta = _pack(model, metadata)
    state = model.state_dict()
    meta["sha256"] = digest(meta, state)
    if path.suffix == ".npz":
        buf = _io.BytesIO()
        arrays = dict(state)
        arrays["__barenet__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(buf, **arrays)
        atomic_write_bytes(path, [buf.getvalue()])
    else:
        save_tensors(path, state, meta)
    return path


def _is_shape(v) -> bool:
    return isinstance(v, list) and all(
        isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 2**31 for s in v
    )


#: The metadata keys barenet itself reads, and what each must be.
_META_CHECKS = {
    "class_names": (
        lambda v: isinstance(v, list) and len(v) > 0 and all(isinstance(c, str) for c in v),
        "a non-empty list of strings",
    ),
    "input_shape": (lambda v: _is_shape(v) and 1 <= len(v) <= 4, "a list of 1 to 4 sizes"),
    "task": (lambda v: v in ("classification", "regression"), '"classification" or "regression"'),
    "dataset": (lambda v: isinstance(v, str), "a string"),
    "config": (lambda v: isinstance(v, dict), "an object"),
    "metrics": (lambda v: isinstance(v, dict), "an object"),
    "normalisation": (
        lambda v: (
            isinstance(v, dict)
            and isinstance(v.get("invert", False), bool)
            and (
                "range" not in v
                or isinstance(v["range"], list)
                and len(v["range"]) == 2
                and all(is_number(x) for x in v["range"])
            )
        ),
        'an object like {"range": [0.0, 1.0], "invert": false}',
    ),
}


def _check_metadata(path: Path, metadata) -> dict:
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: metadata must be a JSON object, got {clip(metadata, 40)}")
    for key, (ok, want) in _META_CHECKS.items():
        if key in metadata and metadata[key] is not None and not ok(metadata[key]):
            raise ModelFileError(
                f"{path}: metadata {key!r} must be {want}, got {clip(metadata[key], 60)}"
            )
    return metadata


def _difference(path: Path, expected: dict, stored: dict[str, TensorInfo]) -> str | None:
    """Why the stored tensors do not fit the architecture, or None when they do."""
    missing = [k for k in expected if k not in stored]
    unexpected = [k for k in stored if k not in expected]
    shapes = [
        f"{k}: {stored[k].shape} for {tuple(expected[k])}"
        for k in expected
        if k in stored and stored[k].shape != tuple(expected[k])
    ]
    kinds = [k for k in expected if k in stored and stored[k].dtype.kind not in "fiu"]
    parts = []
    for label, items in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("mis-shaped", shapes),
        ("not numbers", kinds),
    ):
        if items:
            more = f" and {len(items) - 4} more" if len(items) > 4 else ""
            parts.append(f"{label} {', '.join(clip_text(i, 60) for i in items[:4])}{more}")
    return "; ".join(parts) or None


def _from_spec(path: Path, make, spec):
    """``make(spec)``, where an error means the spec describes no model we can build."""
    try:
        return make(spec)
    except (TypeError, ValueError, KeyError, RecursionError) as exc:
        raise ModelFileError(
            f"{path}: cannot rebuild the architecture: {clip_text(str(exc), 300)}"
        ) from None


class _Header:
    """What a model file's header says, checked before any tensor is read."""

    def __init__(self, path: Path):
        self.path = path
        self.spec = self.metadata = None

    def __call__(self, meta: dict[str, str], stored: dict[str, TensorInfo]) -> None:
        path = self.path
        if meta.get("format") != FORMAT or "spec" not in meta:
            raise ModelFileError(f"{path}: not a barenet model file (no barenet header)")
        unknown = sorted(set(meta) - _HEADER_KEYS)
        if unknown:
            raise ModelFileError(
                f"{path}: unknown keys in the barenet header: "
                + ", ".join(clip(k, 40) for k in unknown[:4])
            )
        version = meta.get("version")
        if version not in KNOWN_VERSIONS:
            raise ModelFileError(
                f"{path}: model-file version {clip(version, 20)} is not one this barenet "
                f"reads ({', '.join(KNOWN_VERSIONS)}); a newer barenet may read it"
            )
        if not isinstance(meta["spec"], str) or not isinstance(meta.get("metadata", ""), str):
            raise ModelFileError(f"{path}: spec and metadata must be JSON strings")
        self.spec = loads_strict(meta["spec"], f"{path}: architecture spec")
        self.metadata = _check_metadata(
            path, loads_strict(meta.get("metadata") or "{}", f"{path}: metadata")
        )
        expected = _from_spec(path, spec_state_shapes, self.spec)
        why = _difference(path, expected, stored)
        if why:
            raise ModelFileError(f"{path}: weights do not match the architecture: {why}")
        # Building allocates each parameter and its gradient in the default dtype.
        check_parameters_fit(expected.values(), np.float64, f"{path}: the model it describes")


def _read(path: Path, check) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    if not path.exists():
        raise FileNotFoundError(f"load: no such model file: {path}")
    if not path.is_file():
        raise ModelFileError(f"{path}: not a model file (a folder or a device)")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        return read_npz(path, check)
    return read_safetensors(path, check)


def load_file(path: str | os.PathLike) -> tuple[Module, dict]:
    """Rebuild the model stored in ``path``; returns (model, metadata).

    The whole header is checked first (container, JSON, version, metadata types, the
    architecture against the stored tensors' names and shapes, the memory it needs);
    only then are tensors read and the model built. Any problem is a
    :class:`ModelFileError` (a ``ValueError``); a missing file a ``FileNotFoundError``.
    """
    path = Path(path)
    header = _Header(path)
    arrays, meta = _read(path, header)
    for k, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ModelFileError(f"{path}: tensor {clip(k, 60)} holds NaN or infinite values")
    model = _from_spec(path, build, header.spec)
    dtypes = {a.dtype for a in arrays.values() if a.dtype.kind == "f"}
    if len(dtypes) == 1:
        model.to(dtypes.pop())
    try:
        model.load_state_dict(arrays)
    except (KeyError, ValueError) as exc:
        raise ModelFileError(
            f"{path}: weights do not match the architecture: {clip_text(str(exc), 300)}"
        ) from None
    _check_outputs(path, model, header.metadata)
    if "sha256" in meta and meta["sha256"] != digest(meta, arrays):
        raise ModelFileError(
            f"{path}: damaged: its content does not match the SHA-256 recorded when it was saved"
        )
    model.metadata = header.metadata
    return model, header.metadata


def _check_outputs(path: Path, model: Module, metadata: dict) -> None:
    """The recorded input shape must fit the model, and the class names its outputs."""
    shape = metadata.get("input_shape")
    if not shape:
        return
    out = model.output_shape((1, *shape))
    names = metadata.get("class_names")
    if out is not None and names and metadata.get("task", "classification") == "classification":
        if len(out) != 2 or out[1] != len(names):
            raise ModelFileError(
                f"{path}: {len(names)} class names recorded for {out[1]} outputs"
                if len(out) == 2
                else f"{path}: class names recorded for a model with outputs {out[1:]}"
            )


def load(path: str | os.PathLike) -> Module:
    """Rebuild the model stored in ``path`` (its metadata is on ``model.metadata``)."""
    return load_file(path)[0]
