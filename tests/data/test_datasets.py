import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from barenet.data import DownloadError, FileSpec, fashion_mnist, load_dataset, mnist, write_idx
from barenet.data import datasets as mnist_module

from .conftest import IDX_NAMES, tiny_mnist_arrays, write_tiny_mnist

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def specs_for(www: Path, *, sha: bool = True, md5: bool = False, wrong: bool = False):
    """FileSpecs with the true (or deliberately wrong) checksums of the served files."""
    out = {}
    for key, name in IDX_NAMES.items():
        data = (www / name).read_bytes()
        sha256 = hashlib.sha256(gzip.decompress(data)).hexdigest() if sha else None
        md5sum = hashlib.md5(data).hexdigest() if md5 else None
        if wrong:
            sha256 = "0" * 64 if sha else None
            md5sum = "0" * 32 if md5 else None
        out[key] = FileSpec(name, sha256=sha256, md5=md5sum)
    return out


def assert_matches(result, arrays):
    (xtr, ytr), (xte, yte) = result
    assert xtr.shape == (len(arrays["train_images"]), 1, 28, 28) and xtr.dtype == np.float32
    np.testing.assert_allclose(xtr[:, 0] * 255, arrays["train_images"], atol=1e-3)
    np.testing.assert_array_equal(ytr, arrays["train_labels"])
    assert ytr.dtype == np.int64 and yte.dtype == np.int64
    np.testing.assert_array_equal(yte, arrays["test_labels"])
    assert xte.shape == (len(arrays["test_images"]), 1, 28, 28)
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0


def test_load_from_root_float_and_raw(tmp_path):
    arrays = tiny_mnist_arrays()
    write_tiny_mnist(tmp_path, arrays)
    assert_matches(mnist(tmp_path), arrays)
    (xtr, ytr), _ = mnist(tmp_path, raw=True)
    assert xtr.dtype == np.uint8 and xtr.shape == (12, 28, 28)
    np.testing.assert_array_equal(xtr, arrays["train_images"])


def test_uncompressed_files_are_found(tmp_path):
    arrays = tiny_mnist_arrays()
    for key, name in IDX_NAMES.items():
        write_idx(tmp_path / name[:-3], arrays[key])
    assert_matches(mnist(tmp_path), arrays)


def test_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("BARENET_DATA", str(tmp_path))
    arrays = tiny_mnist_arrays(seed=3)
    write_tiny_mnist(tmp_path / "mnist", arrays)
    assert_matches(mnist(), arrays)


def test_fashion_system_dir_after_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BARENET_DATA", str(tmp_path / "cache"))
    system = tmp_path / "system"
    monkeypatch.setattr(mnist_module, "FASHION_MNIST_SYSTEM_DIRS", [system])
    arrays = tiny_mnist_arrays(seed=4)
    write_tiny_mnist(system, arrays)
    assert_matches(fashion_mnist(), arrays)
    cached = tiny_mnist_arrays(seed=5)
    write_tiny_mnist(tmp_path / "cache" / "fashion-mnist", cached)
    assert_matches(fashion_mnist(), cached)  # the cache wins


def test_missing_files_error_says_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        mnist(tmp_path / "nowhere")
    msg = str(info.value)
    assert str(tmp_path / "nowhere") in msg
    assert all(name in msg for name in IDX_NAMES.values())
    assert "download=True" in msg


def test_labels_out_of_range(tmp_path):
    arrays = tiny_mnist_arrays()
    arrays["test_labels"][0] = 12
    write_tiny_mnist(tmp_path, arrays)
    with pytest.raises(ValueError, match="0..9"):
        mnist(tmp_path)


def test_image_label_count_mismatch(tmp_path):
    arrays = tiny_mnist_arrays()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    write_tiny_mnist(tmp_path, arrays)
    with pytest.raises(ValueError, match="count mismatch"):
        mnist(tmp_path)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "fashion_mnist"])
def test_load_dataset_idx(tmp_path, name):
    arrays = tiny_mnist_arrays()
    write_tiny_mnist(tmp_path, arrays)
    s = load_dataset(name, tmp_path)
    assert_matches(((s.x_train, s.y_train), (s.x_test, s.y_test)), arrays)
    assert s.input_shape == (1, 28, 28) and s.num_classes == 10 and s.task == "classification"
    assert s.class_names[0] == ("0" if name == "mnist" else "T-shirt/top")


# --- downloads against a local server ------------------------------------------------------


