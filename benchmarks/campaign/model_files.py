"""Damaged model files: random byte edits, header fields with wrong types or values,
byte ranges that overlap or leave gaps, damaged specs and metadata, integers past
int()'s 4,300 digits, headers that are not plain UTF-8 (a byte-order mark, UTF-16,
UTF-32), npz members that are extra, duplicated, compressed otherwise, encrypted or
lying about their size.

A file the reader accepts must give back exactly the model that was saved (damage
that changed nothing, such as a space turned into a tab, is fine); anything else it
accepts is garbage. Every case's file is damaged, so a refusal is a clean error.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile
from pathlib import Path

import numpy as np

from .harness import Case, Outcome, api_error

TARGET = "model files"


def base_files(tmp: Path) -> dict[str, tuple[bytes, object, dict]]:
    """name -> (file bytes, model, metadata) for two models in both containers."""
    import barenet as bn

    bn.seed(0)
    mlp = bn.Sequential(bn.Linear(12, 8), bn.ReLU(), bn.Linear(8, 3))
    cnn = bn.Sequential(
        bn.Conv2d(1, 2, 3, padding=1), bn.BatchNorm2d(2), bn.ReLU(), bn.MaxPool2d(2),
        bn.Residual(bn.Sequential(bn.Conv2d(2, 2, 3, padding=1), bn.Tanh())),
        bn.Flatten(), bn.Linear(18, 4),
    )  # fmt: skip
    norm = {"range": [0.0, 1.0], "invert": False}
    metas = {
        "mlp": {"class_names": ["a", "b", "c"], "input_shape": [12], "normalisation": norm},
        "cnn": {"class_names": list("wxyz"), "input_shape": [1, 6, 6], "task": "classification"},
    }
    out = {}
    for name, model in (("mlp", mlp), ("cnn", cnn)):
        for suffix in (".safetensors", ".npz"):
            path = bn.save(model, tmp / f"{name}{suffix}", metas[name])
            out[f"{name}{suffix}"] = (path.read_bytes(), model, metas[name])
    return out


def _same(loaded, model, meta) -> str | None:
    """What differs between the loaded (model, metadata) and the saved ones."""
    got, got_meta = loaded
    if got.spec() != model.spec():
        return "another architecture"
    if got_meta != meta:
        return "other metadata"
    a, b = got.state_dict(), model.state_dict()
    if list(a) != list(b):
        return "other tensors"
    for k in b:
        if a[k].dtype != b[k].dtype or not np.array_equal(a[k], b[k]):
            return f"other values in {k}"
    return None


def _check(path: Path, model, meta, never_valid: bool = False) -> None:
    """Load the damaged file: a refusal must name it; acceptance is fine only when the
    model came back whole and the damage (``never_valid``: a header in another
    encoding, which the format forbids however it decodes) could be harmless."""
    from barenet.io import load_file

    try:
        loaded = load_file(path)
    except BaseException as exc:  # noqa: BLE001 - classified
        o = api_error(exc, valid=False)
        if o.kind == "clean" and str(path) not in str(exc):
            o = Outcome("unclear", "the file is not named: " + o.detail)
        raise o from None
    if never_valid:
        raise Outcome("garbage", "a header that is not plain UTF-8 accepted")
    why = _same(loaded, model, meta)
    if why is None:
        raise Outcome("ok", "the damage changed nothing")
    raise Outcome("garbage", f"accepted with {why}")


# -- damage -----------------------------------------------------------------------------


def byte_edits(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    b = bytearray(data)
    ops = []
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["flip", "set", "insert", "delete", "truncate", "repeat"])
        # Headers are small: half of the edits land in the first 10 %.
        hi = max(1, len(b) // 10 if rng.random() < 0.5 else len(b))
        i = rng.randrange(hi)
        if op == "flip" and b:
            b[i % len(b)] ^= 1 << rng.randrange(8)
        elif op == "set" and b:
            b[i % len(b)] = rng.randrange(256)
        elif op == "insert":
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == "delete" and b:
            del b[i : i + rng.randint(1, 8)]
        elif op == "truncate":
            del b[i:]
        elif op == "repeat":
            b[i:i] = b[i : i + rng.randint(1, 64)]
        ops.append(op)
    return bytes(b), "+".join(ops)


NASTY = [
    "4", 4.5, 1e30, -1, 2**64, 2**63, [], {}, None, True, [4], [2**31, 2**31, 4], "F32",
    [0, 2**62], [-8, 8], [1.5, 2], [[1]], "", "x" * 10000,
]  # fmt: skip
_TEXT_NUMBERS = ["Infinity", "-Infinity", "NaN", "1e400", "00", "-0", "1E2"]


def _split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _join(header_text: str, body: bytes) -> bytes:
    hb = header_text.encode("utf-8", "surrogatepass")
    return struct.pack("<Q", len(hb)) + hb + body


def header_edit(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    header, body = _split(data)
    names = [k for k in header if k != "__metadata__"]
    t = rng.choice(names)
    kind = rng.choice(
        ["field", "field", "text-number", "duplicate", "overlap", "gap", "swap", "drop",
         "extra-key", "deep", "length"]
    )  # fmt: skip
    if kind == "field":
        f = rng.choice(["dtype", "shape", "data_offsets"])
        v = rng.choice(NASTY + ["F64", "I64", "BOOL", "F128", "U16"])
        header[t][f] = v
        return _join(json.dumps(header), body), f"{f}={str(v)[:20]}"
    if kind == "text-number":
        text = json.dumps(header)
        old = json.dumps(header[t]["shape"])
        new = old.replace("[", "[" + rng.choice(_TEXT_NUMBERS) + ", ", 1) if old != "[]" else old
        return _join(text.replace(old, new, 1), body), "shape with " + new[:20]
    if kind == "duplicate":
        text = json.dumps(header)
        entry = json.dumps(header[t])
        return _join(text.replace(entry, entry[:-1] + ', "shape": [1]}', 1), body), "duplicate"
    if kind in ("overlap", "gap"):
        lo, hi = header[t]["data_offsets"]
        d = rng.choice([-8, -4, -1, 1, 4, 8]) * (1 if kind == "gap" else -1)
        header[t]["data_offsets"] = [lo + d, hi + d]
        return _join(json.dumps(header), body + (b"\0" * max(d, 0))), f"{kind} of {d}"
    if kind == "swap" and len(names) > 1:
        u = rng.choice([n for n in names if n != t])
        header[t]["data_offsets"], header[u]["data_offsets"] = (
            header[u]["data_offsets"],
            header[t]["data_offsets"],
        )
        return _join(json.dumps(header), body), "swapped offsets"
    if kind == "drop":
        del header[t]
        return _join(json.dumps(header), body), "entry dropped"
    if kind == "extra-key":
        header[t]["extra"] = 1
        return _join(json.dumps(header), body), "extra key"
    if kind == "deep":
        depth = rng.choice([100, 1000, 100_000])
        text = json.dumps(header)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
        return _join(text, body), f"nesting {depth}"
    # A header length that lies.
    n = struct.unpack("<Q", data[:8])[0] + rng.choice([-3, -1, 1, 7, 2**40, 2**63])
    return struct.pack("<Q", n % 2**64) + data[8:], "header length"


def text_edit(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """The header's text: an integer past int()'s 4,300 digits, or the header in an
    encoding other than plain UTF-8 (a byte-order mark, UTF-16, UTF-32)."""
    (n,) = struct.unpack("<Q", data[:8])
    text, body = data[8 : 8 + n].decode("utf-8"), data[8 + n :]
    kind = rng.choice(["long-int", "long-int", "bom", "utf-16", "utf-16-be", "utf-32"])
    if kind == "long-int":
        digits = rng.choice([4301, 5000, 20_000])
        key = rng.choice(['"shape": [', '"data_offsets": ['])
        if key not in text:
            key = key.replace(" ", "")
        hb = text.replace(key, key + rng.choice(["", "-"]) + "7" * digits + ", ", 1).encode()
        return struct.pack("<Q", len(hb)) + hb + body, f"{key[1:6]} with {digits} digits"
    hb = b"\xef\xbb\xbf" + text.encode() if kind == "bom" else text.encode(kind)
    return struct.pack("<Q", len(hb)) + hb + body, f"encoding {kind}"


_SPECS = [
    {"type": "Sequential", "config": []},
    {"type": "Sequential", "config": None},
    {"type": "Sequential", "config": {"layers": None}},
    {"type": "Sequential", "config": {"layers": "x"}},
    {"type": "Sequential", "config": {"layers": [3]}},
    {"type": "Linear", "config": {"in_features": "12", "out_features": 3}},
    {"type": "Linear", "config": {"in_features": 12.0, "out_features": 3}},
    {"type": "Linear", "config": {"in_features": 1e30, "out_features": 3}},
    {"type": "Linear", "config": {"in_features": 100_000, "out_features": 100_000}},
    {"type": "Linear", "config": {"in_features": 10**7, "out_features": 10**6}},
    {"type": "Residual", "config": {}},
    {"type": "Nope", "config": {}},
    {"type": ["Linear"]},
    [1, 2],
    None,
    7,
]


def meta_edit(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    header, body = _split(data)
    m = header["__metadata__"]
    kind = rng.choice(["version", "format", "spec", "spec-text", "metadata", "metadata", "type"])
    if kind == "version":
        m["version"] = rng.choice(["999", "2", "", "1.0", "0"])
    elif kind == "format":
        m["format"] = rng.choice(["", "barenet2", "pt"])
    elif kind == "spec":
        m["spec"] = json.dumps(rng.choice(_SPECS))
    elif kind == "spec-text":
        depth = rng.choice([200, 5000])
        m["spec"] = rng.choice(
            ["{", "[" * depth + "]" * depth, '{"type": "Linear", "type": "ReLU"}', "NaN"]
        )
    elif kind == "metadata":
        meta = json.loads(m["metadata"])
        choice = rng.choice(
            [
                ("normalisation", "x"),
                ("normalisation", {"invert": "yes"}),
                ("class_names", meta.get("class_names", ["a"])[:1]),
                ("class_names", [1, 2, 3]),
                ("class_names", "abc"),
                ("input_shape", [0]),
                ("input_shape", "12"),
                ("input_shape", [2.5]),
                ("task", "magic"),
                (None, "[1, 2]"),
                (None, "{"),
                (None, "null"),
            ]
        )
        key, value = choice
        if key is None:
            m["metadata"] = value
        else:
            meta[key] = value
            m["metadata"] = json.dumps(meta)
        kind = f"metadata {key}={str(value)[:20]}"
    else:  # a value of another JSON type where a string is due
        k = rng.choice(["spec", "metadata", "version", "format"])
        m[k] = rng.choice([1, None, [1], {"a": 1}, True])
        kind = f"{k} not a string"
    return _join(json.dumps(header), body), kind


def _patch_zip_field(data: bytes, cd_offset: int, fmt: str, value) -> bytes:
    raw = bytearray(data)
    for sig, off in ((b"PK\x01\x02", cd_offset), (b"PK\x03\x04", cd_offset - 2)):
        i = raw.find(sig)
        while i >= 0:
            struct.pack_into(fmt, raw, i + off, value)
            i = raw.find(sig, i + 4)
    return bytes(raw)


def npz_edit(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    kind = rng.choice(
        ["extra", "not-npy", "duplicate", "drop", "method", "encrypted", "liar", "object",
         "meta", "bytes"]
    )  # fmt: skip
    if kind == "bytes":
        return byte_edits(data, rng)
    if kind == "method":
        m = rng.choice([1, 9, 12, 14, 95, 99])
        return _patch_zip_field(data, 10, "<H", m), f"compression method {m}"
    if kind == "encrypted":
        return _patch_zip_field(data, 8, "<H", 0x1), "encrypted flag"
    src = zipfile.ZipFile(io.BytesIO(data))
    members = {n: src.read(n) for n in src.namelist()}
    out = io.BytesIO()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(out, "w") as z:
            names = [n for n in members if n != "__barenet__.npy"]
            victim = rng.choice(names)
            for n, blob in members.items():
                if kind == "drop" and n == victim:
                    continue
                if kind == "meta" and n == "__barenet__.npy":
                    meta = json.loads(np.load(io.BytesIO(blob)).tobytes())
                    meta[rng.choice(["version", "spec", "metadata"])] = rng.choice(
                        ["999", "[1, 2]", '{"type": "Sequential", "config": null}', "{"]
                    )
                    arr = np.frombuffer(json.dumps(meta).encode(), np.uint8)
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, arr)
                    blob = buf.getvalue()
                if kind == "liar" and n == victim:
                    buf = io.BytesIO()
                    shape = rng.choice([(2**20, 2**21), (2**40,), (3, 3), (0,)])
                    np.lib.format.write_array_header_1_0(
                        buf, {"descr": "<f4", "fortran_order": False, "shape": shape}
                    )
                    blob = buf.getvalue() + blob[len(buf.getvalue()) :]
                z.writestr(n, blob)
            if kind == "extra":
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.zeros(3, np.float32))
                z.writestr("extra.npy", buf.getvalue())
            elif kind == "not-npy":
                z.writestr("notes.txt", b"hello")
            elif kind == "duplicate":
                z.writestr(victim, members[victim])
            elif kind == "object":
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.array([{"a": 1}], dtype=object))
                z.writestr("evil.npy", buf.getvalue())
    return out.getvalue(), kind


def cases(rng: random.Random, n: int, bases: dict) -> list[Case]:
    out = []
    names = sorted(bases)
    for _ in range(n):
        base = rng.choice(names)
        data, model, meta = bases[base]
        r = random.Random(rng.random())
        if base.endswith(".npz"):
            damaged, what = (npz_edit if r.random() < 0.7 else byte_edits)(data, r)
        else:
            edit = r.choices([byte_edits, header_edit, meta_edit, text_edit],
                             weights=[4, 4, 2, 1])[0]  # fmt: skip
            damaged, what = edit(data, r)
        suffix = Path(base).suffix
        never_valid = what.startswith("encoding")

        def run(work, damaged=damaged, model=model, meta=meta, suffix=suffix, nv=never_valid):
            path = Path(work) / f"m{suffix}"
            path.write_bytes(damaged)
            _check(path, model, meta, nv)

        out.append(Case(TARGET, f"{base} {what}", run))
    return out
