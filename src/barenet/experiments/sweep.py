"""Run a sweep: every run in its own folder, on a pool of worker processes.

Layout of a sweep folder::

    OUT/sweep.json               the configuration and the list of runs (names, settings)
    OUT/runs/<name>/run.json     the run's settings, written before it starts
    OUT/runs/<name>/metrics.json written last (atomically): the run is finished
    OUT/runs/<name>/error.txt    the traceback of a run that failed

Restarting an interrupted sweep skips every run whose ``metrics.json`` exists (and
whose recorded settings in ``run.json`` still match the configuration) and reruns
the others. A run that raises is recorded (``error.txt`` and a ``failed``
entry in the returned results) and the other runs go on.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from .. import runtime
from ..io import atomic_write_bytes
from .grid import RunSpec, apply_quick, expand, load_config

__all__ = ["run_sweep", "DEFAULT_RUN_FN", "write_json", "is_finished"]

DEFAULT_RUN_FN = "barenet.train:run_training"

RunFn = Callable[[dict, str], dict]


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON, atomically (temporary file + rename)."""
    atomic_write_bytes(path, [json.dumps(obj, indent=2, default=_json_default).encode()])


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def is_finished(run_dir: str | os.PathLike) -> bool:
    """A run is finished when its ``metrics.json`` exists (written last, atomically)."""
    return (Path(run_dir) / "metrics.json").is_file()


def _resolve(run_fn: RunFn | str) -> RunFn:
    if callable(run_fn):
        return run_fn
    module, _, name = str(run_fn).partition(":")
    if not name:
        raise ValueError(f"sweep: run function must be 'module:function', got {run_fn!r}")
    return getattr(importlib.import_module(module), name)


def _execute(run_fn: RunFn | str, settings: dict, run_dir: str) -> dict:
    """Run one training run in this process; never raises for the run's own errors."""
    t0 = time.perf_counter()
    err = Path(run_dir) / "error.txt"
    try:
        metrics = _resolve(run_fn)(dict(settings), run_dir)
        metrics = dict(metrics or {})
        metrics.setdefault("wall_time_s", time.perf_counter() - t0)
        if not is_finished(run_dir):
            write_json(Path(run_dir) / "metrics.json", metrics)
        return {"status": "done", "metrics": metrics}
    except Exception as exc:
        text = traceback.format_exc()
        atomic_write_bytes(err, [text.encode()])
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def _canonical(settings: dict):
    return json.loads(json.dumps(settings, default=_json_default))


_LAST_CHECKPOINT = "checkpoints/last.safetensors"  # where run_training keeps its last state


def _recorded_settings(run_dir: Path):
    """The settings a finished run was started with (``None`` if unknown)."""
    try:
        return json.loads((run_dir / "run.json").read_text()).get("settings")
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _say(progress, msg: str) -> None:
    if progress:
        progress(msg)


