"""The strict model-file reader: every header field checked before anything is allocated
or built, every problem a ModelFileError (a ValueError) that names the file."""

from __future__ import annotations

import json
import struct
import zipfile

import numpy as np
import pytest

import barenet as bn
from barenet import io as bio
from barenet.core.memory import MemoryLimitError


def _model():
    return bn.Sequential(bn.Linear(3, 4), bn.ReLU(), bn.Linear(4, 2))


def _meta(model=None, **changes) -> dict:
    meta = dict(bio._pack(model or _model(), {"class_names": ["a", "b"], "input_shape": [3]}))
    meta.update(changes)
    return meta


def _entries(state: dict) -> tuple[dict, bytes]:
    header, body = {}, b""
    for k, a in state.items():
        a = np.asarray(a)
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[k] = {
            "dtype": bio._CODES[a.dtype],
            "shape": list(a.shape),
            "data_offsets": [len(body), len(body) + len(raw)],
        }
        body += raw
    return header, body


def _write(path, header_text: str, body: bytes):
    hb = header_text.encode()
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + body)
    return path


def _file(tmp_path, edit=None, meta=None, text_edit=None, name="m.safetensors"):
    """A valid model file's header as a dict, changed by ``edit(header)`` and, as text,
    by ``text_edit``; written with the original body."""
    header, body = _entries(_model().state_dict())
    header["__metadata__"] = meta or _meta()
    if edit:
        edit(header)
    text = json.dumps(header)
    if text_edit:
        text = text_edit(text)
    return _write(tmp_path / name, text, body)


def _bad(path, match):
    with pytest.raises(bn.ModelFileError, match=match) as info:
        bio.load_file(path)
    assert str(path) in str(info.value)
    assert len(str(info.value)) < 1000
    return info.value


def test_a_valid_handmade_file_loads(tmp_path):
    model, meta = bio.load_file(_file(tmp_path))
    assert meta["class_names"] == ["a", "b"]
    assert model(np.ones((1, 3), np.float32)).shape == (1, 2)


def _offsets(name, lo, hi):
    def edit(h):
        h[name]["data_offsets"] = [lo, hi]

    return edit


def _shift(h, name, delta):
    lo, hi = h[name]["data_offsets"]
    h[name]["data_offsets"] = [lo + delta, hi + delta]