def test_download_success_sha256(tmp_path, http_server):
    www, base = http_server
    arrays = tiny_mnist_arrays(seed=1)
    write_tiny_mnist(www, arrays)
    dest = tmp_path / "dl"
    result = mnist(dest, download=True, mirrors=[base + "/"], files=specs_for(www))
    assert_matches(result, arrays)
    assert sorted(os.listdir(dest)) == sorted(IDX_NAMES.values())  # no .part files
    # second call reads the files already there, without any mirror
    assert_matches(mnist(dest, download=True, mirrors=[]), arrays)


def test_download_success_md5_of_served_file(tmp_path, http_server):
    www, base = http_server
    write_tiny_mnist(www, tiny_mnist_arrays())
    files = specs_for(www, sha=False, md5=True)
    fashion_mnist(tmp_path / "dl", download=True, mirrors=[base], files=files)


@pytest.mark.parametrize("kind", ["sha", "md5"])
def test_checksum_mismatch_leaves_no_file(tmp_path, http_server, kind):
    www, base = http_server
    write_tiny_mnist(www, tiny_mnist_arrays())
    files = specs_for(www, sha=kind == "sha", md5=kind == "md5", wrong=True)
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match="SHA-256 mismatch" if kind == "sha" else "MD5"):
        mnist(dest, download=True, mirrors=[base], files=files)
    assert os.listdir(dest) == []


def test_first_mirror_404_then_second_works(tmp_path, http_server):
    www, base = http_server
    arrays = tiny_mnist_arrays(seed=2)
    write_tiny_mnist(www, arrays)
    result = mnist(
        tmp_path / "dl", download=True, mirrors=[base + "/nope/", base + "/"], files=specs_for(www)
    )
    assert_matches(result, arrays)


def test_connection_cut_short_then_next_mirror(tmp_path, http_server):
    www, base = http_server
    arrays = tiny_mnist_arrays(seed=2)
    write_tiny_mnist(www, arrays)
    files = specs_for(www, sha=False)  # only the length and the IDX checks stand guard
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError) as info:
        mnist(dest, download=True, mirrors=[base + "/truncated/"], files=files)
    assert "IncompleteRead" in str(info.value) or "truncated" in str(info.value)
    assert os.listdir(dest) == []
    result = mnist(dest, download=True, mirrors=[base + "/truncated/", base], files=files)
    assert_matches(result, arrays)


def test_truncated_file_served_whole_is_rejected(tmp_path, http_server):
    www, base = http_server
    write_tiny_mnist(www, tiny_mnist_arrays())
    name = IDX_NAMES["train_images"]
    raw = gzip.decompress((www / name).read_bytes())
    (www / name).write_bytes(gzip.compress(raw[:-100]))
    files = {k: FileSpec(n) for k, n in IDX_NAMES.items()}  # no checksums at all
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match="truncated IDX payload"):
        mnist(dest, download=True, mirrors=[base], files=files)
    assert name not in os.listdir(dest) and not any(f.endswith(".part") for f in os.listdir(dest))


def test_offline_error_lists_mirrors_and_destination(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    dead = ["http://127.0.0.1:9/a/", "http://127.0.0.1:9/b/"]
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError) as info:
        mnist(dest, download=True, mirrors=dead, timeout=2)
    msg = str(info.value)
    assert all(m in msg for m in dead)
    assert str(dest) in msg and IDX_NAMES["train_images"] in msg
    assert os.listdir(dest) == []


# --- the real thing, when this machine has it ----------------------------------------------


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="no system copy of Fashion-MNIST")
def test_real_fashion_mnist():
    (xtr, ytr), (xte, yte) = fashion_mnist(FASHION_DIR, raw=True)
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert ytr.min() == 0 and ytr.max() == 9 and yte.min() == 0 and yte.max() == 9
    assert np.all(np.bincount(ytr) == 6000) and np.all(np.bincount(yte) == 1000)
    for spec in mnist_module.FASHION_MNIST_FILES.values():  # published hashes are right
        mnist_module._validator(spec)(FASHION_DIR / spec.name)


def test_splits_of_different_image_sizes_are_refused_naming_both_files(tmp_path):
    arrays = tiny_mnist_arrays()
    arrays["train_images"] = arrays["train_images"][:, :14, :14].copy()
    write_tiny_mnist(tmp_path, arrays)
    with pytest.raises(ValueError, match="training images are 14x14") as err:
        load_dataset("mnist", tmp_path)
    msg = str(err.value)
    assert IDX_NAMES["train_images"] in msg and IDX_NAMES["test_images"] in msg and "28x28" in msg
