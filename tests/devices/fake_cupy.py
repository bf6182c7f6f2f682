"""A stand-in for CuPy on the CPU, so that the device plumbing is tested without a GPU.

``make_fake_cupy(devices=2)`` returns a module to install as ``sys.modules["cupy"]``. Its
``ndarray`` is a NumPy subclass whose class lives in module ``cupy`` (so
``barenet.core.backend`` takes it for a CuPy array) and which remembers the GPU it is
on. It behaves like CuPy where that matters here:

- a ufunc mixing it with a NumPy array (not a scalar) raises ``TypeError``, and one
  mixing two GPUs raises ``ValueError``, as CuPy does;
- every device-to-host transfer is counted in ``fake.transfers``: ``.get()``,
  ``asnumpy``, ``float()``/``int()``/``bool()`` of an array, ``.item()``, ``.tolist()``,
  formatting — each is a synchronisation with the GPU in real CuPy;
- ``cuda.Device(i)`` (context manager, ``.id``), ``cuda.runtime.getDeviceCount()``,
  ``random.seed`` / ``get_random_state`` / ``RandomState(seed).random_sample``;
- any other attribute is NumPy's function, its array results put on the current GPU.

It cannot see NumPy reading its memory directly (``np.array(a)``), which real CuPy
refuses; the GPU tests cover that.
"""

from __future__ import annotations

import functools
import types

import numpy as np


def make_fake_cupy(devices: int = 2) -> types.ModuleType:
    cp = types.ModuleType("cupy")
    cp.transfers = 0
    cp.seeds = []
    current = [0]

    def count() -> None:
        cp.transfers += 1

    class _DeviceRef:
        def __init__(self, i: int):
            self.id = i

    class ndarray(np.ndarray):  # noqa: N801 - CuPy's name
        def __array_finalize__(self, obj):
            self._device_id = getattr(obj, "_device_id", current[0])

        @property
        def device(self):
            return _DeviceRef(self._device_id)

        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            plain, dev = [], None
            for a in inputs + tuple(kwargs.get("out", ())):
                if isinstance(a, ndarray):
                    if dev is not None and a._device_id != dev:
                        raise ValueError("fake cupy: arrays on different GPUs")
                    dev = a._device_id
                elif isinstance(a, np.ndarray) and a.ndim > 0:
                    raise TypeError(
                        f"fake cupy: {ufunc.__name__} mixes a GPU array with a NumPy array"
                    )
            for a in inputs:
                plain.append(a.view(np.ndarray) if isinstance(a, ndarray) else a)
            if "out" in kwargs:
                kwargs["out"] = tuple(
                    o.view(np.ndarray) if isinstance(o, ndarray) else o for o in kwargs["out"]
                )
            result = getattr(ufunc, method)(*plain, **kwargs)
            return _wrap(result, dev)

        def __array_wrap__(self, arr, context=None, return_scalar=False):
            return arr if isinstance(arr, ndarray) else _put(arr, self._device_id)

        def get(self):
            count()
            return np.array(self.view(np.ndarray), copy=True)

        def __float__(self):
            count()
            return float(self.view(np.ndarray))

        def __int__(self):
            count()
            return int(self.view(np.ndarray))

        def __bool__(self):
            count()
            return bool(self.view(np.ndarray))

        def __format__(self, spec):
            count()
            return format(
                self.view(np.ndarray)[()] if self.ndim == 0 else self.view(np.ndarray), spec
            )

        def item(self, *args):
            count()
            return self.view(np.ndarray).item(*args)

        def tolist(self):
            count()
            return self.view(np.ndarray).tolist()

    ndarray.__module__ = "cupy"
    ndarray.__qualname__ = ndarray.__name__ = "ndarray"

    def _put(a, dev):
        out = np.asarray(a).view(ndarray)
        out._device_id = current[0] if dev is None else dev
        return out

    def _wrap(result, dev):
        if isinstance(result, tuple):
            return tuple(_wrap(r, dev) for r in result)
        if isinstance(result, np.ndarray) and not isinstance(result, ndarray):
            return _put(result, dev)
        if isinstance(result, np.generic):  # a reduction: CuPy keeps it a 0-d array
            return _put(np.asarray(result), dev)
        return result

    def array(a, dtype=None, copy=True):
        src = a.view(np.ndarray) if isinstance(a, ndarray) else a
        return _put(np.array(src, dtype=dtype, copy=True), current[0])

    def asarray(a, dtype=None):
        if isinstance(a, ndarray) and a._device_id == current[0]:
            return a if dtype is None else a.astype(dtype)
        return array(a, dtype=dtype)

    def asnumpy(a):
        if isinstance(a, ndarray):
            return a.get()
        return np.asarray(a)

    class Device:
        def __init__(self, i: int | None = None):
            self.id = current[0] if i is None else int(i)
            if not 0 <= self.id < devices:
                raise RuntimeError(f"fake cupy: no device {self.id}")
            self._prev: list[int] = []

        def __enter__(self):
            self._prev.append(current[0])
            current[0] = self.id
            return self

        def __exit__(self, *exc):
            current[0] = self._prev.pop()

        def synchronize(self):
            pass

        def use(self):
            current[0] = self.id

    class RandomState:
        def __init__(self, seed=None):
            self._rng = np.random.default_rng(seed)

        def random_sample(self, size=None, dtype=float):
            return _put(self._rng.random(size, dtype=np.dtype(dtype)), current[0])

    states: dict[int, RandomState] = {}

    def seed(n=None):
        cp.seeds.append(n)
        states.clear()
        for i in range(devices):
            states[i] = RandomState(n)

    def get_random_state():
        return states.setdefault(current[0], RandomState())

    cp.__version__ = "0+fake"
    cp.ndarray = ndarray
    cp.array, cp.asarray, cp.asnumpy = array, asarray, asnumpy
    cp.cuda = types.SimpleNamespace(
        Device=Device,
        runtime=types.SimpleNamespace(
            getDeviceCount=lambda: devices,
            getDeviceProperties=lambda i: {"name": b"Fake GPU"},
            runtimeGetVersion=lambda: 0,
        ),
        get_current_stream=lambda: types.SimpleNamespace(synchronize=lambda: None),
    )
    cp.random = types.SimpleNamespace(
        seed=seed, get_random_state=get_random_state, RandomState=RandomState
    )
    cp.current_device = lambda: current[0]

    def __getattr__(name):  # NumPy's function, its array results on the current GPU
        attr = getattr(np, name)
        if not callable(attr) or isinstance(attr, type):
            return attr

        @functools.wraps(attr)
        def on_gpu(*args, **kwargs):
            return _wrap(attr(*args, **kwargs), None)

        return on_gpu

    cp.__getattr__ = __getattr__
    return cp
