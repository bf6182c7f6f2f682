"""Fake run functions with the contract of ``barenet.train.run_training``."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np


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
    """Every attempt kills its worker process."""
    attempts = Path(out_dir) / "attempts.txt"
    attempts.write_text(attempts.read_text() + "x" if attempts.exists() else "x")
    os.kill(os.getpid(), signal.SIGKILL)
    return {}
