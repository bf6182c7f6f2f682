"""Damaged IDX files, raw and gzip: wrong magic, type codes and dimension counts,
dimensions that overflow or wrap int64, payloads too short or too long, gzip streams
cut short, with flipped bits, trailing bytes or extra members, and bombs (a small
header followed by far more zeros than it declares); and whole MNIST folders whose
training and test images differ in size, which must be refused naming both files.

The verdict comes from a plain reading of the same bytes (Python's gzip module, read
in bounded steps): if that reading is valid the reader must return the same array,
otherwise it must refuse.
"""

from __future__ import annotations

import gzip
import math
import random
import zlib
from pathlib import Path

import numpy as np

from .harness import Case, Outcome, api_error

TARGET = "IDX files"
_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def plain_reading(path: Path, compressed: bool):
    """The array a correct reader gives, or None where the file is not valid IDX."""
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _CODES:
                return None
            ndim = head[3]
            if not 1 <= ndim <= 32:
                return None
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                return None
            dims = [int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim)]
            dt = np.dtype(_CODES[head[2]])
            if math.prod(d for d in dims if d) * dt.itemsize >= 2**63:
                return None
            size = math.prod(dims) * dt.itemsize
            if size > 2**30:  # more than any case builds: the file cannot hold it
                return None
            body = f.read(size + 1)
            if len(body) != size:
                return None
            return np.frombuffer(body, dtype=dt).reshape(dims)
    except (OSError, EOFError, zlib.error, ValueError):
        return None


def _valid(rng: random.Random) -> bytes:
    code = rng.choice(list(_CODES))
    dims = rng.choice([(20, 28, 28), (20,), (3, 4), (2, 3, 4, 5), (0, 5), (7,)])
    dt = np.dtype(_CODES[code])
    data = np.random.default_rng(rng.randrange(2**32)).integers(0, 100, dims).astype(dt)
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, ">u4").tobytes() + data.tobytes()


def _damage(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    b = bytearray(raw)
    kind = rng.choice(
        ["magic", "code", "ndim", "dim", "wrap", "short", "long", "flip", "none", "none"]
    )
    if kind == "magic":
        b[rng.randrange(2)] = rng.randrange(1, 256)
    elif kind == "code":
        b[2] = rng.choice([0, 7, 0x0A, 0x0F, 255])
    elif kind == "ndim":
        b[3] = rng.choice([0, 1, 2, 5, 33, 100, 255])
    elif kind == "dim" and b[3]:
        i = 4 + 4 * rng.randrange(b[3])
        b[i : i + 4] = rng.choice([0, 1, 2**16, 2**31, 2**32 - 1]).to_bytes(4, "big")
    elif kind == "wrap":
        b = bytearray([0, 0, 0x08, 3]) + np.asarray([2**31, 2**31, 4], ">u4").tobytes()
        b += bytes(rng.choice([0, 16]))
    elif kind == "short":
        del b[len(b) - rng.randint(1, min(len(b), 40)) :]
    elif kind == "long":
        b += bytes(rng.randint(1, 40))
    elif kind == "flip" and b:
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b), kind


_ZEROS: dict[int, bytes] = {}


def _bomb(rng: random.Random) -> tuple[bytes, str]:
    """A gzip file (two members) of a small header then far more zeros than it
    declares, or of a header declaring far more than the file could hold."""
    zeros = rng.choice([16, 64, 128, 1024]) * 2**20
    declared = rng.choice([1000, 2**32 - 1] + ([zeros] if zeros <= 128 * 2**20 else []))
    if zeros not in _ZEROS:
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = bytes(2**20)
        _ZEROS[zeros] = b"".join(c.compress(block) for _ in range(zeros >> 20)) + c.flush()
    head = gzip.compress(bytes([0, 0, 8, 1]) + declared.to_bytes(4, "big"), mtime=0)
    return head + _ZEROS[zeros], f"bomb of {zeros >> 20} MiB declaring {declared}"


