"""A sweep read once into one table: every run file read once, the summary computed
once, and the tables and report drawn from that table."""

from __future__ import annotations

import collections
import pathlib

from barenet.experiments import table
from barenet.experiments.metrics import outcome_sentence
from barenet.experiments.results import write_tables
from barenet.experiments.sweep import run_sweep

from .fakes import fake_run

RUN_FILES = ("metrics.json", "history.json", "sweep.json")


def _sweep(root):
    cfg = {"name": "t", "seeds": [0, 1], "base": {"epochs": 2}, "grid": {"lr": [0.01, 0.03]}}
    run_sweep(cfg, root / "t", workers=1, run_fn=fake_run, progress=None)
    return root / "t"


def test_the_table_holds_runs_settings_metrics_and_histories(tmp_path):
    sweep = table.load_sweep(_sweep(tmp_path))
    assert [r.point for r in sweep.runs] == ["lr=0.01", "lr=0.01", "lr=0.03", "lr=0.03"]
    run = sweep.runs[1]
    assert run.settings["lr"] == 0.01 and run.varied == {"lr": 0.01} and run.seed == 1
    assert run.values == table.run_values(run) and run.values["epochs"] == 2
    assert len(run.epochs) == 2 and len(run.steps) == 40
    rows = table.summarize(sweep)
    rows[0]["point"] = "changed"  # a copy: the table keeps its own rows
    assert sweep.summary[0]["point"] == "lr=0.01" and sweep.summary[0]["n"] == 2


def test_each_file_is_read_once_and_the_summary_made_once(tmp_path, monkeypatch):
    path = _sweep(tmp_path)
    reads = collections.Counter()
    read_text = pathlib.Path.read_text

    def counting(self, *args, **kwargs):
        if self.name in RUN_FILES:
            reads[self.name] += 1
        return read_text(self, *args, **kwargs)

    summaries = []
    make = table._summary
    monkeypatch.setattr(pathlib.Path, "read_text", counting)
    monkeypatch.setattr(table, "_summary", lambda s: summaries.append(s) or make(s))
    sweep = table.load_sweep(path)
    write_tables(sweep)
    outcome_sentence(sweep)
    table.summarize(sweep)
    assert reads == {"sweep.json": 1, "metrics.json": 4, "history.json": 4}
    assert summaries == [sweep]
