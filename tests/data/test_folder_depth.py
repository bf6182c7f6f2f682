"""Image folders: 16-bit greyscale keeps its range; images in nested folders are read."""

from __future__ import annotations

import os

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from barenet.data import load_image, load_image_folder  # noqa: E402


def _png16(path, a: np.ndarray):
    Image.fromarray(a.astype(np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I;16")
    return path


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path):
    a = (np.arange(28 * 28).reshape(28, 28) * 83) % 65536
    x = load_image(_png16(tmp_path / "g.png", a), (28, 28))
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, a / 65535, atol=1e-6)
    assert 0.3 < x.mean() < 0.7  # Pillow's own I;16 -> L made this 99.6 % white


def test_a_16_bit_png_is_resized_in_full_precision(tmp_path):
    a = np.full((56, 56), 30000)
    x = load_image(_png16(tmp_path / "g.png", a), (28, 28))
    assert x.shape == (28, 28)
    np.testing.assert_allclose(x, 30000 / 65535, atol=1e-6)


def test_8_bit_images_are_unchanged(tmp_path):
    a = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(a).save(tmp_path / "g.png")
    np.testing.assert_allclose(load_image(tmp_path / "g.png", (8, 8)), a / 255, atol=1e-7)


def _img(path, value: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, np.uint8)).save(path)


def test_images_in_nested_folders_belong_to_their_class(tmp_path):
    _img(tmp_path / "cat" / "a.png", 10)
    _img(tmp_path / "cat" / "2019" / "b.png", 20)
    _img(tmp_path / "cat" / "2019" / "deep" / "c.png", 30)
    _img(tmp_path / "cat" / ".cache" / "hidden.png", 99)
    _img(tmp_path / "dog" / "x" / "d.png", 40)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    x, y, names = load_image_folder(tmp_path, (4, 4))
    assert names == ["cat", "dog"]
    np.testing.assert_array_equal(y, [0, 0, 0, 1])
    # sorted by path inside the class folder: 2019/b, 2019/deep/c, a
    np.testing.assert_allclose(x[:, 0, 0, 0] * 255, [20, 30, 10, 40], atol=1e-4)


def test_linked_folders_are_read_once_and_loops_end(tmp_path):
    _img(tmp_path / "cat" / "a.png", 10)
    os.symlink(tmp_path / "cat", tmp_path / "cat" / "loop")  # cat/loop -> cat
    _img(tmp_path / "dog" / "d.png", 40)
    x, y, _ = load_image_folder(tmp_path, (4, 4))
    assert len(x) == 2 and list(y) == [0, 1]


def test_a_class_folder_with_images_only_deeper_down_is_not_empty(tmp_path):
    _img(tmp_path / "cat" / "sub" / "a.png", 10)
    _img(tmp_path / "dog" / "d.png", 40)
    x, y, names = load_image_folder(tmp_path, (4, 4))
    assert len(x) == 2 and names == ["cat", "dog"]
