"""Model files and a running server for the drawing page's tests."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import pytest

import barenet as bn
from barenet.models import build_model
from barenet.serve import DrawingApp, DrawingServer


def lines_model() -> bn.Sequential:
    """An 8x8 classifier built by hand: "vertical" sums the two middle columns,
    "horizontal" the two middle rows, so a stroke's direction decides the answer."""
    lin = bn.Linear(64, 2)
    w = np.zeros((2, 8, 8), dtype=np.float32)
    w[0, :, 3:5] = 1.0
    w[1, 3:5, :] = 1.0
    lin.weight.data[...] = w.reshape(2, 64)
    lin.bias.data[...] = 0.0
    return bn.Sequential(bn.Flatten(), lin)


LINES_META = {
    "class_names": ["vertical", "horizontal"],
    "input_shape": [1, 8, 8],
    "task": "classification",
    "dataset": "digits",
    "normalisation": {"range": [0.0, 1.0], "invert": False},
    "config": {"model": "lines"},
    "metrics": {"test_accuracy": 1.0},
}


@pytest.fixture(scope="session")
def lines_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "lines.safetensors"
    bn.save(lines_model(), path, LINES_META)
    return path


@pytest.fixture(scope="session")
def digits_file(tmp_path_factory):
    """An untrained 10-class cnn-small for 28x28 input, as run_training would save it."""
    bn.seed(3)
    meta = {
        "class_names": [f"class {k}" for k in range(10)],
        "input_shape": [1, 28, 28],
        "task": "classification",
        "dataset": "mnist",
        "normalisation": {"range": [0.0, 1.0], "invert": True},
        "config": {"model": "cnn-small"},
    }
    path = tmp_path_factory.mktemp("serve") / "digits.safetensors"
    bn.save(build_model("cnn-small", (1, 28, 28), 10), path, meta)
    return path


@contextmanager
def serving(model_file, host: str = "127.0.0.1"):
    """A DrawingServer on a free port in a background thread; yields it."""
    server = DrawingServer(DrawingApp.from_file(model_file), host, 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def lines_server(lines_file):
    with serving(lines_file) as server:
        yield server


def stroke_image(size: int = 120, vertical: bool = True, at: float = 0.3) -> np.ndarray:
    """A white page (1.0) with one dark stroke, as the page sends a drawing."""
    img = np.ones((size, size))
    a, b, pos = int(0.2 * size), int(0.8 * size), int(at * size)
    if vertical:
        img[a:b, pos : pos + 6] = 0.0
    else:
        img[pos : pos + 6, a:b] = 0.0
    return img