def run_sweep(
    config: dict | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    workers: int | None = None,
    quick: bool = False,
    run_fn: RunFn | str = DEFAULT_RUN_FN,
    overrides: dict | None = None,
    progress: Callable[[str], None] | None = print,
) -> list[dict]:
    """Run every run of ``config`` into ``out_dir/runs/<name>``; returns one record per run.

    ``config``: a dict or a TOML path (see :mod:`barenet.experiments.grid`).
    ``workers``: processes (default: the number of cores, at most the pending runs);
    1 runs in this process. ``quick`` applies the ``[quick]`` overrides; ``overrides``
    are merged into ``[base]`` last, except ``seeds``, which replaces the seed list.
    ``run_fn(settings, run_dir) -> metrics`` is ``barenet.train.run_training`` by default
    (a callable or ``"module:function"``; with workers > 1 it must be importable by the
    worker processes).
    Records: ``{"name", "point", "seed", "status": "done"|"skipped"|"failed",
    "metrics" | "error"}``.
    """
    cfg = load_config(config)
    if quick:
        cfg = apply_quick(cfg)
    if overrides:
        from .grid import deep_merge

        overrides = dict(overrides)
        if "seeds" in overrides:
            cfg["seeds"] = overrides.pop("seeds")
        cfg["base"] = deep_merge(cfg.get("base", {}), overrides)
        cfg = load_config(cfg)  # checks the seeds (and the rest) again
    specs = expand(cfg)
    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    manifest = {k: v for k, v in cfg.items() if k not in ("quick",)}
    manifest.update(quick=quick, runs=[s.to_dict() for s in specs])
    write_json(out / "sweep.json", manifest)

    records: dict[str, dict] = {}
    pending: list[RunSpec] = []
    for s in specs:
        run_dir = out / "runs" / s.name
        base = {"name": s.name, "point": s.point, "seed": s.seed}
        settings = dict(s.settings)
        settings.setdefault("quiet", True)
        same = _recorded_settings(run_dir) == _canonical(settings)
        if is_finished(run_dir):
            if same:
                metrics = json.loads((run_dir / "metrics.json").read_text())
                records[s.name] = {**base, "status": "skipped", "metrics": metrics}
                continue
            _say(progress, f"{s.name}: settings changed since it ran; running it again")
            (run_dir / "metrics.json").unlink()
        run_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (run_dir / "error.txt").unlink()
        write_json(run_dir / "run.json", {**s.to_dict(), "settings": settings})
        if same and run_fn == DEFAULT_RUN_FN and (run_dir / _LAST_CHECKPOINT).is_file():
            settings = {**settings, "resume": True}  # an interrupted run goes on where it was
        s.settings = settings
        pending.append(s)
    n_skip = len(specs) - len(pending)
    _say(progress, f"sweep {cfg.get('name', out.name)}: {len(specs)} runs, {n_skip} already done")

    ncpu = os.cpu_count() or 1
    workers = max(1, min(workers or ncpu, len(pending) or 1))
    done = 0

    def finish(s: RunSpec, result: dict) -> None:
        nonlocal done
        done += 1
        records[s.name] = {"name": s.name, "point": s.point, "seed": s.seed, **result}
        if result["status"] == "done":
            m = result["metrics"]
            key = next((k for k in ("test_accuracy", "test_mse", "test_loss") if k in m), None)
            tail = f", {key} {m[key]:.4g}" if key and isinstance(m[key], (int, float)) else ""
            msg = f"done in {m.get('wall_time_s', 0):.1f} s{tail}"
        else:
            msg = f"FAILED: {result['error']}"
        _say(progress, f"[{done}/{len(pending)}] {s.name}: {msg}")

    if workers == 1:
        for s in pending:
            finish(s, _execute(run_fn, s.settings, str(out / "runs" / s.name)))
    elif pending:
        # each worker with one BLAS thread: see barenet.runtime (the opt-out is there too)
        with runtime.worker_environment():
            ctx = get_context("spawn")
            pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=runtime.init_worker)
            # Runs are handed out one per free worker (none queued ahead), so Ctrl-C,
            # which reaches the workers too, leaves no queued run to start afterwards.
            queue, inflight = list(pending), {}

            def submit_next() -> None:
                s = queue.pop(0)
                fut = pool.submit(_execute, run_fn, s.settings, str(out / "runs" / s.name))
                inflight[fut] = s

            try:
                for _ in range(min(workers, len(queue))):
                    submit_next()
                while inflight:
                    finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        s = inflight.pop(fut)
                        try:
                            result = fut.result()
                        except Exception as exc:  # the worker died (killed, out of memory)
                            err = f"{type(exc).__name__}: {exc}"
                            atomic_write_bytes(out / "runs" / s.name / "error.txt", [err.encode()])
                            result = {"status": "failed", "error": err}
                        finish(s, result)
                        if queue:
                            submit_next()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    results = [records[s.name] for s in specs]
    write_json(out / "results.json", results)
    return results
