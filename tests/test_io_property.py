"""Property tests of the model-file reader: whatever bytes or header it is handed, it
returns the model that was written or raises ModelFileError (a ValueError) with a
short message naming the file; never another exception."""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import barenet as bn
from barenet import io as bio

# Derandomised: the same examples on every run, so CI never flakes; the long, random
# search is benchmarks/fault_campaign.py.
SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _model() -> bn.Sequential:
    bn.seed(0)
    return bn.Sequential(bn.Conv2d(1, 2, 3), bn.BatchNorm2d(2), bn.Flatten(), bn.Linear(8, 3))


_MODEL = _model()
_META = {"class_names": ["a", "b", "c"], "input_shape": [1, 4, 4]}


def _saved(suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        return bn.save(_MODEL, Path(d) / f"m{suffix}", _META).read_bytes()


_ORIGINAL = {".safetensors": _saved(".safetensors"), ".npz": _saved(".npz")}


def _outcome(data: bytes, suffix: str):
    """The loaded (model, meta), or the ModelFileError; anything else fails the test."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"m{suffix}"
        path.write_bytes(data)
        try:
            return bio.load_file(path)
        except ValueError as exc:
            assert isinstance(exc, bn.ModelFileError) or "needs" in str(exc), repr(exc)
            assert str(path) in str(exc) and len(str(exc)) < 1000
            return exc


def _same_as_written(loaded) -> bool:
    model, meta = loaded
    sd = model.state_dict()
    return model.spec() == _MODEL.spec() and all(
        np.array_equal(sd[k], v) for k, v in _MODEL.state_dict().items()
    )


edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
        st.floats(0, 1, exclude_max=True),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def _mutate(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for op, where, value in ops:
        i = int(where * max(len(b), 1))
        if op == "flip" and b:
            b[i % len(b)] ^= 1 << (value % 8)
        elif op == "set" and b:
            b[i % len(b)] = value
        elif op == "insert":
            b[i:i] = bytes([value])
        elif op == "delete" and b:
            del b[i % len(b)]
        elif op == "truncate":
            del b[i:]
    return bytes(b)


@SETTINGS
@given(ops=edits, suffix=st.sampled_from([".safetensors", ".npz"]))
def test_damaged_bytes_give_the_model_or_a_model_file_error(ops, suffix):
    got = _outcome(_mutate(_ORIGINAL[suffix], ops), suffix)
    if not isinstance(got, Exception):  # the file carries its SHA-256: no damage passes
        assert _same_as_written(got) and got[1] == _META


_header_len = struct.unpack("<Q", _ORIGINAL[".safetensors"][:8])[0]
_HEADER = json.loads(_ORIGINAL[".safetensors"][8 : 8 + _header_len])
_BODY = _ORIGINAL[".safetensors"][8 + _header_len :]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3)
    ),
    max_leaves=8,
)
fields = st.sampled_from(["dtype", "shape", "data_offsets", "extra"])


@SETTINGS
@given(
    tensor=st.sampled_from(sorted(k for k in _HEADER if k != "__metadata__")),
    field=fields,
    value=json_values,
)
def test_any_value_in_a_tensor_entry_is_checked(tensor, field, value):
    header = json.loads(json.dumps(_HEADER))
    header[tensor][field] = value
    hb = json.dumps(header).encode()
    got = _outcome(struct.pack("<Q", len(hb)) + hb + _BODY, ".safetensors")
    if not isinstance(got, Exception):  # only a value equal to the original may pass
        assert field != "extra" and value == _HEADER[tensor][field]
        assert _same_as_written(got)


meta_keys = st.sampled_from(["format", "version", "spec", "metadata", "sha256", "other"])


@SETTINGS
@given(key=meta_keys, value=json_values, as_text=st.booleans())
def test_any_metadata_value_is_checked(key, value, as_text):
    header = json.loads(json.dumps(_HEADER))
    header["__metadata__"][key] = json.dumps(value) if as_text else value
    hb = json.dumps(header).encode()
    got = _outcome(struct.pack("<Q", len(hb)) + hb + _BODY, ".safetensors")
    if not isinstance(got, Exception):
        assert header["__metadata__"] == _HEADER["__metadata__"] and _same_as_written(got)


@SETTINGS
@given(spec=json_values)
def test_any_architecture_spec_is_checked(spec):
    header = json.loads(json.dumps(_HEADER))
    header["__metadata__"]["spec"] = json.dumps(spec)
    hb = json.dumps(header).encode()
    got = _outcome(struct.pack("<Q", len(hb)) + hb + _BODY, ".safetensors")
    assert isinstance(got, Exception)  # no random spec matches these five tensors
