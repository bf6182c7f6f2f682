"""The Ray executor against the local pool: same folders, same numbers, same resume.

One local Ray (2 CPUs, no dashboard, its temporary folder in this module's tmp
path) serves every test of the module and is shut down at the end, with a check
that none of its processes outlive it.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path

import pytest

from barenet.experiments.executors.ray_cluster import RayExecutor
from barenet.experiments.studies import finish_sweep
from barenet.experiments.sweep import run_sweep
from barenet.train import run_training
from barenet.train.callbacks import LambdaCallback

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
# Tiny real training runs: the MLP on 400 of the bundled 8x8 digits.
REAL = {
    "name": "tiny",
    "seeds": [0, 1],
    "base": {
        "model": "mlp",
        "data": "digits",
        "model_args": {"hidden": [16]},
        "epochs": 3,
        "limit_train": 400,
        "limit_test": 200,
        "batch_size": 32,
        "plots": False,
    },
    "grid": {"lr": [0.003, 0.01]},
}
_TIMING = {"wall_time_s", "time_s"}


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{proc.name}: {cmd[:120]}")
    return found


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray for the module; its workers import the tests' fake run functions."""
    temp = tmp_path_factory.mktemp("ray")
    old = os.environ.get("PYTHONPATH")
    paths = [str(ROOT), str(ROOT / "src")] + ([old] if old else [])
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    ray.init(
        num_cpus=2, include_dashboard=False, _temp_dir=str(temp), logging_level=logging.WARNING
    )
    try:
        yield temp
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
        deadline = time.monotonic() + 20
        while _processes_mentioning(str(temp)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _processes_mentioning(str(temp)), "Ray processes outlived ray.shutdown()"


def _metrics(out: Path) -> dict:
    res = {}
    for d in sorted((out / "runs").iterdir()):
        m = json.loads((d / "metrics.json").read_text())
        res[d.name] = {k: v for k, v in m.items() if k not in _TIMING}
    return res


def _table(out: Path) -> list[dict]:
    """``results.csv`` without its wall-time columns."""
    with open(out / "results.csv", newline="") as f:
        return [{k: v for k, v in row.items() if "wall" not in k} for row in csv.DictReader(f)]


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def pool_reference(tmp_path_factory):
    """The tiny sweep on the local pool: the numbers every other executor must give."""
    out = tmp_path_factory.mktemp("pool")
    res = run_sweep(REAL, out, workers=2, progress=None)
    assert [r["status"] for r in res] == ["done"] * 4
    finish_sweep(out, figures=False)
    return out


def test_same_folders_and_metrics_as_the_pool(local_ray, pool_reference, tmp_path):
    res = run_sweep(REAL, tmp_path, executor="ray", progress=None)
    assert [r["status"] for r in res] == ["done"] * 4
    finish_sweep(tmp_path, figures=False)
    assert _files(tmp_path) == _files(pool_reference)
    assert _metrics(tmp_path) == _metrics(pool_reference)
    assert _table(tmp_path) == _table(pool_reference)


def test_interrupted_under_ray_continues_under_the_pool(local_ray, pool_reference, tmp_path):
    def ctrl_c_after_first_finished(msg: str) -> None:
        if msg.startswith("[1/"):
            raise KeyboardInterrupt

    held = tmp_path / "runs" / "lr-0.003__seed-0"  # waits for the Ctrl-C: it cannot finish
    held.mkdir(parents=True)
    (held / "hold").touch()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            REAL,
            tmp_path,
            executor="ray",
            run_fn="tests.experiments.fakes:train_or_wait_for_ctrl_c",
            progress=ctrl_c_after_first_finished,
        )
    finished = [d.name for d in (tmp_path / "runs").iterdir() if (d / "metrics.json").is_file()]
    assert 1 <= len(finished) < 4 and held.name not in finished
    res = run_sweep(REAL, tmp_path, workers=2, progress=None)
    status = {r["name"]: r["status"] for r in res}
    assert sorted(n for n, s in status.items() if s == "skipped") == sorted(finished)
    assert _metrics(tmp_path) == _metrics(pool_reference)


def test_interrupted_under_the_pool_resumes_from_its_checkpoint_under_ray(
    local_ray, pool_reference, tmp_path
):
    def stop_after_two_epochs(settings: dict, out_dir: str) -> dict:
        def on_epoch_end(ctx):
            if ctx.epoch == 1:
                raise KeyboardInterrupt

        cb = LambdaCallback(on_epoch_end=on_epoch_end)
        return run_training({**settings, "callbacks": [cb]}, out_dir)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(REAL, tmp_path, workers=1, run_fn=stop_after_two_epochs, progress=None)
    first = tmp_path / "runs" / "lr-0.003__seed-0"
    assert (first / "checkpoints" / "last.safetensors").is_file()
    assert not (first / "metrics.json").exists()
    res = run_sweep(REAL, tmp_path, executor="ray", progress=None)
    assert [r["status"] for r in res] == ["done"] * 4
    steps = json.loads((first / "history.json").read_text())["steps"]
    assert len(steps) == 3 * 12  # 3 epochs of 12 batches: two restored, one trained
    assert _metrics(tmp_path) == _metrics(pool_reference)


def test_failed_run_is_recorded_and_the_others_finish(local_ray, tmp_path):
    cfg = {
        "seeds": [0],
        "base": {"epochs": 1},
        "runs": [{"lr": 0.01}, {"lr": 0.1, "fail": True}, {"lr": 0.2}],
    }
    res = run_sweep(cfg, tmp_path, executor="ray", run_fn="tests.experiments.fakes:fake_run")
    failed = [r for r in res if r["status"] == "failed"]
    assert len(failed) == 1 and "planned failure" in failed[0]["error"]
    err = (tmp_path / "runs" / failed[0]["name"] / "error.txt").read_text()
    assert "RuntimeError: planned failure" in err
    assert sum(r["status"] == "done" for r in res) == 2


def test_killed_worker_is_retried_then_recorded(local_ray, tmp_path):
    cfg = {"seeds": [0], "base": {"epochs": 1}, "grid": {"lr": [0.01]}}
    once = run_sweep(
        cfg,
        tmp_path / "once",
        executor=RayExecutor(max_retries=1),
        run_fn="tests.experiments.fakes:die_once",
        progress=None,
    )
    assert once[0]["status"] == "done"  # the retry ran it
    always = run_sweep(
        cfg,
        tmp_path / "always",
        executor=RayExecutor(max_retries=1),
        run_fn="tests.experiments.fakes:always_die",
        progress=None,
    )
    assert always[0]["status"] == "failed" and "WorkerCrashedError" in always[0]["error"]
    run_dir = tmp_path / "always" / "runs" / always[0]["name"]
    assert (run_dir / "attempts.txt").read_text() == "xx"  # the first try and one retry
    assert "WorkerCrashedError" in (run_dir / "error.txt").read_text()
    saved = json.loads((tmp_path / "always" / "results.json").read_text())
    assert saved[0]["status"] == "failed"
