import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barenet.data import (
    Compose,
    Invert,
    RandomCropPad,
    RandomErasing,
    RandomHorizontalFlip,
    RandomPadCrop,
    RandomShift,
    SaltPepper,
    ScaleTo01,
    Standardize,
    parse_augment,
)

RANDOM = [
    RandomShift(2),
    RandomCropPad(5),
    SaltPepper(0.3),
    RandomPadCrop(2),
    RandomHorizontalFlip(),
    RandomErasing(0.9),
]


def batch(n=6, c=2, h=7, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


@pytest.mark.parametrize("t", RANDOM + [Invert(), Standardize(0.5, 0.25), ScaleTo01(1.0)])
def test_shape_dtype_and_input_untouched(t):
    x = batch()
    before = x.copy()
    out = t(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    assert out is not x


@pytest.mark.parametrize("t", RANDOM)
def test_same_seed_same_result_other_seed_differs(t):
    x = batch(n=32)
    np.testing.assert_array_equal(t(x, 5), t(x, np.random.default_rng(5)))
    assert not np.array_equal(t(x, 5), t(x, 6))


def test_invert_twice_is_identity_and_maps_ink():
    x = batch()
    np.testing.assert_allclose(Invert()(Invert()(x)), x, atol=1e-7)
    np.testing.assert_array_equal(Invert()(np.zeros((1, 1, 2, 2), np.float32)), 1.0)


def test_scale_and_standardize():
    u8 = np.array([0, 51, 255], np.uint8).reshape(1, 1, 1, 3)
    np.testing.assert_allclose(ScaleTo01()(u8).ravel(), [0, 0.2, 1.0])
    x = batch(c=2)
    out = Standardize([0.5, 0.0], [0.5, 2.0])(x)
    np.testing.assert_allclose(out[:, 0], (x[:, 0] - 0.5) / 0.5, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], x[:, 1] / 2.0, rtol=1e-6)
    with pytest.raises(ValueError, match="channels"):
        Standardize([0, 0, 0], [1, 1, 1])(x)
    with pytest.raises(ValueError, match="std"):
        Standardize(0, 0)


def test_salt_pepper_rate_and_values():
    x = np.full((20, 1, 28, 28), 0.5, np.float32)
    out = SaltPepper(0.1)(x, 0)
    changed = out != 0.5
    assert abs(changed.mean() - 0.1) < 0.01
    assert set(np.unique(out[changed])) == {0.0, 1.0}
    np.testing.assert_array_equal(SaltPepper(0.0)(x, 0), x)


def test_shift_moves_a_single_pixel_by_at_most_max_px():
    n, m = 200, 2
    x = np.zeros((n, 1, 9, 9), np.float32)
    x[:, 0, 4, 4] = 1.0
    out = RandomShift(m)(x, 0)
    assert np.all(out.sum(axis=(1, 2, 3)) == 1.0)  # nothing lost: the pixel stays inside
    pos = np.argwhere(out[:, 0] == 1.0)[:, 1:] - 4
    assert np.abs(pos).max() == m
    assert len({tuple(p) for p in pos}) == (2 * m + 1) ** 2  # every offset occurs
    assert np.any(pos != 0)


def shifted(img, dy, dx):
    """Reference: out[i, j] = img[i - dy, j - dx], zero where that is outside."""
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[..., i, j] = img[..., i - dy, j - dx]
    return out


def test_shift_is_a_translation_with_zero_fill():
    x = batch(n=40, c=3, h=8, w=6) + 1.0  # no zeros in the input
    out = RandomShift(3)(x, 1)
    seen = set()
    for i in range(len(x)):
        hits = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-3, 4)
            if np.array_equal(out[i], shifted(x[i], dy, dx))
        ]
        assert len(hits) == 1
        seen.add(hits[0])
    assert len(seen) > 10


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 4),
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    m=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_shift_property_total_mass_never_grows(n, c, h, w, m, seed):
    x = np.random.default_rng(seed).random((n, c, h, w))
    out = RandomShift(m)(x, seed)
    assert out.shape == x.shape
    assert np.all(out.sum(axis=(1, 2, 3)) <= x.sum(axis=(1, 2, 3)) + 1e-9)
    values = np.sort(out[out != 0])
    assert np.all(np.isin(values, x))  # only moved, never changed


def test_crop_pad_placement():
    n, k, h = 100, 4, 8
    x = batch(n=n, c=1, h=h, w=h) + 1.0
    out = RandomCropPad(k)(x, 0)
    t = (h - k) // 2
    inside = np.zeros((h, h), bool)
    inside[t : t + k, t : t + k] = True
    assert np.all(out[:, :, ~inside] == 0)
    offsets = set()
    for i in range(n):  # the centred window is some k x k window of the input
        win = out[i, 0, t : t + k, t : t + k]
        hits = [
            (a, b)
            for a in range(h - k + 1)
            for b in range(h - k + 1)
            if np.array_equal(x[i, 0, a : a + k, b : b + k], win)
        ]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert len(offsets) == (h - k + 1) ** 2
    with pytest.raises(ValueError, match="larger than"):
        RandomCropPad(9)(x, 0)


