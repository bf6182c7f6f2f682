"""Fake run functions with the contract of ``barenet.train.run_training``."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np

WAIT_S = 120.0  # a fake that waits for another process gives up after this long


def fake_run(settings: dict, out_dir: str) -> dict:
    """Writes a History-like ``history.json`` and ``metrics.json`` from the settings.

    Accuracy grows with ``lr`` and the seed adds a known offset, so means and
    standard deviations over seeds are known in advance. ``fail=True`` raises.
    """
    if settings.get("fail"):
        raise RuntimeError(f"planned failure for lr={settings.get('lr')}")
    out = Path(out_dir)
    calls = out / "calls.txt"
    calls.write_text(calls.read_text() + "x" if calls.exists() else "x")
    epochs = int(settings.get("epochs", 3))
    base = 0.5 + 10 * float(settings.get("lr", 0.01)) + 0.01 * int(settings.get("seed", 0))
    hist = []
    for e in range(1, epochs + 1):
        hist.append(
            {
                "epoch": e,
                "train_loss": 1.0 / e,
                "val_loss": 1.2 / e,
                "val_acc": base - 0.1 / e,
                "train_acc": base,
            }
        )
        if settings.get("record_grad_norms"):
            hist[-1]["grad_norms"] = {"0.weight": 0.1 / e, "2.weight": 1.0 / e}
    steps = list(np.linspace(2.0, 0.5, 20 * epochs))
    (out / "history.json").write_text(json.dumps({"epochs": hist, "steps": steps}))
    metrics = {
        "test_accuracy": hist[-1]["val_acc"],
        "test_loss": hist[-1]["val_loss"],
        "best_val_accuracy": hist[-1]["val_acc"],
        "epochs": epochs,
        "wall_time_s": 0.01,
        "stopped_reason": "diverged" if settings.get("diverge") else None,
    }
    (out / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def crash_after_first(settings: dict, out_dir: str) -> dict:
    """Simulates an interrupt: the run with ``lr == 0.1`` dies before writing metrics."""
    if settings.get("lr") == 0.1:
        (Path(out_dir) / "history.json").write_text("{}")
        raise KeyboardInterrupt
    return fake_run(settings, out_dir)


def die_once(settings: dict, out_dir: str) -> dict:
    """The first attempt kills its own worker process (SIGKILL); the next one runs."""
    marker = Path(out_dir) / "attempted"
    if not marker.exists():
        marker.write_text("1")
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_run(settings, out_dir)


def always_die(settings: dict, out_dir: str) -> dict:
    """Every attempt kills its worker process, once the same attempt of every other
    run of the sweep has started (so no run is lost half-way into its start: each
    worker dies only when all have counted their attempt in ``attempts.txt``)."""
    attempts = Path(out_dir) / "attempts.txt"
    attempts.write_text(attempts.read_text() + "x" if attempts.exists() else "x")
    mine = len(attempts.read_text())
    runs = [d for d in Path(out_dir).parent.iterdir() if (d / "run.json").is_file()]
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and any(_count(d / "attempts.txt") < mine for d in runs):
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


def _count(path: Path) -> int:
    return len(path.read_text()) if path.is_file() else 0


def train_or_wait_for_ctrl_c(settings: dict, out_dir: str) -> dict:
    """``run_training``, except in a run folder holding a file ``hold``: that run waits
    until it is interrupted (Ctrl-C, or a cancelled Ray task), so a sweep cannot finish
    every run before its Ctrl-C lands, however slowly the sweep's own process runs."""
    if (Path(out_dir) / "hold").exists():
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            time.sleep(0.05)
        raise RuntimeError(f"{out_dir}: held run was never interrupted")
    from barenet.train import run_training

    return run_training(settings, out_dir)
