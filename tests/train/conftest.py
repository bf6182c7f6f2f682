"""Tiny data and models for the training tests."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.data import blobs_images


@pytest.fixture
def blobs():
    """((x, y), (x_val, y_val)): 96 + 32 separable 8x8 images in 4 classes."""
    return blobs_images(n_train=96, n_test=32, n_classes=4, seed=0)


def small_net(dropout: float = 0.0) -> bn.Sequential:
    """An MLP 64 -> 16 -> 4 (with dropout if asked), fast enough for many epochs."""
    layers = [bn.Flatten(), bn.Linear(64, 16), bn.ReLU()]
    if dropout:
        layers.append(bn.Dropout(dropout))
    layers.append(bn.Linear(16, 4))
    return bn.Sequential(*layers)


def weights(model) -> list[np.ndarray]:
    return list(model.state_dict().values())
