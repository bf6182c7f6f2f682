"""The GPU tests: marked ``gpu`` and skipped, with the reason, where CuPy or a CUDA GPU
is missing, so the CPU suite stays green. They import only NumPy, CuPy, PyTorch,
pytest and barenet (what a GPU machine without registry access has).

``BARENET_GPU_REPORT=path.json`` makes the session write the worst relative error of
every parity family it checked (``benchmarks/gpu_check.sh`` sets it).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest


def _why_no_gpu() -> str | None:
    try:
        with warnings.catch_warnings():  # the suite turns RuntimeWarnings into errors
            warnings.simplefilter("ignore")
            import cupy
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken CUDA install
        return f"CuPy is not importable ({type(exc).__name__}: {exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - CUDA's own errors
        return f"no usable CUDA GPU ({type(exc).__name__}: {exc})"
    return None if count > 0 else "no CUDA GPU"


WHY_NO_GPU = _why_no_gpu()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    skip = pytest.mark.skip(reason=WHY_NO_GPU) if WHY_NO_GPU else None
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.gpu)
            if skip is not None:
                item.add_marker(skip)


_WORST: dict[str, tuple[float, str]] = {}


@pytest.fixture
def record_error():
    """``record_error(family, err, where)``: keep the worst error of each family."""

    def record(family: str, err: float, where: str) -> None:
        if family not in _WORST or err > _WORST[family][0]:
            _WORST[family] = (float(err), where)

    return record


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("BARENET_GPU_REPORT")
    if not path or not _WORST:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(
            {k: {"worst": v[0], "where": v[1]} for k, v in sorted(_WORST.items())}, f, indent=1
        )
    os.replace(tmp, path)


def rel_err(a, b) -> float:
    """max|a - b| / max|b| (both brought to the host in float64)."""
    import cupy

    a = cupy.asnumpy(a).astype(np.float64)
    b = cupy.asnumpy(b).astype(np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-300))


TOL = {np.float64: 1e-9, np.float32: 1e-4}
