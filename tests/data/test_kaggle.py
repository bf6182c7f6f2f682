import os

import numpy as np
import pytest

from barenet.data import kaggle_test, kaggle_train, load_dataset, read_digit_csv, write_submission

HEADER = ",".join(f"pixel{i}" for i in range(784))


def write_csv(path, pixels, labels=None, header=None, newline="\n"):
    lines = [header or (("label," if labels is not None else "") + HEADER)]
    for i, row in enumerate(pixels):
        vals = [str(v) for v in row]
        lines.append(",".join(([str(labels[i])] if labels is not None else []) + vals))
    path.write_text(newline.join(lines) + newline)
    return path


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (20, 784)), np.arange(20) % 10


def test_train_and_test_files(tmp_path, sample):
    pixels, labels = sample
    write_csv(tmp_path / "train.csv", pixels, labels)
    write_csv(tmp_path / "test.csv", pixels[:7])
    x, y = kaggle_train(tmp_path)
    assert x.shape == (20, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x.reshape(20, -1) * 255, pixels, atol=1e-3)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    xt = kaggle_test(tmp_path / "test.csv")
    assert xt.shape == (7, 1, 28, 28)
    x2, y2 = read_digit_csv(tmp_path / "test.csv")
    assert y2 is None and np.array_equal(x2, xt)


def test_crlf_bom_and_trailing_blank_lines(tmp_path, sample):
    pixels, labels = sample
    path = write_csv(tmp_path / "train.csv", pixels[:3], labels[:3], newline="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes() + b"\r\n\r\n")
    x, y = read_digit_csv(path)
    assert x.shape == (3, 1, 28, 28) and list(y) == [0, 1, 2]


def test_real_sized_file_is_fast(tmp_path):
    import time

    pixels = np.zeros((2000, 784), dtype=np.int64)
    pixels[:, ::7] = 255
    write_csv(tmp_path / "train.csv", pixels, np.arange(2000) % 10)
    t = time.perf_counter()
    x, _ = kaggle_train(tmp_path)
    assert time.perf_counter() - t < 2.0
    assert x.shape == (2000, 1, 28, 28)


def bad(tmp_path, pixels, labels, mutate):
    path = write_csv(tmp_path / "train.csv", pixels, labels)
    lines = path.read_text().split("\n")
    mutate(lines)
    path.write_text("\n".join(lines))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ln: ln.__setitem__(0, ln[0].replace("pixel4,", "pixelX,")), "column 6 is 'pixelX'"),
        (lambda ln: ln.__setitem__(0, ln[0].rsplit(",", 1)[0]), "header has 784 columns"),
        (lambda ln: ln.__setitem__(3, ln[3].rsplit(",", 1)[0]), r"line 4: 784 fields.*ragged"),
        (lambda ln: ln.__setitem__(5, ln[5] + ",7"), r"line 6: 786 fields"),
        (lambda ln: ln.__setitem__(7, "3," + "12," * 10 + "x9," + "0," * 772 + "0"), "line 8"),
        (lambda ln: ln.__setitem__(4, "3," + "0," * 100 + "256," + "0," * 682 + "0"), "line 5"),
        (lambda ln: ln.__setitem__(4, "3," + "-1," + "0," * 782 + "0"), "outside 0..255"),
        (lambda ln: ln.__setitem__(9, "10," + "0," * 783 + "0"), r"line 10: label 10"),
        (lambda ln: ln.__setitem__(9, ""), "line 10"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, sample, mutate, message):
    pixels, labels = sample
    path = bad(tmp_path, pixels, labels, mutate)
    with pytest.raises(ValueError, match=message) as info:
        read_digit_csv(path)
    assert str(path) in str(info.value)


def test_non_integer_names_line_and_column(tmp_path, sample):
    pixels, labels = sample
    path = bad(tmp_path, pixels, labels, lambda ln: ln.__setitem__(7, "3,1.5" + ",0" * 783))
    with pytest.raises(ValueError, match=r"line 8, column 2 \(pixel0\): '1.5' is not an integer"):
        read_digit_csv(path)


def test_empty_and_header_only(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ValueError, match="empty file"):
        read_digit_csv(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("label," + HEADER + "\n")
    with pytest.raises(ValueError, match="no data rows"):
        read_digit_csv(tmp_path / "h.csv")


def test_labeled_expectation(tmp_path, sample):
    pixels, labels = sample
    write_csv(tmp_path / "test.csv", pixels)
    with pytest.raises(ValueError, match="expected a 'label' first column"):
        kaggle_train(tmp_path / "test.csv")
    write_csv(tmp_path / "train.csv", pixels, labels)
    with pytest.raises(ValueError, match="no 'label' column"):
        kaggle_test(tmp_path / "train.csv")
    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        read_digit_csv(tmp_path / "nothere.csv")


def test_write_submission(tmp_path):
    path = tmp_path / "sub" / "submission.csv"
    write_submission(path, np.array([3, 0, 9]))
    assert path.read_text() == "ImageId,Label\n1,3\n2,0\n3,9\n"
    assert os.listdir(path.parent) == ["submission.csv"]
    write_submission(path, np.array([1.0, 2.0]))
    assert path.read_text().splitlines()[-1] == "2,2"


@pytest.mark.parametrize(
    "labels, exc",
    [
        (np.array([[1, 2]]), ValueError),
        (np.array([1, 10]), ValueError),
        (np.array([0.5]), ValueError),
        (np.array(["a"]), TypeError),
    ],
)
def test_write_submission_rejects_bad_labels_and_keeps_old_file(tmp_path, labels, exc):
    path = tmp_path / "submission.csv"
    path.write_text("old")
    with pytest.raises(exc):
        write_submission(path, labels)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["submission.csv"]


def test_load_dataset_kaggle_stratified_holdout(tmp_path):
    rng = np.random.default_rng(1)
    write_csv(tmp_path / "train.csv", rng.integers(0, 256, (100, 784)), np.arange(100) % 10)
    s = load_dataset("kaggle", tmp_path, test_size=0.2, seed=3)
    assert len(s.x_train) == 80 and len(s.x_test) == 20
    assert np.all(np.bincount(s.y_test, minlength=10) == 2)
    assert s.input_shape == (1, 28, 28) and s.num_classes == 10 and s.task == "classification"
    s2 = load_dataset("kaggle", tmp_path, test_size=0.2, seed=3)
    np.testing.assert_array_equal(s.x_test, s2.x_test)
