import gzip
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barenet.data import parse_idx, read_idx, read_idx_pair, write_idx
from barenet.data.idx import IDX_DTYPES


def header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()


@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_roundtrip_every_dtype(tmp_path, code, suffix):
    dt = IDX_DTYPES[code].newbyteorder("=")
    arr = (np.arange(2 * 3 * 4) - 7).astype(dt).reshape(2, 3, 4)
    if dt.kind == "u":
        arr = np.arange(24, dtype=dt).reshape(2, 3, 4)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, arr)
    out = read_idx(path)
    assert out.dtype == dt and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable
    assert os.listdir(tmp_path) == [path.name]  # no temporary left behind


def test_header_is_big_endian_and_exact(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.array([1, 2, 3], dtype=np.int32))
    raw = path.read_bytes()
    assert raw[:4] == b"\x00\x00\x0c\x01"
    assert raw[4:8] == b"\x00\x00\x00\x03"
    assert raw[8:] == np.array([1, 2, 3], dtype=">i4").tobytes()


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "no-extension"
    write_idx(path, np.ones((2, 2), np.uint8), compress=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(path), np.ones((2, 2), np.uint8))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00", "shorter than the header"),
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", "magic"),
        (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x05", "type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02", "truncated IDX header"),
        (header(0x08, (2, 3)) + bytes(5), "truncated IDX payload"),
        (header(0x08, (2, 3)) + bytes(7), "oversized IDX payload"),
        (header(0x0C, (2,)) + bytes(4), "truncated IDX payload"),
    ],
)
def test_bad_files_name_file_and_problem(tmp_path, data, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_mnist_file_with_16_byte_offset_of_wrong_kind_is_rejected(tmp_path):
    # a labels file (8-byte header) must not be read as images by skipping 16 bytes
    path = tmp_path / "labels.idx"
    write_idx(path, np.arange(20, dtype=np.uint8))
    assert read_idx(path).shape == (20,)
    images = tmp_path / "images.idx"
    write_idx(images, np.zeros((20, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"expected images of shape \(N, H, W\)"):
        read_idx_pair(path, images)


def test_corrupt_and_truncated_gzip(tmp_path):
    good = gzip.compress(header(0x08, (100,)) + bytes(range(100)))
    truncated = tmp_path / "t.gz"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="gzip") as info:
        read_idx(truncated)
    assert str(truncated) in str(info.value)
    flipped = bytearray(good)
    flipped[-6] ^= 0xFF  # inside the CRC32 trailer
    corrupt = tmp_path / "c.gz"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="gzip"):
        read_idx(corrupt)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.idx"):
        read_idx(tmp_path / "missing.idx")


def test_pair_count_mismatch(tmp_path):
    write_idx(tmp_path / "img.gz", np.zeros((5, 28, 28), np.uint8))
    write_idx(tmp_path / "lab.gz", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images.*4 labels"):
        read_idx_pair(tmp_path / "img.gz", tmp_path / "lab.gz")
    write_idx(tmp_path / "lab.gz", np.arange(5, dtype=np.uint8))
    images, labels = read_idx_pair(tmp_path / "img.gz", tmp_path / "lab.gz")
    assert images.shape == (5, 28, 28) and labels.dtype == np.int64


def test_write_rejects_unsupported_dtype_without_leaving_a_file(tmp_path):
    with pytest.raises(TypeError, match="no IDX type code"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))
    assert os.listdir(tmp_path) == []


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    code=st.sampled_from(sorted(IDX_DTYPES)),
)
def test_parse_roundtrip_property(shape, code):
    dt = IDX_DTYPES[code]
    arr = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape) % 100
    data = header(code, tuple(shape)) + arr.astype(dt).tobytes()
    out = parse_idx(data)
    assert out.shape == tuple(shape)
    np.testing.assert_array_equal(out, arr.astype(dt.newbyteorder("=")))
    with pytest.raises(ValueError, match="oversized"):
        parse_idx(data + b"\x00")
