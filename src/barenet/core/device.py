"""Devices: where a module's arrays live, ``"cpu"`` (NumPy) or ``"cuda:N"`` (CuPy, GPU N).

``Module.to("cuda")`` moves parameters, gradients and buffers with :func:`to_device`;
a layer compares its input's device with its weights' (:func:`check_same_device`) and
names both when they differ. CuPy is imported only by :func:`require_cupy`, the first
time a GPU is asked for: ``import barenet`` never imports it, and without CuPy or a GPU
the request fails with :class:`GPUUnavailableError`, one line saying how to install it.

The device check on the hot path is ``type(x) is np.ndarray``: on the CPU nothing else
runs.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from types import ModuleType

import numpy as np

from .backend import backend_name
from .config import last_seed

INSTALL_HINT = "pip install barenet[gpu]"


class GPUUnavailableError(ImportError):
    """A GPU was asked for where CuPy or a CUDA device is missing."""


def require_cupy() -> ModuleType:
    """The ``cupy`` module, imported now if need be, with at least one CUDA device;
    :class:`GPUUnavailableError` otherwise."""
    first = "cupy" not in sys.modules
    try:
        import cupy  # optional engine: CuPy, barenet[gpu]
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken CUDA install
        raise GPUUnavailableError(
            f"the GPU backend needs CuPy ({type(exc).__name__}: {exc}); {INSTALL_HINT}"
        ) from None
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # noqa: BLE001 - CUDA errors are not ImportErrors
        raise GPUUnavailableError(
            f"CuPy finds no usable CUDA GPU ({type(exc).__name__}: {exc}); a machine with an "
            f"NVIDIA GPU and its driver is needed ({INSTALL_HINT} installs CuPy)"
        ) from None
    if count < 1:
        raise GPUUnavailableError(
            f"CuPy finds no CUDA GPU on this machine; one is needed ({INSTALL_HINT} installs CuPy)"
        )
    if first:
        if last_seed() is not None:  # barenet.seed ran before CuPy was loaded
            cupy.random.seed(last_seed())
    return cupy


def parse_device(device) -> str:
    """``"cpu"``, ``"cuda"`` (the current GPU) or ``"cuda:N"`` as ``"cpu"`` or
    ``"cuda:N"``; ``ValueError`` for anything else, ``GPUUnavailableError`` for a GPU
    where there is none."""
    if not isinstance(device, str):
        raise TypeError(f"expected a device such as 'cpu' or 'cuda:0', got {device!r:.60}")
    text = device.strip().lower()
    if text == "cpu":
        return "cpu"
    if text == "cuda" or text.startswith("cuda:"):
        index = text[5:] if text != "cuda" else None
        if index is not None and not index.isdigit():
            raise ValueError(f"bad device {device!r:.60}: expected 'cuda' or 'cuda:N'")
        cupy = require_cupy()
        if index is None:
            return f"cuda:{cupy.cuda.Device().id}"
        count = int(cupy.cuda.runtime.getDeviceCount())
        if int(index) >= count:
            raise ValueError(
                f"device {device!r}: this machine has {count} GPU{'s' * (count != 1)} "
                f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})"
            )
        return f"cuda:{int(index)}"
    raise ValueError(f"bad device {device!r:.60}: expected 'cpu', 'cuda' or 'cuda:N'")


def is_device_name(value) -> bool:
    """Whether ``value`` names a device (a string starting with cpu or cuda), as opposed
    to a dtype."""
    return isinstance(value, str) and value.strip().lower().split(":")[0] in ("cpu", "cuda")


def device_of(a) -> str:
    """``"cpu"`` for a NumPy array (or anything not on a GPU), ``"cuda:N"`` for a CuPy one."""
    if type(a) is np.ndarray or backend_name(a) == "numpy":
        return "cpu"
    return f"cuda:{a.device.id}"


def _index(device: str) -> int:
    """N of ``"cuda:N"``; the current GPU for ``"cuda"``."""
    if ":" not in device:
        device = parse_device(device)
    return int(device.split(":")[1])


def to_device(a, device: str):
    """``a`` on ``device`` (a parsed name): the same array when it is there already,
    else a copy there."""
    on_cpu = type(a) is np.ndarray or backend_name(a) == "numpy"
    if device == "cpu":
        return a if on_cpu else a.get()
    cupy = require_cupy()
    if not on_cpu and a.device.id == _index(device):
        return a
    with cupy.cuda.Device(_index(device)):
        return cupy.array(a, copy=True) if not on_cpu else cupy.asarray(a)


def as_numpy(a) -> np.ndarray:
    """A NumPy array of ``a``'s values (a device-to-host copy for a GPU array)."""
    if type(a) is np.ndarray or backend_name(a) == "numpy":
        return np.asarray(a)
    return a.get()


def scope(device: str):
    """A context in which CuPy works on ``device`` (nothing to do for ``"cpu"``)."""
    if device == "cpu":
        return nullcontext()
    return require_cupy().cuda.Device(_index(device))


def check_same_device(layer, x, like) -> None:
    """``ValueError`` naming ``layer`` and both devices when ``x`` is not where ``like``
    (one of the layer's arrays) is."""
    if type(x) is type(like) and (type(x) is np.ndarray or x.device.id == like.device.id):
        return
    x_dev, w_dev = device_of(x), device_of(like)
    if x_dev != w_dev:
        raise ValueError(
            f"{layer._label()}: input is on {x_dev} but the layer's weights are on {w_dev}; "
            f"move the input (or the model: model.to({x_dev!r}))"
        )


class DeviceRandom:
    """A ``Generator``-like ``random(shape, dtype)`` over a CuPy ``RandomState``, so
    that a stochastic reference kernel draws on the GPU with the code it runs on the CPU."""

    def __init__(self, state):
        self.state = state

    def random(self, shape, dtype="float64"):
        return self.state.random_sample(size=shape, dtype=dtype)


def device_random(x, seed: int | None, cache: dict):
    """The random source for drawing next to ``x`` on its GPU: CuPy's global generator
    of that GPU (seeded by ``barenet.seed``), or, for a layer with a ``seed`` of its own,
    a generator per GPU kept in ``cache``."""
    cupy = require_cupy()
    dev = x.device.id
    if seed is None:
        with cupy.cuda.Device(dev):
            return DeviceRandom(cupy.random.get_random_state())
    if dev not in cache:
        with cupy.cuda.Device(dev):
            cache[dev] = DeviceRandom(cupy.random.RandomState(seed))
    return cache[dev]
