"""``benchmarks/gpu_check.sh`` where there is no GPU: it parses, says so in one line of
its summary and exits 3 without running anything else (the GPU run itself is the
script's purpose)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


def _has_gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no CuPy, or CUDA without a device
        return False


def test_the_script_is_valid_bash_and_executable():
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


@pytest.mark.skipif(shutil.which("timeout") is None, reason="needs coreutils' timeout")
def test_without_a_gpu_the_script_stops_at_once_with_exit_3(tmp_path):
    if _has_gpu():
        pytest.skip("a GPU is here: the script would run the whole check")
    env = {
        **os.environ,
        "OUT": str(tmp_path),
        "GPU_CHECK_SKIP_INSTALL": "1",
        "PYTHON": sys.executable,
    }
    run = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 3, run.stdout + run.stderr
    summary = (tmp_path / "summary.txt").read_text()
    assert "no CuPy or no CUDA GPU here" in summary and "pip install barenet[gpu]" in summary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.txt"]
