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


def test_the_summary_reads_the_check_s_files_and_judges_the_targets(tmp_path, capsys):
    import json
    import runpy

    (tmp_path / "gpu_tests.xml").write_text(
        '<testsuites><testsuite tests="10" failures="1" errors="0" skipped="2"/></testsuites>'
    )
    (tmp_path / "parity.json").write_text(
        json.dumps({"torch-cuda float32": {"worst": 3e-6, "where": "Conv2d-k3-p1 dx"}})
    )
    row = {
        "barenet": {"train_ips": 30000.0, "infer_ips": 90000.0},
        "torch": {"train_ips": 60000.0, "infer_ips": 100000.0},
        "train_ratio": 0.5,
        "infer_ratio": 0.9,
        "gpu_over_cpu": 12.0,
    }
    (tmp_path / "bench_cuda.json").write_text(
        json.dumps({"info": {"gpu": "Some GPU", "device": "cuda:0"}, "models": {"cnn-deep": row}})
    )
    summary = runpy.run_path(str(SCRIPT.parent / "gpu_summary.py"))
    text = "\n".join(summary["summarise"](tmp_path))
    assert "7 passed, 1 failed, 0 errors, 2 skipped" in text
    assert "worst torch-cuda float32: 3.00e-06 (Conv2d-k3-p1 dx)" in text
    assert "cnn-deep training / barenet CPU >= 20: 12.00 (NOT met)" in text
    assert "cnn-deep training / PyTorch CUDA >= 0.3: 0.50 (met)" in text
    assert "train: no results" in text
