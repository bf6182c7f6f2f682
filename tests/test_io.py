"""Model files: round trips for every layer type, and clear errors for bad files."""

from __future__ import annotations

import json
import os
import struct
import zipfile

import numpy as np
import pytest

import barenet as bn
from barenet import io as bio


def every_layer_model() -> bn.Sequential:
    return bn.Sequential(
        bn.Conv2d(1, 4, 3, stride=1, padding="same", bias=False),
        bn.BatchNorm2d(4, momentum=0.3),
        bn.LeakyReLU(0.05),
        bn.Residual(
            bn.Sequential(bn.Conv2d(4, 6, 3, stride=2, padding=1), bn.ReLU()),
            bn.Sequential(bn.Conv2d(4, 6, 1, stride=2), bn.BatchNorm2d(6)),
        ),
        bn.Residual(bn.Sequential(bn.Tanh())),
        bn.MaxPool2d(3, 2),
        bn.AvgPool2d(1),
        bn.Conv2d(6, 5, (2, 1), padding=(1, 0)),
        bn.GlobalAvgPool2d(),
        bn.BatchNorm1d(5, eps=1e-3),
        bn.Sigmoid(),
        bn.Dropout(0.2),
        bn.Linear(5, 3),
        bn.Flatten(),
        bn.Softmax(),
    )


@pytest.fixture
def trained():
    model = every_layer_model()
    x = np.random.default_rng(0).standard_normal((4, 1, 9, 9)).astype(np.float32)
    for _ in range(2):  # move the running statistics away from their start
        model(x)
    return model.eval(), x


@pytest.mark.parametrize("suffix", [".safetensors", ".npz", ".bin"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_keeps_architecture_weights_buffers_and_metadata(
    trained, tmp_path, suffix, dtype
):
    model, x = trained
    model.to(dtype)
    meta = {"epoch": 3, "note": "ünïcode", "acc": [0.5, 0.75]}
    path = bn.save(model, tmp_path / f"m{suffix}", metadata=meta)
    assert path.is_file() and os.listdir(tmp_path) == [path.name]  # no temp left behind
    loaded = bn.load(path)
    assert loaded.spec() == model.spec()
    assert loaded.metadata == meta
    sd, sd2 = model.state_dict(), loaded.state_dict()
    assert list(sd2) == list(sd)
    for k in sd:
        assert sd2[k].dtype == sd[k].dtype, k
        np.testing.assert_array_equal(sd2[k], sd[k])
    assert int(loaded[1].num_batches_tracked) == 2
    loaded.eval()
    np.testing.assert_array_equal(loaded(x), model(x))


def test_save_rejects_non_modules(tmp_path):
    with pytest.raises(TypeError):
        bn.save({"w": np.zeros(2)}, tmp_path / "x.safetensors")


@pytest.fixture
def saved(tmp_path):
    path = bn.save(bn.Sequential(bn.Linear(3, 4), bn.BatchNorm1d(4)), tmp_path / "m.safetensors")
    return path


def _expect_bad(path, match):
    with pytest.raises(ValueError, match=match) as info:
        bn.load(path)
    assert isinstance(info.value, bn.ModelFileError) or "model" in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [4, 20, -7])
def test_truncated_safetensors_file_is_rejected(saved, keep):
    raw = saved.read_bytes()
    saved.write_bytes(raw[:keep])
    _expect_bad(saved, "short|does not fit|truncated|outside|bytes")


def test_random_bytes_are_rejected(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _expect_bad(path, "header")


def test_json_bomb_header_length_is_rejected_without_reading_it(tmp_path):
    path = tmp_path / "bomb.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    _expect_bad(path, "header length")


def test_corrupt_header_json_is_rejected(saved):
    raw = bytearray(saved.read_bytes())
    raw[8] = ord("X")
    saved.write_bytes(bytes(raw))
    _expect_bad(saved, "not valid JSON")


def test_tensor_offsets_outside_the_file_are_rejected(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}})
    hb = header.encode()
    path = tmp_path / "off.safetensors"
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + b"\0" * 16)
    _expect_bad(path, "outside the file")


def test_foreign_safetensors_without_our_header_is_rejected(tmp_path):
    path = tmp_path / "foreign.safetensors"
    bio.save_tensors(path, {"w": np.zeros(3, np.float32)}, {"format": "pt"})
    _expect_bad(path, "not a barenet model file")


def test_plain_npz_without_our_header_is_rejected(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, w=np.zeros(3))
    _expect_bad(path, "not a barenet model file")


def test_npz_with_an_object_array_cannot_be_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    bn.save(bn.Linear(2, 2), path)
    with zipfile.ZipFile(path, "a") as z:  # an extra member that only pickle could read
        with z.open("evil.npy", "w") as f:
            np.lib.format.write_array(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _expect_bad(path, "corrupt .npz|pickle|object")


def test_truncated_npz_is_rejected(tmp_path):
    path = bn.save(bn.Linear(2, 2), tmp_path / "m.npz")
    path.write_bytes(path.read_bytes()[:60])
    _expect_bad(path, "corrupt")


def test_weights_that_do_not_fit_the_architecture_are_rejected(tmp_path):
    model = bn.Linear(2, 3)
    spec = dict(bio._pack(bn.Linear(2, 4), None))
    path = tmp_path / "mismatch.safetensors"
    bio.save_tensors(path, model.state_dict(), spec)
    _expect_bad(path, "do not match the architecture")


def test_unknown_layer_type_is_rejected(tmp_path):
    meta = dict(bio._pack(bn.ReLU(), None))
    meta["spec"] = json.dumps({"type": "EvalLayer", "config": {}})
    path = tmp_path / "unknown.safetensors"
    bio.save_tensors(path, {}, meta)
    _expect_bad(path, "cannot rebuild")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        bn.load(tmp_path / "absent.safetensors")


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_interrupted_save_leaves_the_old_file_intact(saved, tmp_path, monkeypatch, suffix):
    path = saved.with_suffix(suffix)
    bn.save(bn.Linear(3, 4), path)
    old = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(bio.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        bn.save(bn.Linear(3, 4), path)
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == sorted({saved.name, path.name})


def test_interrupted_first_save_leaves_no_file(tmp_path, monkeypatch):
    calls = []

    def crash(src, dst):
        calls.append(dst)
        raise KeyboardInterrupt

    monkeypatch.setattr(bio.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        bn.save(bn.Linear(3, 4), tmp_path / "new.safetensors")
    assert calls and os.listdir(tmp_path) == []


def test_saved_files_get_the_usual_mode_not_mkstemps_0600(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = bn.save(bn.Sequential(bn.Linear(2, 2)), tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
