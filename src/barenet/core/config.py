"""Global settings: the default floating dtype and barenet's random generator.

Every layer draws its initial weights and dropout masks from one
``numpy.random.Generator``; ``seed(n)`` replaces it, so a run is repeatable.
"""

from __future__ import annotations

import sys

import numpy as np

from ..runtime import seeds_numpy_global

_default_dtype: np.dtype = np.dtype(np.float32)
_rng: np.random.Generator = np.random.default_rng()
_last_seed: int | None = None


def set_default_dtype(dtype) -> None:
    """Set the dtype new layers are built in (float32 or float64)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dt}")
    _default_dtype = dt


def get_default_dtype() -> np.dtype:
    """The dtype new layers are built in (float32 unless changed)."""
    return _default_dtype


def seed(n: int) -> None:
    """Seed barenet's generator (weights, dropout), NumPy's legacy one (``np.random``;
    ``BARENET_SEED_NUMPY=0`` leaves it alone, see ``barenet.runtime``) and CuPy's (what
    dropout draws from on a GPU): now when CuPy is loaded, else when a GPU is first used."""
    global _rng, _last_seed
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"seed: expected a non-negative int, got {n!r}")
    _rng = np.random.default_rng(int(n))
    _last_seed = int(n)
    if seeds_numpy_global():
        np.random.seed(int(n) % 2**32)
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        try:
            cupy.random.seed(int(n))
        except Exception:  # noqa: BLE001 - CuPy without a usable GPU: nothing draws there
            pass


def last_seed() -> int | None:
    """The argument of the last ``seed`` call (None before the first)."""
    return _last_seed


def get_rng() -> np.random.Generator:
    """barenet's global random generator."""
    return _rng


def get_rng_state() -> dict:
    """JSON-serialisable state of the global generator (for checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the global generator from ``get_rng_state()``."""
    _rng.bit_generator.state = state
