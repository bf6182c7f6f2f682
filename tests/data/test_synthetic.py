import numpy as np
import pytest

from barenet.data import blobs_images, digits, load_dataset, sine, stratified_split, xor


def test_sine_shapes_range_and_seed():
    (xtr, ytr), (xte, yte) = sine(100, 30, seed=1)
    assert xtr.shape == ytr.shape == (100, 1) and xte.shape == yte.shape == (30, 1)
    assert xtr.dtype == np.float32 and ytr.dtype == np.float32
    assert np.all(np.abs(xtr) <= np.pi)
    np.testing.assert_allclose(ytr, np.sin(xtr), atol=1e-6)
    (xtr2, _), _ = sine(100, 30, seed=1)
    np.testing.assert_array_equal(xtr, xtr2)
    (xtr3, _), _ = sine(100, 30, seed=2)
    assert not np.array_equal(xtr, xtr3)
    (_, ytrn), (xten, yten) = sine(100, 30, seed=1, noise=0.1)
    assert not np.allclose(ytrn, np.sin(xtr))
    np.testing.assert_allclose(yten, np.sin(xten), atol=1e-6)
    with pytest.raises(ValueError):
        sine(0, 1)


def test_xor_labels_follow_signs():
    (x, y), (xt, yt) = xor(200, 50, seed=0, noise=0.1)
    assert x.shape == (200, 2) and y.dtype == np.int64
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(int))
    assert set(np.unique(yt)) == {0, 1}


def test_blobs_are_separable_by_nearest_centroid():
    (x, y), (xt, yt) = blobs_images(200, 100, n_classes=4, size=8, seed=0)
    assert x.shape == (200, 1, 8, 8) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    centroids = np.stack([x[y == k].reshape(-1, 64).mean(0) for k in range(4)])
    dist = ((xt.reshape(-1, 1, 64) - centroids[None]) ** 2).sum(-1)
    assert np.mean(dist.argmin(1) == yt) == 1.0


def test_digits_split():
    (x, y), (xt, yt) = digits(test_size=0.2, seed=0)
    assert len(x) + len(xt) == 1797 and x.shape[1:] == (1, 8, 8) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    full = np.bincount(np.concatenate([y, yt]))
    np.testing.assert_allclose(np.bincount(yt) / full, 0.2, atol=0.02)
    (_, y2), (xt2, _) = digits(test_size=0.2, seed=0)
    np.testing.assert_array_equal(xt, xt2)
    (_, _), (xt3, _) = digits(test_size=0.2, seed=1)
    assert not np.array_equal(xt, xt3)


def test_stratified_split_partitions():
    y = np.repeat(np.arange(3), [10, 5, 1])
    tr, te = stratified_split(y, 0.2, seed=0)
    assert sorted(np.concatenate([tr, te])) == list(range(16))
    assert np.bincount(y[te], minlength=3).tolist() == [2, 1, 0]
    with pytest.raises(ValueError):
        stratified_split(y, 1.0)


def test_load_dataset_names():
    s = load_dataset("sine", n_train=50, n_test=10, seed=0)
    assert s.task == "regression" and s.class_names is None and s.num_classes is None
    assert s.input_shape == (1,) and s.y_train.shape == (50, 1)
    d = load_dataset("Digits")
    assert d.num_classes == 10 and d.input_shape == (1, 8, 8)
    assert "digits" in repr(d)
    assert load_dataset("blobs").input_shape == (1, 8, 8)
    assert load_dataset("xor").num_classes == 2
    with pytest.raises(ValueError, match="unknown dataset 'cifar'.*mnist"):
        load_dataset("cifar")