def test_full_size_crop_is_identity():
    x = batch()
    np.testing.assert_array_equal(RandomCropPad(7)(x, 0), x)


def test_non_batch_input_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        RandomShift()(np.zeros((28, 28)), 0)


def test_parse_augment():
    c = parse_augment("shift,noise:0.05, crop:22 ,invert")
    assert isinstance(c, Compose) and len(c) == 4
    kinds = [type(t) for t in c.transforms]
    assert kinds == [RandomShift, SaltPepper, RandomCropPad, Invert]
    assert c.transforms[0].max_px == 2 and c.transforms[1].p == 0.05 and c.transforms[2].crop == 22
    assert parse_augment("shift:3").transforms[0].max_px == 3
    assert len(parse_augment("")) == 0 and len(parse_augment("none")) == 0
    assert len(parse_augment(None)) == 0
    assert "RandomShift(max_px=2)" in repr(c) and repr(c).startswith("Compose([")
    with pytest.raises(ValueError, match="unknown augmentation 'blur'.*shift"):
        parse_augment("shift,blur")
    with pytest.raises(ValueError, match="noise:abc"):
        parse_augment("noise:abc")
    with pytest.raises(ValueError, match="noise:2"):
        parse_augment("noise:2")
    x = batch(n=3, c=1, h=28, w=28)
    np.testing.assert_array_equal(c(x, 9), c(x, 9))


def test_bad_rng():
    with pytest.raises(TypeError, match="rng"):
        RandomShift()(batch(), "seed")


def test_flip_mirrors_a_known_image_or_leaves_it():
    img = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)  # rows 0..3, 4..7, 8..11
    x = np.repeat(img, 64, axis=0)
    out = RandomHorizontalFlip()(x, 0)
    mirrored = np.array([[3, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8]], np.float32)
    flipped = np.array([np.array_equal(o[0], mirrored) for o in out])
    kept = np.array([np.array_equal(o[0], img[0, 0]) for o in out])
    assert np.all(flipped ^ kept) and 16 < flipped.sum() < 48  # each one or the other, p=.5
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(x, 0), x[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(x, 0), x)
    with pytest.raises(ValueError, match="p must be"):
        RandomHorizontalFlip(1.5)


def test_padcrop_is_pad_then_a_random_full_size_window():
    """The usual recipe, written out per sample: np.pad by p, then [top:top+H, left:left+W]."""
    p, n = 2, 60
    x = batch(n=n, c=2, h=6, w=5) + 1.0
    out = RandomPadCrop(p)(x, 3)
    g = np.random.default_rng(3)
    top, left = g.integers(0, 2 * p + 1, size=n), g.integers(0, 2 * p + 1, size=n)
    for i in range(n):
        padded = np.pad(x[i], ((0, 0), (p, p), (p, p)))
        np.testing.assert_array_equal(out[i], padded[:, top[i] : top[i] + 6, left[i] : left[i] + 5])
    assert len(set(zip(top, left))) > 15
    # The same content moves as in a shift by up to p px: one pixel stays within p of home.
    one = np.zeros((300, 1, 9, 9), np.float32)
    one[:, 0, 4, 4] = 1
    pos = np.argwhere(RandomPadCrop(p)(one, 0)[:, 0] == 1)[:, 1:] - 4
    assert len(pos) == 300 and np.abs(pos).max() == p
    assert len({tuple(q) for q in pos}) == (2 * p + 1) ** 2
    np.testing.assert_array_equal(RandomPadCrop(0)(x, 0), x)


def test_erasing_blanks_one_rectangle_per_chosen_sample():
    x = np.ones((200, 2, 12, 10), np.float32)
    out = RandomErasing(p=0.5, scale=(0.05, 0.2), value=0.0)(x, 0)
    hit = (out == 0).any(axis=(1, 2, 3))
    assert 60 < hit.sum() < 140
    for o in out[hit]:
        np.testing.assert_array_equal(o[0], o[1])  # the same rectangle in every channel
        rows, cols = np.nonzero(o[0] == 0)
        box = o[0, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert np.all(box == 0)  # one solid rectangle
        assert 0.02 <= box.size / 120 <= 0.3
    np.testing.assert_array_equal(out[~hit], x[~hit])
    assert np.all(RandomErasing(p=1.0, value=0.5)(x, 1).min(axis=(1, 2, 3)) == 0.5)
    with pytest.raises(ValueError, match="scale"):
        RandomErasing(scale=(0.5, 0.1))


def test_parse_augment_knows_the_recipe_names():
    c = parse_augment("flip,padcrop:2,erase:0.25")
    assert [type(t) for t in c.transforms] == [RandomHorizontalFlip, RandomPadCrop, RandomErasing]
    assert c.transforms[0].p == 0.5 and c.transforms[1].padding == 2 and c.transforms[2].p == 0.25
    assert parse_augment("padcrop").transforms[0].padding == 4
    with pytest.raises(ValueError, match="padcrop:-1"):
        parse_augment("padcrop:-1")
