"""``benchmarks/bench.py --device cuda`` on a fake GPU, PyTorch left out: the GPU rows,
the CPU baseline and the JSON come out (the figures themselves need a real GPU)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_under_test", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_device_cuda_writes_gpu_rows_and_the_cpu_baseline(
    fake_cupy, tmp_path, capsys, monkeypatch
):
    bench = _bench()
    load = bench._load

    def without_torch(numpy_first=False):
        load(numpy_first)
        bench.torch = bench.tnn = None

    monkeypatch.setattr(bench, "_load", without_torch)
    out = tmp_path / "b.json"
    assert (
        bench.main(
            ["--device", "cuda", "--models", "mlp", "--quick", "--cpu-baseline", "--json", str(out)]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["info"]["gpu"] == "Fake GPU" and report["info"]["device"] == "cuda:0"
    row = report["models"]["mlp"]
    assert row["barenet"]["train_ips"] > 0 and row["barenet_cpu"]["train_ips"] > 0
    assert row["gpu_over_cpu"] > 0 and "memory_mb" not in row and "own_loop" not in row
    assert "GPU/CPU" in capsys.readouterr().out
