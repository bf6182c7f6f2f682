"""End-to-end: the small CNN and an MLP actually learn small synthetic tasks."""

from __future__ import annotations

import numpy as np

import barenet as bn
from barenet import optim


def quadrant_images(n: int, rng: np.random.Generator, size: int = 12):
    """Class k in 0..3 lights up quadrant k of a noisy image: (n, 1, size, size), labels (n,)."""
    y = rng.integers(0, 4, n)
    x = rng.normal(0.0, 0.3, (n, 1, size, size))
    h = size // 2
    rows = (y // 2) * h
    cols = (y % 2) * h
    r = rows[:, None, None] + np.arange(h)[None, :, None]
    c = cols[:, None, None] + np.arange(h)[None, None, :]
    x[np.arange(n)[:, None, None], 0, r, c] += 1.0
    return x.astype(np.float32), y


def small_cnn(size: int = 12) -> bn.Sequential:
    flat = 64 * (size // 4) ** 2
    return bn.Sequential(
        bn.Conv2d(1, 32, 3, padding=1),
        bn.ReLU(),
        bn.MaxPool2d(2),
        bn.Conv2d(32, 64, 3, padding=1),
        bn.ReLU(),
        bn.MaxPool2d(2),
        bn.Flatten(),
        bn.Linear(flat, 128),
        bn.ReLU(),
        bn.Linear(128, 4),
    )


def test_small_cnn_learns_quadrants():
    rng = np.random.default_rng(0)
    model = small_cnn()
    loss_fn = bn.SoftmaxCrossEntropy()
    opt = optim.Adam(model.parameters(), lr=2e-3)
    first = None
    for _ in range(60):
        x, y = quadrant_images(32, rng)
        loss = loss_fn(model(x), y)
        first = loss if first is None else first
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    x, y = quadrant_images(400, np.random.default_rng(1))
    acc = (model.eval()(x).argmax(axis=1) == y).mean()
    assert acc >= 0.95, f"accuracy {acc:.3f} (first loss {first:.3f}, last {loss:.3f})"
    assert loss < first


def test_mlp_drives_xor_loss_near_zero():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    model = bn.Sequential(bn.Linear(2, 16), bn.Tanh(), bn.Linear(16, 2))
    loss_fn = bn.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    for _ in range(300):
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    assert loss < 0.05
    assert (model(x).argmax(axis=1) == y).all()


def test_mse_regression_with_batchnorm_and_dropout_converges():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (256, 3)).astype(np.float32)
    t = (x @ np.array([[1.0], [-2.0], [0.5]]) + np.sin(3 * x[:, :1])).astype(np.float32)
    model = bn.Sequential(
        bn.Linear(3, 32), bn.BatchNorm1d(32), bn.ReLU(), bn.Dropout(0.1), bn.Linear(32, 1)
    )
    loss_fn = bn.MSELoss()
    opt = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(300):
        idx = rng.integers(0, 256, 64)
        loss_fn(model(x[idx]), t[idx])
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    model.eval()
    assert loss_fn(model(x), t) < 0.05 * float(t.var())
