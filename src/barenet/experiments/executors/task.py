"""What one sweep run does wherever it runs: the same body for every executor.

:func:`execute` is called in a pool worker, in a Ray task on any node, or in the
sweep's own process. It pins the BLAS and barenet's element-wise kernels to the
run's share of cores, resumes from ``checkpoints/last.safetensors`` when an earlier
attempt (a Ctrl-C, a killed worker) left one, calls the run function, and records
the outcome in the run folder: ``metrics.json`` last when it finished,
``error.txt`` with the traceback when it raised. It never raises for the run's own
errors, so every executor reports a failed run the same way.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ...io import atomic_write_bytes
from ...runtime import pinned_threads

__all__ = [
    "DEFAULT_RUN_FN",
    "Executor",
    "Finish",
    "RunTask",
    "LAST_CHECKPOINT",
    "RunFn",
    "execute",
    "is_finished",
    "json_default",
    "pinned_threads",
    "write_json",
]

DEFAULT_RUN_FN = "barenet.train:run_training"
LAST_CHECKPOINT = "checkpoints/last.safetensors"  # where run_training keeps its last state
RunFn = Callable[[dict, str], dict]


@dataclass
class RunTask:
    """One pending run: its name, the settings handed to the run function, its folder."""

    name: str
    settings: dict
    run_dir: str


Finish = Callable[[RunTask, dict], None]


class Executor(Protocol):
    """Runs tasks and reports each one's result through ``finish``."""

    name: str

    def run(self, run_fn: RunFn | str, tasks: Sequence[RunTask], finish: Finish) -> None: ...


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON, atomically (temporary file + rename)."""
    atomic_write_bytes(path, [json.dumps(obj, indent=2, default=json_default).encode()])


def json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def is_finished(run_dir: str | os.PathLike) -> bool:
    """A run is finished when its ``metrics.json`` exists (written last, atomically)."""
    return (Path(run_dir) / "metrics.json").is_file()


def resolve(run_fn: RunFn | str) -> RunFn:
    """A callable, or ``"module:function"`` imported here (in the worker)."""
    if callable(run_fn):
        return run_fn
    module, _, name = str(run_fn).partition(":")
    if not name:
        raise ValueError(f"sweep: run function must be 'module:function', got {run_fn!r}")
    return getattr(importlib.import_module(module), name)


def execute(run_fn: RunFn | str, settings: dict, run_dir: str, threads: int | None = None) -> dict:
    """Run one training run here; returns ``{"status": "done", "metrics"}`` or
    ``{"status": "failed", "error"}``. Never raises for the run's own errors
    (``KeyboardInterrupt`` and the like still propagate).

    With the default run function, a ``checkpoints/last.safetensors`` left by an
    earlier attempt is resumed from (the sweep removes checkpoints whose run was
    started with other settings before it hands the run out)."""
    t0 = time.perf_counter()
    settings = dict(settings)
    if run_fn == DEFAULT_RUN_FN and (Path(run_dir) / LAST_CHECKPOINT).is_file():
        settings["resume"] = True  # an interrupted attempt goes on where it stopped
    pin = pinned_threads(threads) if threads else contextlib.nullcontext()
    try:
        with pin:
            metrics = resolve(run_fn)(settings, run_dir)
        metrics = dict(metrics or {})
        metrics.setdefault("wall_time_s", time.perf_counter() - t0)
        if not is_finished(run_dir):
            write_json(Path(run_dir) / "metrics.json", metrics)
        return {"status": "done", "metrics": metrics}
    except Exception as exc:
        record_failure(run_dir, traceback.format_exc())
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def record_failure(run_dir: str | os.PathLike, text: str) -> None:
    """Write ``error.txt`` into the run folder (atomically)."""
    atomic_write_bytes(Path(run_dir) / "error.txt", [text.encode()])
