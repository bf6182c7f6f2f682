"""The fake CuPy fixture: the device plumbing, tested on the CPU."""

from __future__ import annotations

import sys

import pytest

from barenet.core import dispatch

from .fake_cupy import make_fake_cupy


@pytest.fixture
def fake_cupy(monkeypatch):
    """A fake ``cupy`` with two GPUs installed as ``sys.modules["cupy"]`` for one test;
    ``fake_cupy.transfers`` counts device-to-host transfers."""
    if "cupy" in sys.modules and not getattr(sys.modules["cupy"], "_barenet_fake", False):
        pytest.skip("a real CuPy is loaded: the GPU tests cover this")
    cp = make_fake_cupy(devices=2)
    cp._barenet_fake = True
    monkeypatch.setitem(sys.modules, "cupy", cp)
    dispatch._resolved.clear()
    dispatch._loaded.discard("cupy")
    yield cp
    dispatch._resolved.clear()
    dispatch._loaded.discard("cupy")
