"""Run a sweep: every run in its own folder, on an executor (a local pool of worker
processes, or Ray tasks; see :mod:`barenet.experiments.executors`).

Layout of a sweep folder::

    OUT/sweep.json               the configuration and the list of runs (names, settings)
    OUT/runs/<name>/run.json     the run's settings, written before it starts
    OUT/runs/<name>/metrics.json written last (atomically): the run is finished
    OUT/runs/<name>/error.txt    the traceback of a run that failed

Restarting an interrupted sweep skips every run whose ``metrics.json`` exists (and
whose recorded settings in ``run.json`` still match the configuration) and reruns
the others, an interrupted one from its ``checkpoints/last.safetensors``. A run
that raises is recorded (``error.txt`` and a ``failed`` entry in the returned
results) and the other runs go on. All of this is the sweep's own, the same under
every executor: a sweep interrupted under one continues under another.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from ..train import TrainConfig
from ..train.run import run_training
from .executors import Executor, RunTask, make_executor
from .executors.task import (
    DEFAULT_RUN_FN,
    LAST_CHECKPOINT,
    RunFn,
    is_finished,
    json_default,
    resolve,
    write_json,
)
from .grid import RunSpec, apply_overrides, apply_quick, expand, load_config

__all__ = [
    "run_sweep",
    "plan_sweep",
    "DEFAULT_RUN_FN",
    "check_run_settings",
    "write_json",
    "is_finished",
]


def plan_sweep(
    config: dict | str | os.PathLike,
    *,
    quick: bool = False,
    overrides: dict | None = None,
    check: bool = True,
) -> tuple[dict, list[RunSpec]]:
    """The configuration (``[quick]`` and ``overrides`` applied) and its runs, without
    running anything; with ``check`` every run's settings are checked as
    ``run_training`` would (:func:`check_run_settings`)."""
    cfg = load_config(config)
    if quick:
        cfg = apply_quick(cfg)
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    specs = expand(cfg)
    if check:
        check_run_settings(specs, str(cfg.get("name", "")))
    return cfg, specs


def check_run_settings(specs: list[RunSpec], sweep_name: str = "") -> None:
    """Check every run's settings as ``run_training`` would, before any run starts:
    ``ValueError`` listing the runs with bad settings (each distinct error once)."""
    errors: dict[str, list[str]] = {}
    for s in specs:
        try:
            TrainConfig.from_dict(s.settings)
        except (ValueError, TypeError) as exc:
            errors.setdefault(str(exc), []).append(s.name)
    if errors:
        lines = [
            f"  {names[0]}{f' (and {len(names) - 1} more)' if len(names) > 1 else ''}: {msg}"
            for msg, names in errors.items()
        ]
        bad = sum(len(n) for n in errors.values())
        raise ValueError(
            f"sweep{' ' + sweep_name if sweep_name else ''}: {bad} of {len(specs)} runs have "
            f"bad settings; nothing was run:\n" + "\n".join(lines)
        )


def _canonical(settings: dict):
    return json.loads(json.dumps(settings, default=json_default))


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
    executor: str | Executor = "pool",
    address: str | None = None,
    cpus_per_run: int = 1,
) -> list[dict]:
    """Run every run of ``config`` into ``out_dir/runs/<name>``; returns one record per run.

    ``config``: a dict or a TOML path (see :mod:`barenet.experiments.grid`).
    ``quick`` applies the ``[quick]`` overrides; ``overrides`` come last (see
    :func:`~barenet.experiments.grid.apply_overrides`: ``seeds`` replaces the seed
    list, a varied setting replaces its grid axis). With ``run_training`` as the run
    function every run's settings are checked before the first one starts.
    ``executor``: ``"pool"`` (worker processes here; ``workers`` of them, default
    the number of cores // ``cpus_per_run``, at most the pending runs; 1 runs in this
    process), ``"ray"`` (one Ray task per run on the cluster at ``address``, or on a
    local Ray when ``None``; the sweep folder must then be readable and writable by
    every node under the same path), or an :class:`~.executors.Executor`.
    ``cpus_per_run``: cores per run, its BLAS pinned to as many threads.
    ``run_fn(settings, run_dir) -> metrics`` is ``barenet.train.run_training`` by default
    (a callable or ``"module:function"``; outside this process it must be importable by
    the workers).
    Records: ``{"name", "point", "seed", "status": "done"|"skipped"|"failed",
    "metrics" | "error"}``.
    """
    cfg, specs = plan_sweep(
        config, quick=quick, overrides=overrides, check=resolve(run_fn) is run_training
    )
    if isinstance(executor, str):
        executor = make_executor(
            executor, workers=workers, address=address, cpus_per_run=cpus_per_run
        )
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
        if not same:  # a checkpoint of other settings must not be resumed from
            with contextlib.suppress(FileNotFoundError):
                (run_dir / LAST_CHECKPOINT).unlink()
        run_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (run_dir / "error.txt").unlink()
        write_json(run_dir / "run.json", {**s.to_dict(), "settings": settings})
        s.settings = settings
        pending.append(s)
    n_skip = len(specs) - len(pending)
    _say(progress, f"sweep {cfg.get('name', out.name)}: {len(specs)} runs, {n_skip} already done")

    by_name = {s.name: s for s in pending}
    done = 0

    def finish(task: RunTask, result: dict) -> None:
        nonlocal done
        done += 1
        s = by_name[task.name]
        records[s.name] = {"name": s.name, "point": s.point, "seed": s.seed, **result}
        if result["status"] == "done":
            m = result["metrics"]
            key = next((k for k in ("test_accuracy", "test_mse", "test_loss") if k in m), None)
            tail = f", {key} {m[key]:.4g}" if key and isinstance(m[key], (int, float)) else ""
            msg = f"done in {m.get('wall_time_s', 0):.1f} s{tail}"
        else:
            msg = f"FAILED: {result['error']}"
        _say(progress, f"[{done}/{len(pending)}] {s.name}: {msg}")

    tasks = [RunTask(s.name, s.settings, str(out / "runs" / s.name)) for s in pending]
    executor.run(run_fn, tasks, finish)
    missing = [s.name for s in specs if s.name not in records]
    if missing:  # an executor must report every run; never let one vanish from the table
        raise RuntimeError(f"sweep: executor {executor.name!r} lost runs {missing}")
    results = [records[s.name] for s in specs]
    write_json(out / "results.json", results)
    return results
