"""Kaggle CSVs are read strictly: every data line is one image, every field an integer,
nothing is a comment; errors name the line and column and stay short."""

from __future__ import annotations

import numpy as np
import pytest

from barenet.data import kaggle_test, read_digit_csv

HEADER = ",".join(f"pixel{i}" for i in range(784))


def _rows(n: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[str(v) for v in rng.integers(0, 256, 784)] for _ in range(n)]


def _write(path, rows, header=HEADER):
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n")
    return path


def test_a_row_starting_with_hash_is_an_error_not_a_dropped_image(tmp_path):
    rows = _rows(5)
    rows[2][0] = "#" + rows[2][0]  # np.loadtxt took this line for a comment
    path = _write(tmp_path / "test.csv", rows)
    with pytest.raises(ValueError, match=r"line 4, column 1 \(pixel0\): '#\d+' is not an integer"):
        kaggle_test(path)


def test_a_hash_inside_a_field_is_an_error_not_a_truncated_value(tmp_path):
    rows = _rows(3)
    rows[1][-1] = "12#34"  # np.loadtxt read the last field as 12
    path = _write(tmp_path / "test.csv", rows)
    match = r"line 3, column 784 \(pixel783\): '12#34' is not an integer"
    with pytest.raises(ValueError, match=match):
        kaggle_test(path)


def test_every_data_line_is_one_image_in_order(tmp_path):
    rows = _rows(7)
    path = _write(tmp_path / "test.csv", rows)
    x = kaggle_test(path)
    assert x.shape == (7, 1, 28, 28)
    expected = np.array(rows, dtype=np.float32) / 255
    np.testing.assert_allclose(x.reshape(7, -1), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "field, col_text",
    [
        ("1.0", "'1.0' is not an integer"),
        ("0x1", "'0x1' is not an integer"),
        ("1_0", "'1_0' is not an integer"),
        ('"7"', "'\"7\"' is not an integer"),
        ("", "'' is not an integer"),
        ("1 2", "'1 2' is not an integer"),
        ("--3", "'--3' is not an integer"),
        ("٣", "is not an integer"),  # an Arabic-Indic digit, which int() would take
        ("\x00", "is not an integer"),
        ("99999999999999999999999", "is out of range|is not an integer"),
    ],
)
def test_bad_fields_name_their_line_and_column(tmp_path, field, col_text):
    rows = _rows(4)
    rows[3][700] = field
    path = _write(tmp_path / "test.csv", rows)
    with pytest.raises(ValueError, match=rf"line 5, column 701 \(pixel700\): .*({col_text})"):
        kaggle_test(path)


def test_signs_and_spaces_around_integers_are_accepted(tmp_path):
    rows = _rows(2)
    rows[0][:3] = [" 7", "+8 ", "\t9"]
    x = kaggle_test(_write(tmp_path / "test.csv", rows))
    np.testing.assert_allclose(x[0, 0, 0, :3] * 255, [7, 8, 9], rtol=1e-6)


def test_a_blank_line_in_the_middle_is_an_error_but_blank_lines_at_the_end_are_not(tmp_path):
    rows = _rows(3)
    text = "\n".join([HEADER, ",".join(rows[0]), "", ",".join(rows[1])]) + "\n"
    path = tmp_path / "test.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"line 3: 1 fields, expected 784"):
        kaggle_test(path)
    path.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n\n\n")
    assert kaggle_test(path).shape == (3, 1, 28, 28)


def test_crlf_line_ends_are_read(tmp_path):
    rows = _rows(2)
    path = tmp_path / "test.csv"
    path.write_bytes(("\r\n".join([HEADER, *(",".join(r) for r in rows)]) + "\r\n").encode())
    assert kaggle_test(path).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("where", ["header", "field", "ragged"])
def test_messages_stay_short_whatever_the_file_holds(tmp_path, where):
    rows = _rows(2)
    long = "x" * 1_000_000
    header = HEADER
    if where == "header":
        header = long + HEADER[6:]
    elif where == "field":
        rows[1][3] = long
    else:
        rows[1] = [long]
    path = _write(tmp_path / "test.csv", rows, header)
    with pytest.raises(ValueError) as info:
        read_digit_csv(path)
    assert len(str(info.value)) < 300
    assert "line" in str(info.value)


def test_an_integer_past_the_digit_limit_names_line_and_column(tmp_path):
    rows = _rows(2)
    rows[1][5] = "9" * 4301
    _write(tmp_path / "test.csv", rows)
    with pytest.raises(ValueError, match=r"test.csv: line 3, column 6 \(pixel5\): .* out of range"):
        read_digit_csv(tmp_path / "test.csv")
