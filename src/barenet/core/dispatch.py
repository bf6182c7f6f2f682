"""Which kernels a layer runs: the reference ones or the fast ones, per array module.

Every layer family ("conv2d", "maxpool2d", "relu", ...) has reference kernels in
``barenet.reference``: the textbook forward and backward, written once for any array
module. A family may also have fast kernels for one array module (``barenet.fast``:
"numpy" on the CPU today; "cupy" would hold GPU kernels). A layer asks
``kernels_for(family, x)`` for the set that fits its input ``x`` and the current
mode, calls its functions and keeps the set for its backward:

    mode         array module   kernels
    "fast"       numpy          the fast NumPy set, else the reference one
    "fast"       cupy           the fast CuPy set, else the reference one
    "reference"  any            the reference set

``kernels("reference")`` switches the mode for the whole process (like
``set_default_dtype``); as a context manager it switches back on exit. A set is a
``Kernels`` of named functions whose signatures are those of the family's reference
functions (see ``barenet.reference``), so every set of a family is interchangeable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from .backend import backend_name

MODES = ("fast", "reference")
ANY = "*"  # the array module of kernels written for any of them (the reference ones)

_registry: dict[tuple[str, str, str], Kernels] = {}
# Array module -> the package whose ``install()`` registers its fast kernels, imported
# the first time a layer meets an array of that module (so ``import barenet`` never
# imports CuPy): see ``add_loader``.
_loaders: dict[str, str] = {}
_loaded: set[str] = set()
_mode = "fast"
_resolved: dict[tuple[str, str], Kernels] = {}  # (family, array module) in the current mode


class Kernels:
    """The kernels of one layer family for one mode and array module: named functions
    (``forward``, ``backward``, ...), read as attributes."""

    def __init__(self, **functions: Callable):
        self.__dict__.update(functions)

    def __repr__(self) -> str:
        names = ", ".join(f"{k}={getattr(v, '__module__', '?')}.{k}" for k, v in vars(self).items())
        return f"Kernels({names})"


def register(family: str, mode: str, module: str, kernels: Kernels) -> None:
    """Make ``kernels`` the ``mode`` set of ``family`` for arrays of ``module``
    ("numpy", "cupy", or ``ANY``)."""
    if mode not in MODES:
        raise ValueError(f"register: mode must be one of {MODES}, got {mode!r}")
    _registry[family, mode, module] = kernels
    _resolved.clear()


def add_loader(module: str, package: str) -> None:
    """Have ``package`` (a dotted name) imported, and its ``install()`` called, when a
    layer first asks for kernels for arrays of ``module``."""
    _loaders[module] = package
    _loaded.discard(module)


def unregister(family: str, mode: str, module: str) -> None:
    """Remove a set registered with ``register`` (KeyError when there is none)."""
    del _registry[family, mode, module]
    _resolved.clear()


def registered() -> dict[tuple[str, str, str], Kernels]:
    """Every registered set, keyed by (family, mode, array module)."""
    return dict(_registry)


def families() -> set[str]:
    """The layer families that have kernels."""
    return {family for family, _, _ in _registry}


def _resolve(family: str, module: str) -> Kernels:
    if module in _loaders and module not in _loaded:
        _loaded.add(module)
        importlib.import_module(_loaders[module]).install()
    tries = [(family, _mode, module), (family, _mode, ANY)]
    if _mode != "reference":  # no fast kernels for this array module: the reference ones
        tries += [(family, "reference", module), (family, "reference", ANY)]
    for key in tries:
        if key in _registry:
            return _registry[key]
    raise LookupError(f"no {_mode} kernels for {family!r} on {module} arrays")


def kernels_for(family: str, x) -> Kernels:
    """The kernel set of ``family`` for input ``x`` in the current mode."""
    module = "numpy" if type(x) is np.ndarray else backend_name(x)
    found = _resolved.get((family, module))
    if found is None:
        found = _resolved[family, module] = _resolve(family, module)
    return found


def current_mode() -> str:
    """The kernel mode in effect: ``"fast"`` (the default) or ``"reference"``."""
    return _mode


def _set_mode(mode: str) -> None:
    global _mode
    _mode = mode
    _resolved.clear()


class kernels:  # noqa: N801 - called like a function: ``with bn.kernels("reference"):``
    """Run every layer through the ``"reference"`` kernels, or the ``"fast"`` ones (the
    default), from now on; used as a context manager, the previous mode comes back on
    exit. A layer keeps the set its forward used for its backward."""

    def __init__(self, mode: str):
        if mode not in MODES:
            raise ValueError(f"kernels: mode must be one of {MODES}, got {mode!r}")
        self.mode, self.previous = mode, _mode
        _set_mode(mode)

    def __enter__(self) -> kernels:
        return self

    def __exit__(self, *exc) -> None:
        _set_mode(self.previous)

    def __repr__(self) -> str:
        return f"kernels({self.mode!r})"
