"""The executor interface: choosing one, the pool's handling of dead workers, and
the one-line errors of the Ray executor (no Ray, no cluster at the address)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from barenet.cli import EXIT_FILES, EXIT_MISSING, main
from barenet.experiments.executors import RunTask, make_executor
from barenet.experiments.executors.pool import PoolExecutor
from barenet.experiments.executors.ray_cluster import check_reachable
from barenet.experiments.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
CFG = {"seeds": [0], "base": {"epochs": 1}, "grid": {"lr": [0.01, 0.1]}}


def test_make_executor_checks_its_arguments():
    assert make_executor("pool").name == "pool"
    with pytest.raises(ValueError, match="executor must be one of pool, ray"):
        make_executor("dask")
    with pytest.raises(ValueError, match="cpus_per_run"):
        make_executor("pool", cpus_per_run=0)
    with pytest.raises(ValueError, match="address applies to the ray executor"):
        make_executor("pool", address="auto")
    with pytest.raises(ValueError, match="workers applies to the pool"):
        make_executor("ray", workers=2)


def test_pool_retries_a_killed_worker_then_records_it(tmp_path):
    from .fakes import always_die, die_once

    res = run_sweep(CFG, tmp_path / "once", workers=2, run_fn=die_once, progress=None)
    assert [r["status"] for r in res] == ["done", "done"]
    res = run_sweep(
        CFG,
        tmp_path / "always",
        executor=PoolExecutor(2, max_retries=1),
        run_fn=always_die,
        progress=None,
    )
    assert [r["status"] for r in res] == ["failed", "failed"]
    for r in res:
        run_dir = tmp_path / "always" / "runs" / r["name"]
        assert "worker process died" in r["error"]
        # Started exactly twice, the first try and one retry, each counted once although
        # one worker's death takes the other run down with the pool.
        assert (run_dir / "attempts.txt").read_text() == "xx"
        assert "worker process died" in (run_dir / "error.txt").read_text()


class _DyingPool:
    """A stand-in for the process pool in which every run dies with its worker. Of the
    runs handed out together, the first announces its start at once and the others only
    while the broken pool shuts down, as a worker does that starts its run between the
    pool's failure and its end."""

    def __init__(self, handed_out: list[str]):
        self.handed_out, self.announced, self.late = handed_out, [], []

    def submit(self, fn, name, *args):
        self.handed_out.append(name)
        (self.late if self.announced or self.late else self.announced).append(name)
        fut = Future()
        fut.set_exception(BrokenProcessPool("a worker died"))
        return fut

    def shutdown(self, wait=True, cancel_futures=False):
        self.announced += self.late
        self.late = []

    def empty(self) -> bool:  # the queue of announcements
        return not self.announced

    def get(self) -> str:
        return self.announced.pop(0)


def test_a_run_that_started_while_the_pool_broke_spends_a_retry(tmp_path, monkeypatch):
    handed_out: list[str] = []

    def new_pool(self, workers):
        pool = _DyingPool(handed_out)
        return pool, pool

    monkeypatch.setattr(PoolExecutor, "_new_pool", new_pool)
    tasks = [RunTask(n, {}, str(tmp_path / n)) for n in ("a", "b")]
    for t in tasks:
        Path(t.run_dir).mkdir()
    results = {}

    def finish(task, result):
        results[task.name] = result

    PoolExecutor(2, max_retries=1).run("unused:run", tasks, finish)
    assert sorted(handed_out) == ["a", "a", "b", "b"]  # the first try and one retry each
    for name, r in results.items():
        assert r == {"status": "failed", "error": "worker process died; gave up after 2 attempts"}
        assert "gave up after 2 attempts" in (tmp_path / name / "error.txt").read_text()


def test_ray_executor_without_ray_names_the_extra(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text('seeds = [0]\n[base]\nmodel = "mlp"\ndata = "digits"\n')
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if not installed
    code = main(["sweep", str(cfg), "--executor", "ray", "--out", str(tmp_path / "o")])
    assert code == EXIT_MISSING
    err = capsys.readouterr().err.strip()
    assert err == "barenet sweep: error: --executor ray needs Ray: pip install barenet[ray]"
    assert not (tmp_path / "o").exists()


def test_unreachable_address_is_one_line_and_fast():
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="cannot reach a Ray cluster at 127.0.0.1:1 "):
        check_reachable("127.0.0.1:1", timeout_s=5)
    assert time.monotonic() - t0 < 10
    with pytest.raises(ValueError, match="--address must be"):
        check_reachable("nowhere")


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
        except OSError:
            continue
        if text.encode() in cmd:
            found.append(proc.name)
    return found


def test_local_ray_temp_dir_stays_short_enough_for_its_sockets(tmp_path, monkeypatch):
    from barenet.experiments.executors import ray_cluster

    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    temp = ray_cluster.local_temp_dir()
    try:
        assert len(temp) <= ray_cluster._MAX_TEMP_CHARS and Path(temp).is_dir()
    finally:
        os.rmdir(temp)


def test_cli_sweep_on_a_local_ray_cleans_up_after_itself(tmp_path, tmp_path_factory):
    """``--executor ray`` without ``--address``: a local Ray for the command, its
    temporary folder removed at the end, none of its processes left."""
    pytest.importorskip("ray")
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        'name = "tiny"\nseeds = [0]\n[base]\nmodel = "mlp"\ndata = "digits"\nepochs = 1\n'
        "limit_train = 200\nplots = false\n[grid]\nlr = [0.01, 0.02]\n"
    )
    temp = tmp_path_factory.mktemp("t")  # a short path: Ray's sockets live below it
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "barenet", "sweep", str(cfg), "--executor", "ray"]
    cmd += ["--out", str(tmp_path / "out"), "--no-figures"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 of 2 runs finished" in proc.stdout
    assert (tmp_path / "out" / "results.md").is_file()
    deadline = time.monotonic() + 20
    while _processes_mentioning(str(temp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_mentioning(str(temp))
    assert list(temp.iterdir()) == []  # Ray's session folder went with it
    bad = subprocess.run(
        [*cmd[:7], "--address", "127.0.0.1:1", "--out", str(tmp_path / "bad")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == EXIT_FILES  # an OSError at the CLI's boundary
    assert bad.stderr.strip().startswith("barenet sweep: error: cannot reach a Ray cluster at")
    assert len(bad.stderr.strip().splitlines()) == 1
