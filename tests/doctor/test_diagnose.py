"""The diagnosis of one tensor from its two gradients, on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from barenet.doctor.diagnose import Context, diagnose, name_factor, positions
from barenet.doctor.geometry import Geometry, geometry_of


def _n(shape=(3, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_ok_scaled_sign_and_the_factor():
    n = _n()
    assert diagnose("t", n + 1e-12, n).diagnosis == "ok"
    r = diagnose("t", n / 3, n, ctx=Context(constants={"N": 3}))
    assert (r.diagnosis, round(r.factor, 9)) == ("scaled", round(1 / 3, 9))
    assert "1/N = 1/3" in r.hint
    r = diagnose("t", -n, n)
    assert (r.diagnosis, r.factor) == ("sign", -1.0)


def test_name_factor_prefers_the_named_constants_then_small_fractions():
    assert name_factor(0.25, {"N": 4}) == "1/N = 1/4"
    assert name_factor(9.0, {"N": 2, "kh·kw": 9}) == "kh·kw = 9"
    assert name_factor(0.6, {}) == "3/5"
    assert name_factor(1 / 32, {"N·H·W": 32}) == "1/(N·H·W) = 1/32"
    assert name_factor(0.618034, {}) == "0.618034"


def test_transposed_with_and_without_the_right_shape():
    n = _n((4, 4))
    assert diagnose("w", n.T, n).diagnosis == "transposed"
    r = diagnose("w", _n((4, 6)).T, _n((4, 6)))
    assert r.diagnosis == "transposed" and "axes 0 and 1" in r.hint


def test_shape_names_the_padding_left_on():
    r = diagnose("input", np.zeros((2, 3, 11, 11)), np.zeros((2, 3, 9, 9)))
    assert r.diagnosis == "shape" and "padding" in r.hint and r.max_abs_err is None
    assert diagnose("b", None, np.zeros(3), note="returned 1 of 3").hint.endswith("1 of 3")


def test_zero_names_where_the_input_is_negative():
    x = _n((4, 6), 1)
    n = np.where(x > 0, 1.0, 0.1) * _n((4, 6), 2)
    a = np.where(x > 0, n, 0.0)
    r = diagnose("input", a, n, ctx=Context(x=x))
    assert r.diagnosis == "zero" and "where the input is negative" in r.hint
    assert r.wrong_fraction == pytest.approx(np.mean(x < 0))


def test_partial_names_the_sample_and_needs_the_whole_slice_wrong():
    n = _n((3, 2, 4))
    a = n.copy()
    a[2] = 0
    r = diagnose("input", a, n)
    assert r.diagnosis == "partial" and "sample 2 (of 3)" in r.hint
    b = n.copy()
    b[2, 0, 0] += 1  # one element of the sample: not the sample as a whole
    assert diagnose("input", b, n).diagnosis == "wrong"


def test_border_from_the_geometry():
    geo = Geometry((3, 3), (1, 1), (1, 1, 1, 1))
    n = _n((1, 1, 6, 6))
    a = n.copy()
    a[..., 0, :] += 1
    r = diagnose("input", a, n, ctx=Context(geometry=geo, uses=np.ones(n.shape, int)))
    assert r.diagnosis == "border" and "row 0" in r.hint


def test_wrong_lists_the_worst_elements_and_a_flipped_kernel():
    n = _n((2, 2, 3, 3))
    r = diagnose("weight", n[:, :, ::-1, ::-1], n)
    assert r.diagnosis == "wrong" and "turned 180°" in r.hint
    a = n.copy()
    a[1, 0, 2, 1] += 5
    r = diagnose("weight", a, n)
    assert r.diagnosis == "wrong" and r.worst_index == [1, 0, 2, 1] and "(1, 0, 2, 1)" in r.hint
    assert "NaN" in diagnose("w", np.full((2, 2), np.nan), np.ones((2, 2))).hint


def test_elements_at_a_kink_are_not_judged():
    n = _n((2, 3))
    a = n.copy()
    a[0, 0] += 1
    valid = np.ones(n.shape, bool)
    valid[0, 0] = False
    r = diagnose("input", a, n, valid=valid)
    assert r.diagnosis == "ok" and "1 element(s) at a kink" in r.hint


def test_positions_in_words():
    m = np.zeros((5, 5), bool)
    m[[1, 3], :] = True
    m[:, 2] = True
    assert positions(m) == "rows 1, 3 and column 2 of each 5x5 map"
    m = np.zeros((4, 4), bool)
    m[1, 2] = True
    assert positions(m) == "(row, column) (1, 2) of each 4x4 map"


def test_geometry_coverage_border_and_discovery():
    g = Geometry((3, 3), (2, 2), (1, 1, 1, 1))
    assert g.coverage(9, 9)[:, 4].tolist() == [1, 2, 1, 2, 1, 2, 1, 2, 1]
    assert np.flatnonzero(g.border(7, 7)[:, 3]).tolist() == [0, 1, 5, 6]
    w = np.zeros((4, 3, 3, 2))
    found = geometry_of(None, {"stride": (2, 1), "padding": (1, 1, 0, 0)}, {"w": w})
    assert found == Geometry((3, 2), (2, 1), (1, 1, 0, 0))
    assert geometry_of(None, {"kernel": (2, 2)}, {}) == Geometry((2, 2), (2, 2))
    assert geometry_of(None, {}, {"w": np.zeros((3, 4))}) is None
