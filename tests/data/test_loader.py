import json

import numpy as np
import pytest

import barenet
from barenet.data import DataLoader, RandomShift, SaltPepper


def data(n=23):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    return x, np.arange(n)


def collect(loader):
    return [(xb.copy(), yb.copy()) for xb, yb in loader]


@pytest.mark.parametrize("drop_last", [False, True])
def test_each_sample_once_per_epoch(drop_last):
    x, y = data(23)
    loader = DataLoader(x, y, batch_size=5, drop_last=drop_last, seed=0)
    assert len(loader) == (4 if drop_last else 5) and isinstance(len(loader), int)
    orders = []
    for _ in range(3):
        batches = collect(loader)
        assert len(batches) == len(loader)
        seen = np.concatenate([yb for _, yb in batches])
        for xb, yb in batches:
            np.testing.assert_array_equal(xb, x[yb])  # x and y stay paired
        if drop_last:
            assert len(seen) == 20 and len(np.unique(seen)) == 20
        else:
            assert sorted(seen) == list(range(23))
        orders.append(seen)
    assert not np.array_equal(orders[0], orders[1])  # a fresh permutation each epoch
    assert loader.epoch == 3


def test_no_shuffle_keeps_order_and_last_batch_is_short():
    x, y = data(7)
    batches = collect(DataLoader(x, y, batch_size=3, shuffle=False))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_same_seed_same_batches_including_transform():
    x = np.random.default_rng(0).random((40, 1, 6, 6)).astype(np.float32)
    y = np.arange(40)
    t = RandomShift(2)
    a = collect(DataLoader(x, y, 8, transform=t, seed=7))
    b = collect(DataLoader(x, y, 8, transform=t, seed=7))
    c = collect(DataLoader(x, y, 8, transform=t, seed=8))
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(p[1], q[1]) for p, q in zip(a, c))


def test_state_restore_mid_epoch_reproduces_bit_for_bit():
    x = np.random.default_rng(1).random((50, 1, 5, 5)).astype(np.float32)
    y = np.arange(50)
    make = lambda: DataLoader(x, y, 7, transform=SaltPepper(0.2), seed=3)  # noqa: E731
    ref = make()
    collect(ref)  # epoch 0
    it = iter(ref)
    for _ in range(3):
        next(it)
    state = json.loads(json.dumps(ref.state_dict()))  # must survive JSON
    assert state["epoch"] == 1 and state["batch"] == 3
    rest_ref = [(xb.copy(), yb.copy()) for xb, yb in it] + collect(ref)

    resumed = make()
    resumed.load_state_dict(state)
    rest = collect(resumed) + collect(resumed)
    assert len(rest) == len(rest_ref) == (len(ref) - 3) + len(ref)
    for (xa, ya), (xb, yb) in zip(rest, rest_ref):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_state_after_finished_epoch_points_at_the_next():
    x, y = data(10)
    loader = DataLoader(x, y, 5, seed=0)
    for _ in loader:
        state = loader.state_dict()
    assert state == {"seed": 0, "epoch": 1, "batch": 0}
    assert loader.state_dict() == state


def test_breaking_out_ends_the_epoch():
    x, y = data(10)
    loader = DataLoader(x, y, 2, seed=0)
    for _ in loader:
        break
    assert loader.state_dict()["epoch"] == 1 and len(collect(loader)) == 5


def test_global_seed_fixes_default_loader_seed():
    x, y = data(30)
    barenet.seed(11)
    a = collect(DataLoader(x, y, 4))
    barenet.seed(11)
    b = collect(DataLoader(x, y, 4))
    assert all(np.array_equal(p[1], q[1]) for p, q in zip(a, b))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"x": np.zeros((5, 2)), "y": np.zeros(4)}, "lengths differ"),
        ({"x": np.array([[0.0], [np.nan]]), "y": np.zeros(2)}, "NaN or inf.*sample 1"),
        ({"x": np.array([[np.inf]]), "y": np.zeros(1)}, "NaN or inf"),
        ({"x": np.zeros((2, 1)), "y": np.array([0.0, np.nan])}, "y contains NaN"),
        ({"x": np.zeros((0, 2)), "y": np.zeros(0)}, "empty"),
        ({"x": np.zeros((3, 2)), "y": np.zeros(3), "batch_size": 0}, "batch_size"),
        ({"x": np.zeros((3, 2)), "y": np.zeros(3), "batch_size": 2.5}, "batch_size"),
    ],
)
def test_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(**kwargs)


def test_bad_state_dict():
    x, y = data(10)
    loader = DataLoader(x, y, 5, seed=0)
    with pytest.raises(ValueError, match="seed"):
        loader.load_state_dict({"epoch": 1})
    with pytest.raises(ValueError, match="out of range"):
        loader.load_state_dict({"seed": 0, "epoch": 0, "batch": 9})