def _gzip_damage(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    z = bytearray(gzip.compress(raw, mtime=0))
    kind = rng.choice(["cut", "flip", "crc", "trailing", "member", "padding", "none"])
    if kind == "cut":
        del z[len(z) - rng.randint(1, min(len(z) - 1, 60)) :]
    elif kind == "flip":
        z[rng.randrange(10, len(z))] ^= 1 << rng.randrange(8)
    elif kind == "crc":
        z[-6] ^= 0xFF
    elif kind == "trailing":
        z += bytes(rng.randrange(1, 256) for _ in range(rng.randint(1, 9)))
    elif kind == "member":
        z += gzip.compress(bytes(rng.randint(1, 50)))
    elif kind == "padding":
        z += bytes(rng.randint(1, 64))
    return bytes(z), f"gzip {kind}"


_MNIST = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
          "t10k-labels-idx1-ubyte")  # fmt: skip


def _splits_case(r: random.Random) -> Case:
    """A whole MNIST folder whose training and test images may differ in size: it must
    load when they agree and be refused, naming both image files, when they do not."""
    sizes = [r.choice([(28, 28), (14, 14), (28, 27)]) for _ in range(2)]
    if r.random() < 0.5:
        sizes[1] = sizes[0]
    seed = r.randrange(2**32)

    def run(work, sizes=sizes, seed=seed):
        from barenet.data import load_dataset, write_idx

        g = np.random.default_rng(seed)
        arrays = [g.integers(0, 256, (n, *hw), dtype=np.uint8) for n, hw in zip((6, 3), sizes)]
        files = [Path(work) / f"{name}.gz" for name in _MNIST]
        write_idx(files[0], arrays[0])
        write_idx(files[1], g.integers(0, 10, 6).astype(np.uint8))
        write_idx(files[2], arrays[1])
        write_idx(files[3], g.integers(0, 10, 3).astype(np.uint8))
        valid = sizes[0] == sizes[1]
        try:
            split = load_dataset("mnist", work)
        except BaseException as exc:  # noqa: BLE001 - classified
            o = api_error(exc, valid=valid)
            if o.kind == "clean" and not (files[0].name in str(exc) and files[2].name in str(exc)):
                o = Outcome("unclear", "the two image files are not named: " + o.detail)
            raise o from None
        if not valid:
            raise Outcome("garbage", f"accepted training images of {sizes[0]}, test of {sizes[1]}")
        if split.x_train.shape[2:] != sizes[0] or tuple(split.input_shape[1:]) != sizes[0]:
            raise Outcome("loss", f"images {split.x_train.shape[2:]}, input_shape "
                          f"{split.input_shape}: the files hold {sizes[0]}")  # fmt: skip
        raise Outcome("ok")

    return Case(TARGET, f"splits {sizes[0]} and {sizes[1]}", run)


def cases(rng: random.Random, n: int) -> list[Case]:
    out = []
    for _ in range(n):
        r = random.Random(rng.random())
        if r.random() < 0.05:
            out.append(_splits_case(r))
            continue
        raw, what = _damage(_valid(r), r)
        compressed = r.random() < 0.5
        if compressed and r.random() < 0.08:
            data, what = _bomb(r)
        elif compressed:
            data, gz_what = _gzip_damage(raw, r)
            what = f"{what}, {gz_what}"
        else:
            data = raw

        def run(work, data=data, compressed=compressed):
            from barenet.data import read_idx

            path = Path(work) / ("f.idx.gz" if compressed else "f.idx")
            path.write_bytes(data)
            expected = plain_reading(path, compressed)
            try:
                got = read_idx(path)
            except BaseException as exc:  # noqa: BLE001 - classified
                raise api_error(exc, valid=expected is not None) from None
            if expected is None:
                raise Outcome("garbage", f"accepted an invalid file as {got.shape} {got.dtype}")
            if got.shape != expected.shape or not np.array_equal(got, expected):
                raise Outcome("loss", f"read {got.shape}, the file holds {expected.shape}")
            raise Outcome("ok")

        out.append(Case(TARGET, what, run))
    return out
