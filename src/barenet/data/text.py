"""Character-level text for language models: a vocabulary, a corpus read strictly, its
held-out split, and the batches of truncated backpropagation through time.

A corpus is one string: a UTF-8 file, or every regular file of a folder (in name order,
``.dat`` indices and links skipped: a Debian ``fortune`` folder such as
``/usr/share/games/fortunes`` reads as its fortunes). :func:`sample_text` is the small
public-domain text that ships with barenet (see ``samples/README.md``).

For TBPTT the stream of character ids is cut into ``batch_size`` rows of equal length
(the last characters that do not fill a row are dropped), and each row into chunks of
``seq_len``: batch k of an epoch is chunk k of every row, so row r of batch k + 1
continues row r of batch k, and a model that carries its state from one batch to the
next (:class:`barenet.train.TruncatedBPTT`) reads every row as one long sequence. The
targets are the inputs shifted by one character.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "CharVocab",
    "TextData",
    "bptt_arrays",
    "load_text",
    "read_text",
    "sample_text",
]

_MAX_BYTES = 256 << 20  # a corpus larger than this is refused before it is read


def sample_text() -> str:
    """The public-domain sample shipped with barenet (about 3 KB of English prose; its
    sources are named in ``barenet/data/samples/README.md``)."""
    return resources.files("barenet.data").joinpath("samples/public_domain.txt").read_text("utf-8")


def read_text(path: str | os.PathLike) -> str:
    """The text of ``path``: a UTF-8 file, or the regular files of a folder joined in name
    order (``.dat`` files and symbolic links skipped). ``ValueError`` naming the file for
    text that is not UTF-8, a folder without text, or an empty corpus;
    ``FileNotFoundError`` for a missing path."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"read_text: no such file or folder: {path}")
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and not p.is_symlink() and p.suffix != ".dat"
        )
        if not files:
            raise ValueError(f"read_text: {path} holds no text file")
    else:
        files = [path]
    total = sum(f.stat().st_size for f in files)
    if total > _MAX_BYTES:
        raise ValueError(f"read_text: {path} holds {total:,} bytes, over {_MAX_BYTES:,}")
    parts = []
    for f in files:
        try:
            parts.append(f.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"read_text: {f} is not UTF-8 text (byte {exc.start})") from None
    text = "".join(parts)
    if not text:
        raise ValueError(f"read_text: {path} is empty")
    return text


class CharVocab:
    """Characters ↔ ids: ``chars[i]`` is the character of id i (sorted, one each).

    ``encode(text)`` refuses a character outside the vocabulary (``ValueError`` naming
    it), or maps it to ``unknown`` when one is given (a character of the vocabulary)."""

    def __init__(self, chars: str, unknown: str | None = None):
        if not isinstance(chars, str) or not chars:
            raise ValueError("CharVocab: chars must be a non-empty string")
        if len(set(chars)) != len(chars):
            raise ValueError("CharVocab: chars must not repeat")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        if unknown is not None and unknown not in self.index:
            raise ValueError(f"CharVocab: the unknown character {unknown!r} is not in chars")
        self.unknown = unknown

    @classmethod
    def of(cls, text: str) -> CharVocab:
        """The vocabulary of every character in ``text``, in code-point order."""
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """(len(text),) int64 ids."""
        try:
            return np.fromiter((self.index[c] for c in text), np.int64, len(text))
        except KeyError as exc:
            if self.unknown is None:
                raise ValueError(
                    f"CharVocab: character {exc.args[0]!r} is not in the vocabulary"
                ) from None
        u = self.index[self.unknown]
        return np.fromiter((self.index.get(c, u) for c in text), np.int64, len(text))

    def decode(self, ids) -> str:
        """The characters of ``ids`` (ints in [0, len))."""
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"


def bptt_arrays(ids: np.ndarray, batch_size: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y), both (num_chunks · batch_size, seq_len) int64, for a non-shuffled
    :class:`DataLoader` of ``batch_size``: rows k·B .. k·B + B - 1 are chunk k of the B
    rows of the stream, ``y`` the next character of each ``x``. ``ValueError`` when the
    stream is too short for one chunk of every row."""
    for name, v in (("batch_size", batch_size), ("seq_len", seq_len)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"bptt_arrays: {name} must be a positive integer, got {v!r}")
    ids = np.asarray(ids, dtype=np.int64)
    row = (len(ids) - 1) // batch_size  # each row needs one more character for its target
    chunks = row // seq_len
    if chunks < 1:
        raise ValueError(
            f"bptt_arrays: {len(ids)} characters are too few for {batch_size} rows of "
            f"{seq_len} (+1) characters; use a smaller batch or sequence length"
        )
    used = chunks * seq_len
    rows = np.stack([ids[r * row : r * row + used + 1] for r in range(batch_size)])
    x = rows[:, :-1].reshape(batch_size, chunks, seq_len).transpose(1, 0, 2)
    y = rows[:, 1:].reshape(batch_size, chunks, seq_len).transpose(1, 0, 2)
    return x.reshape(-1, seq_len).copy(), y.reshape(-1, seq_len).copy()


@dataclass
class TextData:
    """A corpus as ids, split into a training and a held-out part (the last
    ``held_out`` fraction of the text, so no held-out character was seen in training).

    ``train``/``test``: (N,) int64 ids; ``vocab``: their :class:`CharVocab`."""

    vocab: CharVocab
    train: np.ndarray
    test: np.ndarray
    name: str = "text"

    def batches(self, part: str, batch_size: int, seq_len: int):
        """``bptt_arrays`` of the ``"train"`` or ``"test"`` ids."""
        if part not in ("train", "test"):
            raise ValueError(f"TextData.batches: part must be 'train' or 'test', got {part!r}")
        return bptt_arrays(getattr(self, part), batch_size, seq_len)


def load_text(
    source: str | os.PathLike | None = None, held_out: float = 0.1, text: str | None = None
) -> TextData:
    """:class:`TextData` of a file or folder (``source``; see :func:`read_text`), of
    ``text`` itself, or of the bundled sample when both are None. The vocabulary is every
    character of the whole corpus; the held-out part is its last ``held_out`` fraction."""
    if not 0.0 < float(held_out) < 1.0:
        raise ValueError(f"load_text: held_out must be in (0, 1), got {held_out!r}")
    name = "text" if text is not None else ("sample" if source is None else Path(source).name)
    if text is None:
        text = sample_text() if source is None else read_text(source)
    if len(text) < 4:
        raise ValueError(f"load_text: {len(text)} characters are too few for a language model")
    vocab = CharVocab.of(text)
    ids = vocab.encode(text)
    cut = len(ids) - max(2, int(round(len(ids) * float(held_out))))
    return TextData(vocab, ids[:cut], ids[cut:], name)
