"""IDX sizes are checked against the header before the body is read or inflated."""

from __future__ import annotations

import gzip
import math
import tracemalloc
import zlib

import numpy as np
import pytest

from barenet.core import memory
from barenet.data import read_idx
from barenet.data.idx import read_idx_bytes


def header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()


def _bomb(path, head: bytes, zeros: int):
    """``head`` then ``zeros`` zero bytes, gzip-compressed (about 1000:1)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts, block = [c.compress(head)], bytes(2**20)
    for _ in range(zeros // len(block)):
        parts.append(c.compress(block))
    path.write_bytes(b"".join(parts) + c.flush())
    return path


def test_a_gzip_bomb_is_refused_after_its_header_not_after_inflating(tmp_path):
    path = _bomb(tmp_path / "bomb.gz", header(0x08, (1000,)), 64 * 2**20)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"oversized IDX payload.*gzip data holds more"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # the 64 MiB behind the header were never inflated


def test_a_header_claiming_more_than_gzip_can_hold_is_refused_before_inflating(tmp_path):
    path = tmp_path / "liar.gz"
    path.write_bytes(gzip.compress(header(0x08, (60000, 28, 28))[:16] + bytes(100)))
    with pytest.raises(ValueError, match=r"more than a \d+-byte gzip file can hold"):
        read_idx(path)


def test_an_honest_large_gzip_file_is_read(tmp_path):
    path = _bomb(tmp_path / "big.gz", header(0x08, (16, 2**20)), 16 * 2**20)
    a = read_idx(path)
    assert a.shape == (16, 2**20) and a.dtype == np.uint8 and not a.any()
    a[0, 0] = 1  # a writable array


@pytest.mark.parametrize(
    "dims", [(2**31, 2**31, 4), (2**32 - 1,) * 4, (65536, 65536, 65536, 65536)]
)
@pytest.mark.parametrize("gz", [False, True])
def test_dims_whose_product_wraps_int64_are_refused(tmp_path, dims, gz):
    # (2**31, 2**31, 4) ubytes: 2**64 bytes, which int64 arithmetic wraps to 0.
    data = header(0x08, dims)
    path = tmp_path / "wrap.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=f"= {math.prod(dims)} bytes"):
        read_idx(path)


def test_multi_member_gzip_and_zero_padding_are_read(tmp_path):
    arr = np.arange(300, dtype=np.uint8).reshape(3, 100)
    raw = header(0x08, (3, 100)) + arr.tobytes()
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(raw[:150]) + gzip.compress(raw[150:]) + bytes(64))
    np.testing.assert_array_equal(read_idx(path), arr)


@pytest.mark.parametrize(
    "tail, match",
    [(b"garbage!", "gzip"), (gzip.compress(b"x"), "oversized"), (b"\x1f\x8b", "gzip")],
    ids=["garbage", "extra-member", "half-a-header"],
)
def test_anything_after_the_payload_is_refused(tmp_path, tail, match):
    path = tmp_path / "tail.gz"
    path.write_bytes(gzip.compress(header(0x08, (4,)) + bytes(4)) + tail)
    with pytest.raises(ValueError, match=match):
        read_idx(path)


def test_a_raw_file_is_checked_against_its_size_before_reading(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(header(0x0D, (10, 10)) + bytes(399))
    with pytest.raises(ValueError, match=r"truncated IDX payload.*= 400 bytes, file has 399"):
        read_idx(path)


def test_a_payload_beyond_the_memory_available_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "m.idx"
    path.write_bytes(header(0x08, (1000,)) + bytes(1000))
    monkeypatch.setattr(memory, "SMALL", 0)
    monkeypatch.setattr(memory, "available_bytes", lambda: 500)
    with pytest.raises(memory.MemoryLimitError, match=r"IDX payload of shape \(1000,\) needs"):
        read_idx_bytes(path)
