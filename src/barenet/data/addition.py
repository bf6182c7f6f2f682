"""Sequence-to-sequence addition: "123+45" → "168", the classic test of whether a
recurrent network learns to carry (the Keras addition example's task).

A query is the two numbers joined by "+" (no spaces), written left-aligned in
``2·digits + 1`` positions and padded with the pad token 0; the answer is the sum
left-aligned in ``digits + 1`` positions padded with spaces, so every answer has the
same length and exact match is the match of all its positions. Token ids: 0 pad,
1-10 the digits "0"-"9", 11 "+", 12 " ". With ``reverse`` (the Keras example's trick)
the query's characters are read from last to first, which puts the lowest digits,
whose carry the answer needs first, next to the decoder; padding stays at the end.

Training and test pairs (a, b) are distinct draws: no test sum is seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ADDITION_TOKENS", "AdditionData", "addition", "decode_answer", "encode_queries"]

PAD = 0
#: The characters of token ids 1.. (id 0 is padding).
ADDITION_TOKENS = "0123456789+ "
_ID = {c: i + 1 for i, c in enumerate(ADDITION_TOKENS)}


@dataclass
class AdditionData:
    """Queries ``x_*: (N, 2·digits + 1)`` and answers ``y_*: (N, digits + 1)``, int64
    token ids; ``pairs_*: (N, 2)`` the numbers added."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    pairs_train: np.ndarray
    pairs_test: np.ndarray
    digits: int
    reverse: bool

    @property
    def vocab_size(self) -> int:
        return len(ADDITION_TOKENS) + 1


def _encode(strings: list[str], width: int, pad: int) -> np.ndarray:
    out = np.full((len(strings), width), pad, np.int64)
    for i, s in enumerate(strings):
        out[i, : len(s)] = [_ID[c] for c in s]
    return out


def encode_queries(pairs, digits: int = 3, reverse: bool = True) -> np.ndarray:
    """Token ids (N, 2·digits + 1) of the queries "a+b" for ``pairs`` (N, 2) of ints
    in [0, 10^digits)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= 10**digits):
        raise ValueError(f"addition: numbers must be in [0, {10**digits}) for {digits} digits")
    texts = [f"{a}+{b}" for a, b in pairs.tolist()]
    return _encode([t[::-1] if reverse else t for t in texts], 2 * digits + 1, PAD)


def _answers(pairs: np.ndarray, digits: int) -> np.ndarray:
    return _encode([str(a + b).ljust(digits + 1) for a, b in pairs.tolist()], digits + 1, PAD)


def decode_answer(ids) -> str:
    """The answer of one row of token ids (or of predicted ids), trailing spaces and
    padding dropped."""
    chars = ["" if int(i) == PAD else ADDITION_TOKENS[int(i) - 1] for i in np.ravel(ids)]
    return "".join(chars).rstrip()


def addition(
    n_train: int = 50_000, n_test: int = 5_000, digits: int = 3, seed: int = 0, reverse: bool = True
) -> AdditionData:
    """``n_train`` + ``n_test`` distinct random pairs of numbers with 1 to ``digits``
    digits each (the number of digits drawn first, uniformly, then the number: short
    numbers are as common as long ones, as in the Keras example), split without overlap.
    """
    if digits < 1 or digits > 9:
        raise ValueError(f"addition: digits must be in 1..9, got {digits}")
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(v, bool) or int(v) != v or v < (1 if name == "n_train" else 0):
            raise ValueError(f"addition: {name} must be a positive integer, got {v!r}")
    total = n_train + n_test
    if total > 0.5 * 100**digits:
        raise ValueError(
            f"addition: {total} distinct pairs are too many for {digits}-digit numbers"
        )
    rng = np.random.default_rng([seed, 9])
    seen: set[tuple[int, int]] = set()
    pairs = []
    while len(pairs) < total:
        lengths = rng.integers(1, digits + 1, (2 * total, 2))
        nums = rng.integers(0, 10**digits, (2 * total, 2)) % (10**lengths)
        for a, b in nums.tolist():
            if (a, b) not in seen:
                seen.add((a, b))
                pairs.append((a, b))
                if len(pairs) == total:
                    break
    p = np.asarray(pairs, np.int64)
    x, y = encode_queries(p, digits, reverse), _answers(p, digits)
    return AdditionData(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        p[:n_train],
        p[n_train:],
        digits,
        reverse,
    )