@pytest.mark.parametrize(
    "edit, match",
    [
        # "0.weight" is bytes 0..48, "0.bias" 48..64, "2.weight" 64..96, "2.bias" 96..104
        (lambda h: _shift(h, "0.bias", -4), "overlaps|gap"),
        (lambda h: (_shift(h, "0.bias", 4), _shift(h, "2.weight", 4)), "gap|overlap"),
        (lambda h: h["2.bias"].update(data_offsets=[0, 8]), "overlaps"),
        (lambda h: h["0.bias"].update(data_offsets=["48", "64"]), "two integers"),
        (lambda h: h["0.bias"].update(data_offsets=[48.0, 64.0]), "two integers"),
        (lambda h: h["0.bias"].update(data_offsets=[48, 64, 80]), "two integers"),
        (lambda h: h["0.bias"].update(shape=["4"]), "list of integers"),
        (lambda h: h["0.bias"].update(shape=[4.5]), "list of integers"),
        (lambda h: h["0.bias"].update(shape=[1e30]), "list of integers"),
        (lambda h: h["0.bias"].update(shape=[True, 4]), "list of integers"),
        (lambda h: h["0.bias"].update(shape=[-4]), "out of range"),
        (lambda h: h["0.bias"].update(shape=[0, 2**63]), "out of range"),
        (lambda h: h["0.bias"].update(shape=[2**40, 2**40, 0, 2**40]), "too many"),
        (lambda h: h["0.bias"].update(shape=[2**31, 2**31]), "bytes for shape"),
        (lambda h: h["0.bias"].update(dtype="F128"), "unknown dtype"),
        (lambda h: h["0.bias"].update(dtype=["F32"]), "unknown dtype"),
        (lambda h: h["0.bias"].update(extra=1), "exactly"),
        (lambda h: h.update({"0.bias": [1, 2]}), "exactly"),
        (lambda h: h.update(__metadata__={**h["__metadata__"], "version": 1}), "strings"),
        (lambda h: h.update(__metadata__=[1]), "strings"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_tensor_entries_are_refused(tmp_path, edit, match):
    _bad(_file(tmp_path, edit), match)


def test_a_byte_after_the_tensors_is_refused(tmp_path):
    path = _file(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0")
    _bad(path, "unexplained bytes")


@pytest.mark.parametrize(
    "text_edit, match",
    [
        (lambda t: t.replace('"shape": [4]', '"shape": [Infinity]', 1), "not a JSON number"),
        (lambda t: t.replace('"shape": [4]', '"shape": [NaN]', 1), "not a JSON number"),
        (lambda t: t.replace('"shape": [4]', '"shape": [4], "shape": [4]', 1), "duplicate key"),
        (lambda t: t.replace('{"0.weight"', '{"0.bias": {}, "0.weight"', 1), "duplicate key"),
        (lambda t: t[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
        (lambda t: t[:-1] + ', "x": ' + "{" * 100_000, "nested"),
        (lambda t: t + "\x00\x00", "not valid JSON"),
    ],
    ids=["Infinity", "NaN", "dup-in-entry", "dup-tensor", "deep-list", "deep-open", "trailing"],
)
def test_bad_header_json_is_refused(tmp_path, text_edit, match):
    _bad(_file(tmp_path, text_edit=text_edit), match)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"version": "999"}, "version '999' is not one this barenet reads"),
        ({"version": "1.0"}, "version"),
        ({"format": "pt"}, "not a barenet model file"),
        ({"spec": json.dumps({"type": "Sequential", "config": []})}, "must be a dict"),
        ({"spec": json.dumps({"type": "Sequential", "config": None})}, "must be a dict"),
        ({"spec": json.dumps({"type": "Sequential", "config": {"layers": {}}})}, "must be a list"),
        ({"spec": json.dumps([1, 2])}, "a module spec is a dict"),
        ({"spec": '{"type": "Sequential", "type": "Linear"}'}, "duplicate key"),
        ({"spec": "[" * 200 + "]" * 200}, "nested"),
        ({"metadata": "[1, 2]"}, "metadata must be a JSON object"),
        ({"metadata": json.dumps({"normalisation": "x"})}, "'normalisation' must be"),
        ({"metadata": json.dumps({"normalisation": {"invert": "yes"}})}, "'normalisation'"),
        ({"metadata": json.dumps({"class_names": "ab"})}, "'class_names' must be"),
        ({"metadata": json.dumps({"class_names": [1, 2]})}, "'class_names' must be"),
        ({"metadata": json.dumps({"input_shape": [3.0]})}, "'input_shape' must be"),
        ({"metadata": json.dumps({"input_shape": [0]})}, "'input_shape' must be"),
        ({"metadata": json.dumps({"task": "magic"})}, "'task' must be"),
        ({"metadata": json.dumps({"class_names": ["a"], "input_shape": [3]})}, "1 class names"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_barenet_metadata_is_refused(tmp_path, changes, match):
    _bad(_file(tmp_path, meta=_meta(**changes)), match)


def test_spec_and_metadata_must_be_strings(tmp_path):
    # The safetensors metadata maps strings to strings: numbers there are refused first.
    def edit(h):
        h["__metadata__"]["spec"] = {"type": "Linear"}

    _bad(_file(tmp_path, edit), "strings")


def test_the_architecture_is_checked_against_the_tensors_before_building(tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(bio, "build", lambda spec: built.append(spec))
    wide = bn.Sequential(bn.Linear(3, 5), bn.ReLU(), bn.Linear(5, 2))
    _bad(_file(tmp_path, meta=_meta(wide)), r"mis-shaped 0\.weight: \(4, 3\) for \(5, 3\)")
    extra = bn.Sequential(bn.Linear(3, 4), bn.ReLU(), bn.Linear(4, 2), bn.Linear(2, 2))
    _bad(_file(tmp_path, meta=_meta(extra)), r"missing 3\.weight, 3\.bias")
    _bad(_file(tmp_path, lambda h: h.pop("2.bias") and None), "unexplained bytes")
    assert built == []


def test_a_spec_asking_for_37_gib_is_refused_before_allocating(tmp_path, monkeypatch):
    monkeypatch.setattr(bio, "build", lambda spec: pytest.fail("built"))
    spec = {"type": "Linear", "config": {"in_features": 100_000, "out_features": 100_000}}
    meta = dict(_meta(), spec=json.dumps(spec), metadata="{}")
    # A tiny file: its tensors cannot match the 37 GiB architecture it names.
    empty = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
    header = {"__metadata__": meta, "weight": empty}
    _bad(_write(tmp_path / "big.safetensors", json.dumps(header), b""), "missing bias")
    # Tensors that do match (a file that large) meet the memory check before any read.
    spec["config"] = {"in_features": 10**7, "out_features": 10**6}
    infos = {
        "weight": bio.TensorInfo(np.dtype("<f4"), (10**6, 10**7), 4 * 10**13),
        "bias": bio.TensorInfo(np.dtype("<f4"), (10**6,), 4 * 10**6),
    }
    with pytest.raises(MemoryLimitError, match="the model it describes needs"):
        bio._Header(tmp_path / "x")(dict(meta, spec=json.dumps(spec)), infos)


def test_nan_weights_are_refused(tmp_path):
    model = _model()
    model[0].weight.data[0, 0] = np.nan
    path = bn.save(model, tmp_path / "nan.safetensors")
    _bad(path, "NaN or infinite")


# -- npz --------------------------------------------------------------------------


def _npz(tmp_path, name="m.npz"):
    return bn.save(_model(), tmp_path / name, {"class_names": ["a", "b"], "input_shape": [3]})


def _bad_npz(path, match):
    with pytest.raises(bn.ModelFileError, match=match):
        bio.load_file(path)


def test_npz_round_trip(tmp_path):
    model, meta = bio.load_file(_npz(tmp_path))
    assert meta["input_shape"] == [3]


def test_npz_with_an_extra_member_is_refused(tmp_path):
    path = _npz(tmp_path)
    with zipfile.ZipFile(path, "a") as z, z.open("extra.npy", "w") as f:
        np.lib.format.write_array(f, np.zeros(3))
    _bad_npz(path, "unexpected extra")


def test_npz_with_a_member_that_is_not_npy_is_refused(tmp_path):
    path = _npz(tmp_path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("notes.txt", "hello")
    _bad_npz(path, "not a .npy array")


def test_npz_with_a_duplicate_member_is_refused(tmp_path):
    path = _npz(tmp_path)
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "a") as z:
        with z.open("0.bias.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(4, np.float32))
    _bad_npz(path, "appears twice")


def _patch_central_directory(path, field_offset: int, fmt: str, value):
    """Change a field of every central-directory entry (and the local headers)."""
    raw = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x01\x02", field_offset), (b"PK\x03\x04", field_offset - 2)):
        i = raw.find(sig)
        while i >= 0:
            struct.pack_into(fmt, raw, i + off, value)
            i = raw.find(sig, i + 4)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("method", [12, 14, 99])  # bzip2, lzma, AES
def test_npz_with_other_compression_methods_is_refused(tmp_path, method):
    path = _npz(tmp_path)
    _patch_central_directory(path, 10, "<H", method)
    _bad_npz(path, f"compression method {method}")


def test_encrypted_npz_members_are_refused(tmp_path):
    path = _npz(tmp_path)
    _patch_central_directory(path, 8, "<H", 0x1)
    _bad_npz(path, "encrypted")


def test_npy_header_declaring_7_tib_is_refused_before_reading(tmp_path):
    path = tmp_path / "m.npz"
    model = _model()
    meta = np.frombuffer(json.dumps(bio._pack(model, None)).encode(), np.uint8)
    with zipfile.ZipFile(path, "w") as z:
        with z.open("__barenet__.npy", "w") as f:
            np.lib.format.write_array(f, meta)
        with z.open("0.weight.npy", "w") as f:  # a header that lies about its shape
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (2**20, 2**21)}
            )
            f.write(b"\0" * 48)
    _bad_npz(path, "48 bytes of data for shape")


@pytest.mark.parametrize(
    "descr, match", [("|O", "not plain numbers|pickle|object"), ("<c16", "unsupported dtype")]
)
def test_npy_members_of_other_dtypes_are_refused(tmp_path, descr, match):
    path = _npz(tmp_path)
    with zipfile.ZipFile(path, "a") as z, z.open("x.npy", "w") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": descr, "fortran_order": False, "shape": (1,)}
        )
        f.write(b"\0" * 16)
    _bad_npz(path, match)


def test_fortran_ordered_members_load_correctly(tmp_path):
    model = _model()
    path = bn.save(model, tmp_path / "m.npz")
    w = model[0].weight.data
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            if n == "0.weight.npy":
                with z.open(n, "w") as f:
                    np.lib.format.write_array(f, np.asfortranarray(w))
            else:
                z.writestr(n, data)
    np.testing.assert_array_equal(bio.load(path)[0].weight.data, w)


def test_checkpoint_style_files_still_read_without_a_barenet_header(tmp_path):
    path = tmp_path / "t.safetensors"
    bio.save_tensors(path, {"a": np.arange(3.0), "b": np.zeros((0, 2))}, {"format": "x"})
    arrays, meta = bio.load_tensors(path)
    assert meta == {"format": "x"} and arrays["b"].shape == (0, 2)
    np.testing.assert_array_equal(arrays["a"], np.arange(3.0))


# -- the content digest -------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_a_flipped_bit_in_the_weights_is_detected(tmp_path, suffix):
    model = _model()
    path = bn.save(model, tmp_path / f"m{suffix}")
    raw = bytearray(path.read_bytes())
    w = model[0].weight.data.astype("<f4").tobytes()
    i = bytes(raw).find(w)
    raw[i + 5] ^= 0x10
    path.write_bytes(bytes(raw))
    _bad(path, "does not match the SHA-256|Bad CRC-32")  # zip members have a CRC of their own


def test_a_changed_number_inside_the_spec_string_is_detected(tmp_path):
    model = bn.Sequential(bn.Linear(3, 4), bn.BatchNorm1d(4, eps=1e-5))
    path = bn.save(model, tmp_path / "m.safetensors")
    raw = path.read_bytes()
    assert raw.count(b"1e-05") == 1
    path.write_bytes(raw.replace(b"1e-05", b"1e-04"))
    _bad(path, "does not match the SHA-256")


def test_files_without_a_digest_still_load(tmp_path):
    model = _model()
    path = tmp_path / "old.safetensors"
    bio.save_tensors(path, model.state_dict(), bio._pack(model, {"note": "old"}))
    loaded, meta = bio.load_file(path)
    assert meta == {"note": "old"}
    np.testing.assert_array_equal(loaded[0].weight.data, model[0].weight.data)


def test_unknown_header_keys_are_refused(tmp_path):
    _bad(_file(tmp_path, meta=_meta(extra="1")), "unknown keys in the barenet header: 'extra'")


# -- writes -------------------------------------------------------------------------


def _special_files(tmp_path):
    import os
    import stat

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = [fifo, tmp_path]
    if os.geteuid() == 0:  # a private null device: what /dev/null is
        dev = tmp_path / "null"
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        out.append(dev)
    return out


def test_atomic_writes_never_replace_a_device_a_pipe_or_a_folder(tmp_path):
    import stat

    for target in _special_files(tmp_path):
        mode = target.stat().st_mode
        with pytest.raises(ValueError, match="regular file|a folder"):
            bio.atomic_write_bytes(target, b"data")
        assert target.stat().st_mode == mode  # as root, os.replace swapped it for a file
        with pytest.raises(ValueError):
            bn.save(_model(), target)
        assert stat.S_IFMT(target.stat().st_mode) == stat.S_IFMT(mode)


def test_an_integer_past_the_digit_limit_names_the_file(tmp_path):
    shape = json.dumps(list(_model().state_dict()["0.weight"].shape))
    path = _file(tmp_path, text_edit=lambda t: t.replace(shape, "[" + "9" * 5000 + ", 3]", 1))
    _bad(path, r"header: an integer of 5000 digits \(at most \d+\)")


@pytest.mark.parametrize("encode, match", [
    (lambda t: b"\xef\xbb\xbf" + t.encode(), "byte-order mark"),
    (lambda t: t.encode("utf-16"), "UTF-16 or UTF-32"),
    (lambda t: t.encode("utf-16-be"), "UTF-16 or UTF-32"),
    (lambda t: t.encode("utf-32-le"), "UTF-16 or UTF-32"),
    (lambda t: t.replace("__metadata__", "__m\xe9tadata__").encode("latin-1"), "not UTF-8"),
])  # fmt: skip
def test_a_header_that_is_not_plain_utf8_is_refused(tmp_path, encode, match):
    header, body = _entries(_model().state_dict())
    header["__metadata__"] = _meta()
    hb = encode(json.dumps(header))
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + body)
    _bad(path, match)
