"""The addition task: queries and answers as tokens, disjoint splits, the padding."""

from __future__ import annotations

import numpy as np
import pytest

from barenet.data.addition import ADDITION_TOKENS, addition, decode_answer, encode_queries


def test_queries_and_answers_spell_the_sums():
    d = addition(200, 50, digits=3, seed=1, reverse=False)
    assert d.x_train.shape == (200, 7) and d.y_train.shape == (200, 4)
    for (a, b), q, ans in zip(d.pairs_train[:20], d.x_train, d.y_train):
        text = "".join(ADDITION_TOKENS[i - 1] for i in q if i)
        assert text == f"{a}+{b}" and decode_answer(ans) == str(a + b)
    assert (d.x_train[:, 0] != 0).all()  # padding only at the end


def test_reversed_queries_and_disjoint_splits():
    d = addition(3000, 500, seed=2)
    seen = {tuple(p) for p in d.pairs_train.tolist()}
    assert not seen & {tuple(p) for p in d.pairs_test.tolist()}
    assert len(seen) == 3000
    np.testing.assert_array_equal(encode_queries([[12, 345]]), encode_queries([[12, 345]], 3))
    q = encode_queries([[12, 345]])[0]
    assert "".join(ADDITION_TOKENS[i - 1] for i in q if i) == "543+21"
    lengths = {len(str(a)) for a, _ in d.pairs_train.tolist()}
    assert lengths == {1, 2, 3}


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="too many"):
        addition(5000, 100, digits=1)
    with pytest.raises(ValueError, match=r"\[0, 1000\)"):
        encode_queries([[1000, 1]])
    with pytest.raises(ValueError, match="n_train"):
        addition(0)
