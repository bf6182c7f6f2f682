from __future__ import annotations

import csv

import numpy as np
import pytest

from barenet.experiments.results import fmt_mean_std, load_sweep, summarize, write_tables
from barenet.experiments.sweep import run_sweep

from .fakes import fake_run


@pytest.fixture
def sweep_dir(tmp_path):
    cfg = {
        "name": "lrs",
        "title": "Learning rates",
        "seeds": [0, 1, 2],
        "base": {"epochs": 3},
        "grid": {"lr": [0.01, 0.02]},
        "runs": [{"label": "ok"}, {"label": "broken", "fail": True}],
    }
    run_sweep(cfg, tmp_path, workers=1, run_fn=fake_run, progress=None)
    return tmp_path


def test_mean_and_std_over_seeds(sweep_dir):
    sweep = load_sweep(sweep_dir)
    rows = {r["point"]: r for r in summarize(sweep)}
    row = rows["ok, lr=0.02"]
    # fake: final val_acc = 0.5 + 10 lr + 0.01 seed - 0.1 / epochs
    expected = [0.5 + 0.2 + 0.01 * s - 0.1 / 3 for s in (0, 1, 2)]
    assert row["n"] == 3 and row["failed"] == 0
    assert row["val_acc_mean"] == pytest.approx(np.mean(expected))
    assert row["val_acc_std"] == pytest.approx(np.std(expected, ddof=1))
    assert row["early_train_loss_mean"] == pytest.approx(np.mean([1, 1 / 2, 1 / 3]))
    assert row["epochs_mean"] == 3
    assert rows["broken, lr=0.01"]["n"] == 0 and rows["broken, lr=0.01"]["failed"] == 3


def test_tables_written(sweep_dir):
    csv_path, md_path, runs_path = write_tables(load_sweep(sweep_dir))
    md = md_path.read_text()
    assert "| ok, lr=0.02 | 3 |" in md
    mean = 100 * np.mean([0.5 + 0.2 + 0.01 * s - 0.1 / 3 for s in (0, 1, 2)])
    assert f"{mean:.1f} ± 1.0" in md
    assert "(3 failed)" in md
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 4 and rows[0]["lr"] == "0.01"
    runs = list(csv.DictReader(runs_path.open()))
    broken = [r for r in runs if r["status"] == "failed"]
    assert len(broken) == 6 and "planned failure" in broken[0]["error"]


def test_fmt_mean_std():
    assert fmt_mean_std(0.9612, 0.004, 3, pct=True) == "96.1 ± 0.4"
    assert fmt_mean_std(0.9612, 0.0, 1, pct=True) == "96.1"
    assert fmt_mean_std(None, 0.0, 0) == "-"
    assert fmt_mean_std(0.0041234, 0.0003, 2) == "0.00412 ± 0.0003"


def test_diverged_runs_are_marked(tmp_path):
    cfg = {"seeds": [0, 1], "runs": [{"label": "ok"}, {"label": "big lr", "diverge": True}]}
    run_sweep(cfg, tmp_path, workers=1, run_fn=fake_run, progress=None)
    md = write_tables(load_sweep(tmp_path))[1].read_text()
    assert "| big lr | 2 (2 diverged) |" in md and "| ok | 2 |" in md
