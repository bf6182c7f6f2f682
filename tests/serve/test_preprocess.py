"""From a drawing to the model's input: ink, area resize, centring, inversion."""

from __future__ import annotations

import numpy as np
import pytest

from barenet.serve.preprocess import (
    InputSpec,
    area_resize,
    centre,
    check_pixels,
    prepare,
    to_ink,
)

from .conftest import stroke_image


def disc(size=200, cy=70, cx=120, r=30, dark_ink=True):
    yy, xx = np.mgrid[:size, :size]
    ink = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(float)
    ring = ((yy - cy) ** 2 + (xx - cx - r) ** 2 <= (r // 2) ** 2).astype(float)
    ink = np.maximum(ink, ring)  # lopsided: mass and bounding box centres differ
    return 1.0 - ink if dark_ink else ink


def test_area_resize_averages_blocks_and_keeps_the_mean():
    rng = np.random.default_rng(0)
    img = rng.random((12, 18))
    np.testing.assert_allclose(area_resize(img, 4, 6), img.reshape(4, 3, 6, 3).mean(axis=(1, 3)))
    odd = area_resize(img, 5, 7)
    assert odd.shape == (5, 7)
    np.testing.assert_allclose(odd.mean(), img.mean(), rtol=1e-12)
    np.testing.assert_allclose(area_resize(img, 12, 18), img)


def test_ink_is_the_same_for_dark_on_light_and_light_on_dark():
    dark, light = disc(dark_ink=True), disc(dark_ink=False)
    ink_d, pol_d = to_ink(dark)
    ink_l, pol_l = to_ink(light)
    assert (pol_d, pol_l) == ("dark-ink", "light-ink")
    np.testing.assert_array_equal(ink_d, ink_l)
    np.testing.assert_array_equal(to_ink(light, "light-ink")[0], ink_l)
    forced, polarity = to_ink(dark, "light-ink")  # the white page taken for ink: no ink left
    assert polarity == "light-ink" and not forced.any()
    with pytest.raises(ValueError, match="polarity must be"):
        to_ink(dark, "sideways")


def test_tinted_paper_becomes_background():
    photo = 0.8 * disc() + 0.1  # grey paper at 0.9, ink at 0.1
    ink, _ = to_ink(photo)
    assert ink.min() == 0.0 and np.median(ink) == 0.0
    np.testing.assert_allclose(ink.max(), (0.9 - 0.1) / 0.9)  # the ink measured from the paper


@pytest.mark.parametrize("h, w, fill", [(28, 28, 20 / 28), (8, 8, 1.0), (16, 12, 0.75)])
def test_centre_scales_the_longer_side_and_centres_the_mass(h, w, fill):
    ink, _ = to_ink(disc())
    out = centre(ink, h, w, fill)
    assert out.shape == (h, w) and out.max() == pytest.approx(1.0)
    rows = np.flatnonzero(out.max(axis=1) > 0)
    cols = np.flatnonzero(out.max(axis=0) > 0)
    longer = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    assert longer == round(fill * min(h, w))
    yy, xx = np.mgrid[:h, :w]
    cy, cx = (yy * out).sum() / out.sum(), (xx * out).sum() / out.sum()
    if fill < 1:  # room to move: the centre of mass lands on the centre, to a pixel
        # Half a pixel is reached exactly where the ink is symmetric about a row and the
        # frame's centre lies between two rows (16 rows: centre 7.5, a 7-row box whose
        # mass sits on its middle row); the sums above then round to 0.5 + 9e-16.
        slack = 0.5 + 1e-9
        assert abs(cy - (h - 1) / 2) <= slack and abs(cx - (w - 1) / 2) <= slack


def test_centring_forgets_where_and_how_big_one_drew():
    a = centre(to_ink(disc(cy=60, cx=60, r=30))[0], 28, 28, 20 / 28)
    b = centre(to_ink(disc(cy=130, cx=120, r=30))[0], 28, 28, 20 / 28)
    c = centre(to_ink(disc(size=400, cy=200, cx=180, r=60))[0], 28, 28, 20 / 28)
    np.testing.assert_allclose(a, b, atol=1e-12)
    assert np.abs(a - c).mean() < 0.03


def test_full_frame_fill_keeps_the_ink_inside():
    out = centre(to_ink(stroke_image(vertical=True, at=0.05))[0], 8, 8, 1.0)
    assert out[0].any() and out[-1].any()  # the stroke spans the full height
    assert out[:, 3:5].sum() > 0.9 * out.sum()  # and sits in the middle columns


def test_prepare_inverts_for_models_trained_inverted_and_broadcasts_channels():
    img = disc()
    plain = prepare(img, InputSpec(1, 28, 28, invert=False))
    inverted = prepare(img, InputSpec(3, 28, 28, invert=True))
    assert plain.x.shape == (1, 1, 28, 28) and inverted.x.shape == (1, 3, 28, 28)
    assert plain.x.dtype == np.float32 and not plain.empty
    np.testing.assert_allclose(inverted.view, 1.0 - plain.view, atol=1e-6)
    np.testing.assert_array_equal(inverted.x[0, 2], inverted.view)
    assert plain.view[0, 0] == 0.0 and inverted.view[0, 0] == 1.0  # background


def test_blank_page_is_empty():
    out = prepare(np.ones((50, 60)), InputSpec(1, 8, 8, fill=1.0))
    assert out.empty and not out.view.any()
    assert prepare(np.full((50, 60), 0.97), InputSpec(1, 8, 8)).empty


@pytest.mark.parametrize(
    "pixels, message",
    [
        (np.ones(64), "2-D"),
        (np.ones((3, 40)), "between 4x4 and 1024x1024"),
        (np.ones((1025, 8)), "between 4x4 and 1024x1024"),
        (np.full((8, 8), np.nan), "NaN or infinity"),
        (np.full((8, 8), np.inf), "NaN or infinity"),
        (np.full((8, 8), 255.0), r"lie in \[0, 1\]"),
        (np.full((8, 8), -0.1), r"lie in \[0, 1\]"),
        ([["0.5"] * 8] * 8, "numbers"),
        ([[True] * 8] * 8, "numbers"),
        ([[0.5] * 8] * 7 + [[0.5] * 3], "rows of numbers"),
        ([[None] * 8] * 8, "numbers"),
        ([[10**400] * 8] * 8, "numbers"),
        ("not pixels", "numbers"),
        (7.0, "2-D"),
    ],
)
def test_bad_pixels_are_refused_with_a_reason(pixels, message):
    with pytest.raises(ValueError, match=message):
        check_pixels(pixels)


def test_input_spec_from_model_metadata():
    base = {"input_shape": [1, 28, 28], "normalisation": {"range": [0, 1], "invert": True}}
    assert InputSpec.from_metadata({**base, "dataset": "mnist"}) == InputSpec(
        1, 28, 28, True, 20 / 28
    )
    assert InputSpec.from_metadata({**base, "dataset": "fashion-mnist"}).fill == 1.0
    assert InputSpec.from_metadata({"input_shape": [1, 8, 8], "dataset": "digits"}).fill == 1.0
    assert InputSpec.from_metadata({"input_shape": [1, 8, 8]}).invert is False
    with pytest.raises(ValueError, match="must take images"):
        InputSpec.from_metadata({"input_shape": [64]})
    with pytest.raises(ValueError, match="the model takes 2"):
        InputSpec.from_metadata({"input_shape": [2, 8, 8]})
