"""Character text: the bundled sample, strict reading of files and folders, the
vocabulary, the held-out split and the TBPTT batch layout."""

from __future__ import annotations

import numpy as np
import pytest

from barenet.data import DataLoader
from barenet.data.text import CharVocab, bptt_arrays, load_text, read_text, sample_text


def test_the_bundled_sample_is_english_prose_and_splits_at_its_end():
    text = sample_text()
    assert text.startswith("Four score and seven years ago") and len(text) > 2500
    data = load_text()
    assert data.name == "sample" and len(data.vocab) == len(set(text))
    assert data.vocab.decode(np.concatenate([data.train, data.test])) == text
    assert len(data.test) == round(0.1 * len(text))


def test_a_folder_reads_as_its_text_files_in_name_order(tmp_path):
    (tmp_path / "b").write_text("second\n%\n")
    (tmp_path / "a").write_text("first\n%\n")
    (tmp_path / "a.dat").write_bytes(b"\x00\x01index")
    (tmp_path / "a.u8").symlink_to(tmp_path / "a")
    assert read_text(tmp_path) == "first\n%\nsecond\n%\n"


def test_bad_text_is_refused_by_name(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt is not UTF-8 text \(byte 3\)"):
        read_text(bad)
    (tmp_path / "empty").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        read_text(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_text(tmp_path / "missing")
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="holds no text file"):
        read_text(tmp_path / "none")


def test_vocab_round_trip_and_unknown_characters():
    vocab = CharVocab.of("hello world")
    assert vocab.chars == " dehlorw"
    assert vocab.decode(vocab.encode("hold")) == "hold"
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        vocab.encode("zoo")
    lenient = CharVocab(vocab.chars, unknown=" ")
    assert lenient.decode(lenient.encode("zoo")) == " oo"
    with pytest.raises(ValueError, match="repeat"):
        CharVocab("aa")


def test_bptt_batches_continue_each_row_and_target_the_next_character():
    ids = np.arange(50)
    x, y = bptt_arrays(ids, batch_size=3, seq_len=4)
    # rows of 16 characters (49 // 3), 4 chunks each: 12 (x, y) rows of 4
    assert x.shape == y.shape == (12, 4)
    np.testing.assert_array_equal(y, x + 1)
    batches = list(DataLoader(x, y, 3, shuffle=False))
    for r in range(3):
        stream = np.concatenate([xb[r] for xb, _ in batches])
        np.testing.assert_array_equal(stream, np.arange(r * 16, r * 16 + 16))
    with pytest.raises(ValueError, match="too few"):
        bptt_arrays(np.arange(10), batch_size=4, seq_len=4)
