"""Property tests of the data readers against independent, plain-Python readings of the
same bytes: IDX files, Kaggle CSVs and image folders either read exactly what the
file holds or raise ValueError with a short message; nothing is dropped."""

from __future__ import annotations

import gzip
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barenet.data import load_image_folder, read_digit_csv, read_idx
from barenet.data.idx import IDX_DTYPES

# Derandomised: the same examples on every run, so CI never flakes; the long, random
# search is benchmarks/fault_campaign.py.
SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


# -- IDX ------------------------------------------------------------------------------


def idx_oracle(raw: bytes):
    """A plain reading of uncompressed IDX bytes: the array, or None if invalid."""
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES or not 0 < raw[3] <= 32:
        return None
    n = raw[3]
    if len(raw) < 4 + 4 * n:
        return None
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n)]
    dt = IDX_DTYPES[raw[2]]
    if math.prod(d for d in dims if d) * dt.itemsize >= 2**63:
        return None
    if len(raw) - 4 - 4 * n != math.prod(dims) * dt.itemsize:
        return None
    return np.frombuffer(raw[4 + 4 * n :], dtype=dt).reshape(dims)


@st.composite
def idx_bytes(draw):
    code = draw(st.sampled_from(sorted(IDX_DTYPES) + [0x07, 0x0A]))
    dims = draw(st.lists(st.integers(0, 6) | st.integers(0, 2**32 - 1), min_size=0, max_size=4))
    head = bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    size = IDX_DTYPES.get(code, np.dtype("u1")).itemsize
    want = math.prod(dims) * size if math.prod(dims) < 10_000 else 0
    body = draw(st.binary(min_size=0, max_size=8)) if draw(st.booleans()) else bytes(want)
    if draw(st.booleans()):
        body = bytes(want)
    raw = head + body
    if draw(st.booleans()):  # damage a byte of the header
        i = draw(st.integers(0, len(head) - 1))
        raw = raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1 :]
    return raw


@SETTINGS
@given(raw=idx_bytes(), gz=st.booleans(), cut=st.integers(0, 40))
def test_idx_reads_exactly_what_the_file_holds(raw, gz, cut):
    data = gzip.compress(raw) if gz else raw
    if gz and cut:  # a gzip stream cut short
        data = data[: max(0, len(data) - cut)]
    expected = idx_oracle(raw) if not (gz and cut) else None
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.idx"
        path.write_bytes(data)
        try:
            got = read_idx(path)
        except ValueError as exc:
            assert len(str(exc)) < 400 and str(path) in str(exc)
            assert expected is None, f"refused a valid file: {exc}"
            return
    assert expected is not None, "accepted an invalid file"
    assert got.shape == expected.shape and got.dtype == expected.dtype.newbyteorder("=")
    np.testing.assert_array_equal(got, expected)


# -- Kaggle CSV --------------------------------------------------------------------------

_FIELD = re.compile(r"[ \t]*[+-]?[0-9]+[ \t\r]*")


def csv_oracle(text: str, labeled: bool):
    """A plain reading: (pixels, labels) or None where any line or field is bad."""
    lines = [ln.decode("utf-8") for ln in text.encode("utf-8").splitlines()]  # \n, \r, \r\n
    while lines and not lines[-1].strip():
        lines.pop()
    header = ",".join((["label"] if labeled else []) + [f"pixel{i}" for i in range(784)])
    if not lines or lines[0].rstrip("\r") != header or len(lines) < 2:
        return None
    rows = []
    for line in lines[1:]:
        fields = line.split(",")
        if len(fields) != 784 + labeled or not all(_FIELD.fullmatch(f) for f in fields):
            return None
        rows.append([int(f) for f in fields])
    a = np.array(rows, dtype=np.int64)
    px = a[:, 1:] if labeled else a
    if px.min() < 0 or px.max() > 255 or (labeled and (a[:, 0].min() < 0 or a[:, 0].max() > 9)):
        return None
    return px, (a[:, 0] if labeled else None)


