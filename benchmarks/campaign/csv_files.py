"""Damaged Kaggle digit CSVs (train.csv with labels, test.csv without): rows starting
with '#', '#' inside a field, blank lines, ragged rows, fields that are not integers
(1.0, 0x1, '', quotes, other scripts' digits, NUL, a million characters), values out
of range (integers past int()'s 4,300 digits among them), damaged headers, byte order
marks, CRLF line ends, random byte edits.

The verdict comes from a plain reading: every line after the header is one image of
integer fields. A reader that returns fewer or more images than the file has data
lines loses data silently (a test.csv row dropped shifts every later ImageId); one
that accepts what the plain reading refuses accepts garbage.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np

from .harness import Case, Outcome, api_error

TARGET = "Kaggle CSVs"
_PIXELS = [f"pixel{i}" for i in range(784)]
_FIELD = re.compile(rb"[ \t]*[+-]?[0-9]+[ \t\r]*")


def _int(field: bytes) -> int:
    """The field's value; one of more digits than int() reads (4300) is out of range
    for any pixel or label, so 10**30 stands for it."""
    bare = field.strip(b" \t\r")
    digits = bare.lstrip(b"+-").lstrip(b"0")
    if len(digits) > 30:
        return 10**30
    return -int(digits or b"0") if bare.startswith(b"-") else int(digits or b"0")


def plain_reading(data: bytes, labeled: bool):
    """(pixels, labels or None, data lines) or (None, None, data lines) if invalid."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    body = lines[1:]
    header = (["label"] if labeled else []) + _PIXELS
    first = lines[0].split(b",") if lines else []
    if [f.strip().strip(b'"').decode("utf-8", "replace") for f in first] != header:
        return None, None, len(body)
    rows = []
    for line in body:
        fields = line.split(b",")
        if len(fields) != len(header) or not all(_FIELD.fullmatch(f) for f in fields):
            return None, None, len(body)
        rows.append([_int(f) for f in fields])
    if not rows:
        return None, None, 0
    a = np.array(rows, dtype=object)
    px, y = (a[:, 1:], a[:, 0]) if labeled else (a, None)
    if px.min() < 0 or px.max() > 255 or (labeled and (y.min() < 0 or y.max() > 9)):
        return None, None, len(body)
    return px.astype(np.int64), None if y is None else y.astype(np.int64), len(body)


def _valid(rng: random.Random, labeled: bool) -> list[list[str]]:
    n = rng.randint(1, 12)
    g = np.random.default_rng(rng.randrange(2**32))
    rows = g.integers(0, 256, (n, 784)).astype(str).tolist()
    if labeled:
        rows = [[str(g.integers(0, 10))] + r for r in rows]
    return rows


_BAD_FIELDS = [
    "#12", "12#34", "#", "", " ", "1.0", "1e2", "0x1f", "1_0", '"7"', "٣", "\x00", "1 2", "--3",
    "+-3", "256", "-1", "99999999999999999999999", "nan", "x" * 1_000_000, "١٢", "9" * 4301,
    "-" + "1" * 5000,
]  # fmt: skip
_OK_FIELDS = [" 7", "+8", "\t9", "0", "255", "007", "0" * 4400 + "7"]


def _damage(rows: list[list[str]], labeled: bool, rng: random.Random) -> tuple[str, str]:
    header = ",".join((["label"] if labeled else []) + _PIXELS)
    kind = rng.choice(
        ["hash-row", "field", "field", "ok-field", "blank", "ragged", "label", "header",
         "bom", "crlf", "trailing-blank", "empty", "header-only", "none"]
    )  # fmt: skip
    i = rng.randrange(len(rows))
    if kind == "hash-row":
        rows[i][0] = "#" + rows[i][0]
    elif kind == "field":
        rows[i][rng.randrange(len(rows[i]))] = rng.choice(_BAD_FIELDS)
    elif kind == "ok-field":
        rows[i][rng.randrange(len(rows[i]))] = rng.choice(_OK_FIELDS)
    elif kind == "ragged":
        if rng.random() < 0.5:
            rows[i].append("0")
        else:
            rows[i].pop()
    elif kind == "label" and labeled:
        rows[i][0] = rng.choice(["10", "-1", "3.0", "a"])
    elif kind == "header":
        header = rng.choice(
            [header.replace("pixel5,", "pixel5,pixel5,", 1), "x" * 1_000_000 + header[5:],
             header.replace("label,", "", 1), "label," + header, header.upper()]
        )  # fmt: skip
    lines = [header, *(",".join(r) for r in rows)]
    if kind == "blank":
        lines.insert(rng.randint(1, len(lines)), rng.choice(["", " ", "#"]))
    end = "\n"
    if kind == "crlf":
        end = "\r\n"
    text = end.join(lines) + (end if rng.random() < 0.8 else "")
    if kind == "trailing-blank":
        text += "\n\n  \n"
    elif kind == "bom":
        text = "\ufeff" + text
    elif kind == "empty":
        text = ""
    elif kind == "header-only":
        text = header + "\n"
    return text, kind


def cases(rng: random.Random, n: int) -> list[Case]:
    out = []
    for _ in range(n):
        r = random.Random(rng.random())
        labeled = r.random() < 0.5
        text, what = _damage(_valid(r, labeled), labeled, r)
        data = text.encode("utf-8", "surrogatepass")
        if r.random() < 0.1:  # random byte edits on top
            b = bytearray(data)
            for _ in range(r.randint(1, 3)):
                if b:
                    b[r.randrange(len(b))] = r.randrange(256)
            data, what = bytes(b), what + "+bytes"

        def run(work, data=data, labeled=labeled):
            from barenet.data import read_digit_csv

            path = Path(work) / ("train.csv" if labeled else "test.csv")
            path.write_bytes(data)
            px, y, n_lines = plain_reading(data, labeled)
            try:
                x, got_y = read_digit_csv(path, labeled=labeled)
            except BaseException as exc:  # noqa: BLE001 - classified
                o = api_error(exc, valid=px is not None)
                if o.kind == "clean" and n_lines and "line" not in str(exc):
                    o = Outcome("unclear", "no line number: " + o.detail)
                raise o from None
            if len(x) != n_lines:
                raise Outcome("loss", f"{len(x)} images from {n_lines} data lines")
            if px is None:
                raise Outcome("garbage", f"accepted {len(x)} rows the plain reading refuses")
            if not np.allclose(x.reshape(len(x), -1) * 255, px, atol=1e-3) or (
                labeled and not np.array_equal(got_y, y)
            ):
                raise Outcome("loss", "values differ from the file's")
            raise Outcome("ok")

        out.append(Case(TARGET, what, run))
    return out

