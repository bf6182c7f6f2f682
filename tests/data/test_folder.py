import os

import numpy as np
import pytest
from PIL import Image

from barenet.data import load_dataset, load_image_folder


def save(path, array, mode="L", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=None).convert(mode).save(path, fmt)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "chars"
    white = np.full((40, 30), 255)
    black = np.zeros((10, 10))
    for i in range(3):
        save(root / "zhong" / f"{i}.bmp", white)
        save(root / "ai" / f"{i}.png", black)
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, :, 0] = 255
    Image.fromarray(rgb, "RGB").save(root / "ai" / "red.JPG", "JPEG")
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent -> white paper
    Image.fromarray(rgba, "RGBA").save(root / "zhong" / "transparent.png")
    (root / "zhong" / "notes.txt").write_text("not an image")
    (root / "zhong" / ".hidden.png").write_bytes(b"junk")
    (root / ".git").mkdir()
    return root


def test_loads_resizes_and_labels(folder):
    x, y, names = load_image_folder(folder, size=(12, 10))
    assert names == ["ai", "zhong"]
    assert x.shape == (8, 1, 12, 10) and x.dtype == np.float32
    assert y.dtype == np.int64 and list(y) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x[:3], 0.0)  # black png
    np.testing.assert_allclose(x[4:], 1.0)  # white bmp and transparent png
    assert 0.2 < x[3].mean() < 0.4  # red jpeg -> luminance ~0.3


def test_corrupt_and_truncated_images_name_the_file(folder):
    bad = folder / "ai" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ValueError, match="broken.png") as info:
        load_image_folder(folder)
    assert "corrupt" in str(info.value)
    good = (folder / "ai" / "0.png").read_bytes()
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="broken.png"):
        load_image_folder(folder)


def test_empty_class_no_classes_missing_root(tmp_path, folder):
    (folder / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: class folder has no images"):
        load_image_folder(folder)
    (tmp_path / "flat").mkdir()
    save(tmp_path / "flat" / "a.png", np.zeros((4, 4)))
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path / "flat")
    with pytest.raises(FileNotFoundError, match="nope"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(ValueError, match="size"):
        load_image_folder(folder, size=(0, 3))


def test_load_dataset_folder_split(tmp_path):
    root = tmp_path / "imgs"
    for c in "abc":
        for i in range(10):
            save(root / c / f"{i}.png", np.full((6, 6), 20 * i))
    s = load_dataset("folder", root, size=(6, 6), test_size=0.3, seed=1)
    assert s.class_names == ["a", "b", "c"] and s.input_shape == (1, 6, 6)
    assert len(s.x_test) == 9 and np.all(np.bincount(s.y_test) == 3)
    with pytest.raises(ValueError, match="data_dir is required"):
        load_dataset("folder")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs symlinks and FIFOs")
def test_entries_that_are_no_file_are_skipped_with_one_warning(folder, capsys):
    cls = folder / "zhong"
    (cls / "gone.png").symlink_to(folder / "nowhere.png")
    (cls / "loop.png").symlink_to(cls / "loop.png")
    os.mkfifo(cls / "pipe.png")  # reading it would wait forever for a writer
    if os.path.exists("/dev/null"):
        (cls / "null.png").symlink_to("/dev/null")
    x, y, names = load_image_folder(folder, size=(8, 8))
    assert len(x) == 8 and names == ["ai", "zhong"]
    err = capsys.readouterr().err
    n = 4 if os.path.exists("/dev/null") else 3
    assert err.count("\n") == 1 and f"skipped {n} entries" in err
    for part in ("gone.png (a dangling symlink)", "loop.png (a symlink loop)",
                 "pipe.png (a FIFO)"):  # fmt: skip
        assert part in err
    assert n == 3 or "null.png (a device)" in err