fields = st.one_of(
    st.integers(0, 255).map(str),
    st.sampled_from(["#1", "12#34", "", " 7", "+8", "-1", "256", "1.0", "0x1", "٣", "1 2", "\t3"]),
    st.text(alphabet="0123456789#.,- e\r", max_size=4),
)


@st.composite
def csv_text(draw):
    labeled = draw(st.booleans())
    n = draw(st.integers(1, 4))
    rows = []
    for _ in range(n):
        row = ["0"] * (784 + labeled)
        for _ in range(draw(st.integers(0, 3))):
            row[draw(st.integers(0, len(row) - 1))] = draw(fields)
        if labeled and draw(st.booleans()):
            row[0] = str(draw(st.integers(-1, 11)))
        rows.append(",".join(row))
    if draw(st.booleans()):
        rows.insert(draw(st.integers(0, len(rows))), draw(st.sampled_from(["", "#", " "])))
    header = ",".join((["label"] if labeled else []) + [f"pixel{i}" for i in range(784)])
    end = draw(st.sampled_from(["\n", "\n\n", ""]))
    return labeled, "\n".join([header, *rows]) + end


@SETTINGS
@given(case=csv_text())
def test_csv_reads_every_line_or_says_which_is_wrong(case):
    labeled, text = case
    expected = csv_oracle(text, labeled)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.csv"
        path.write_bytes(text.encode("utf-8"))
        try:
            x, y = read_digit_csv(path, labeled=labeled)
        except ValueError as exc:
            assert len(str(exc)) < 300 and "line" in str(exc)
            assert expected is None, f"refused a valid file: {exc}"
            return
    assert expected is not None, "accepted an invalid file"
    px, labels = expected
    assert x.shape == (len(px), 1, 28, 28)  # one image per data line: none dropped
    np.testing.assert_allclose(x.reshape(len(px), -1) * 255, px, atol=1e-3)
    if labeled:
        np.testing.assert_array_equal(y, labels)


# -- image folders -----------------------------------------------------------------------

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

_KINDS = ["L", "I;16", "RGB", "RGBA", "P", "corrupt", "empty", "text", "hidden", "nested"]


def _write_image(path: Path, kind: str, value: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "corrupt":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not an image")
    elif kind == "I;16":
        Image.fromarray(np.full((6, 6), value * 257, np.uint16)).save(path)
    else:
        mode = "L" if kind in ("hidden", "nested") else kind
        colour = value if mode in ("L", "P") else (value,) * 3 + (255,) * (mode == "RGBA")
        im = Image.new(mode, (6, 6), colour)
        if mode == "P":  # a palette whose entry `value` is that grey
            im.putpalette([c for v in range(256) for c in (v, v, v)])
        im.save(path)


@SETTINGS
@given(
    tree=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(_KINDS), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    )
)
def test_folders_read_every_image_or_name_the_bad_file(tree):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        expected: dict[str, list[float]] = {}
        bad = False
        for i, (cls, kind, value) in enumerate(tree):
            name = f"{i}.png"
            if kind == "hidden":
                path = root / cls / f".{name}"
            elif kind == "nested":
                path = root / cls / "deeper" / name
            elif kind == "text":
                path = root / cls / f"{i}.txt"
            else:
                path = root / cls / name
            _write_image(path, kind, value)
            expected.setdefault(cls, [])
            if kind in ("corrupt", "empty"):
                bad = True
            elif kind not in ("hidden", "text"):
                expected[cls].append(value / 255)
        empty_class = any(not v for v in expected.values())
        try:
            x, y, names = load_image_folder(root, (6, 6))
        except ValueError as exc:
            assert len(str(exc)) < 400
            assert bad or empty_class, f"refused a valid folder: {exc}"
            return
        assert not bad and not empty_class, "accepted a folder with a bad image"
        assert names == sorted(expected)
        got = sorted(float(v) for v in x[:, 0, 0, 0])
        want = sorted(v for vals in expected.values() for v in vals)
        np.testing.assert_allclose(got, want, atol=1 / 255)  # none dropped, none clipped
