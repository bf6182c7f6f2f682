"""Fixtures shared by the whole suite: every test starts from float32 and a fixed seed."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn


@pytest.fixture(autouse=True)
def _fresh_globals():
    """Restore the default dtype and reseed barenet's generator around each test."""
    bn.set_default_dtype(np.float32)
    bn.seed(0)
    yield
    bn.set_default_dtype(np.float32)


@pytest.fixture
def f64():
    """Build layers in float64 for the duration of the test."""
    bn.set_default_dtype(np.float64)
    yield np.float64
