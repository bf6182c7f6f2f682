"""A study's [reported] numbers printed beside the measured ones; the --data override."""

from __future__ import annotations

import pytest

from barenet.cli import main
from barenet.experiments import studies
from barenet.experiments.grid import expand, load_config
from barenet.experiments.reported import check_reported, reported_lines
from barenet.experiments.results import load_sweep, write_tables
from barenet.experiments.sweep import run_sweep

from .fakes import fake_run

REPORTED = {
    "source": "a course report",
    "data": "mnist",
    "column": "test_acc",
    "note": "the higher rate trains faster.",
    "points": {"lr=0.01": 0.9930, "lr=0.02": 0.9786, "lr=0.5": 0.5},
    "by_epoch": {"lr=0.02": {"reported": "test accuracy", "here": "val_acc", "values": [0.1, 0.9]}},
}


def _sweep(root, reported=REPORTED):
    cfg = {"name": "lr", "title": "LR", "seeds": [0, 1, 2], "reported": reported}
    cfg["base"] = {"epochs": 3, "data": "fashion-mnist"}
    cfg["grid"] = {"lr": [0.01, 0.02]}
    run_sweep(cfg, root / "lr", workers=1, run_fn=fake_run, progress=None)
    return load_sweep(root / "lr")


def test_lines_put_the_report_beside_the_measured_numbers(tmp_path):
    lines = reported_lines(_sweep(tmp_path))
    assert lines[0] == (
        "The report (a course report) ran on mnist; these runs on fashion-mnist, "
        "so expect different numbers."
    )
    assert lines[1] == "The report: the higher rate trains faster."
    # fake test accuracy = 0.5 + 10 lr + 0.01 seed - 0.1 / 3, seeds 0, 1, 2
    assert lines[2] == "lr=0.01: the report: 99.30 %; here: 57.67 ± 1.00 % (test accuracy, 3 seeds)"
    assert lines[3].startswith("lr=0.02: the report: 97.86 %; here: 67.67 ± 1.00 %")
    assert lines[4] == "lr=0.5: the report: 50.00 %; here: not in this sweep"
    # fake val_acc by epoch = base - 0.1 / e, mean over seeds: base = 0.71
    assert lines[5] == (
        "lr=0.02, test accuracy by epoch: the report: 10.0, 90.0 %; here (validation "
        "accuracy, mean of 3 seeds): 61.0, 66.0, 67.7 %"
    )


def test_tables_and_report_carry_the_lines(tmp_path):
    pytest.importorskip("matplotlib")
    from barenet.experiments.report import build_report

    sweep = _sweep(tmp_path)
    write_tables(sweep)
    assert "- lr=0.01: the report: 99.30 %; here: 57.67" in (sweep.path / "results.md").read_text()
    md, page = build_report(tmp_path)
    assert "**The report and here:**" in md.read_text()
    assert "the report: 99.30 %; here: 57.67 ± 1.00 %" in page.read_text()


def test_no_reported_table_no_lines(tmp_path):
    assert reported_lines(_sweep(tmp_path, reported={})) == []


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"points": {"a": 0.5}}, "column must be one of"),
        ({"column": "test_acc", "points": {"a": "high"}}, "must be numbers"),
        ({"by_epoch": {"a": {"values": [0.1]}}}, "needs 'values'"),
        ({"sauce": "x"}, "unknown keys"),
    ],
)
def test_bad_reported_tables_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        check_reported(bad, "study x")


@pytest.mark.parametrize("name", studies.STUDIES)
def test_shipped_reported_tables_name_real_points(name):
    cfg = load_config(studies.study_path(name))
    rep = cfg.get("reported")
    if not rep:
        return
    check_reported(rep, name)
    points = {s.point for s in expand(cfg)}
    assert set(rep.get("points", {})) <= points
    assert set(rep.get("by_epoch", {})) <= points


def test_report_recipe_in_the_reproducing_studies():
    for name in ("learning-rate", "init", "depth"):
        base = load_config(studies.study_path(name))["base"]
        assert (base["optimizer"], base["batch_size"], base["epochs"]) == ("adagrad", 500, 8)
        assert base.get("init", "he_normal") == "he_normal" or name == "init"
    lr = load_config(studies.study_path("learning-rate"))
    assert lr["reported"]["points"]["lr=0.01"] == 0.9930


def test_study_data_override_reaches_every_run(monkeypatch, tmp_path, capsys):
    seen = {}

    def fake_study(name, out_root, *, overrides=None, **kw):
        seen[name] = overrides
        cfg = studies.load_study(name)
        cfg["base"] = {**cfg.get("base", {}), **(overrides or {})}
        out = tmp_path / name
        run_sweep(
            {**cfg, "seeds": [0], "grid": cfg.get("grid", {})},
            out,
            workers=1,
            run_fn=fake_run,
            progress=None,
        )
        return out

    monkeypatch.setattr(studies, "run_study", fake_study)
    argv = ["study", "learning-rate", "--data", "mnist", "--data-dir", "/m", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert seen["learning-rate"] == {"data": "mnist", "data_dir": "/m"}
    runs = load_sweep(tmp_path / "learning-rate").runs
    assert {r.settings["data"] for r in runs} == {"mnist"}
    out = capsys.readouterr().out
    assert "ran on mnist; these runs on mnist." in out
    assert "lr=0.01: the report: 99.30 %; here: " in out


def test_study_all_with_data_leaves_the_sine_study_on_its_curve(monkeypatch, tmp_path):
    seen = {}

    def record(name, out_root, *, overrides=None, **kw):
        seen[name] = overrides
        return tmp_path / name

    monkeypatch.setattr(studies, "run_study", record)
    monkeypatch.setattr("barenet.experiments.results.load_sweep", lambda out: None)
    monkeypatch.setattr("barenet.experiments.reported.reported_lines", lambda sweep: [])
    argv = ["study", "all", "--data", "mnist", "--data-dir", "/m", "--out", str(tmp_path)]
    assert main([*argv, "--set", "epochs=1"]) == 0
    assert set(seen) == set(studies.STUDIES)
    assert seen["sine"] == {"epochs": 1}
    assert seen["init"] == {"epochs": 1, "data": "mnist", "data_dir": "/m"}


@pytest.mark.parametrize(
    "argv, match",
    [
        (["study", "sine", "--data", "mnist"], "fits the sine curve"),
        (["study", "init", "--data-dir", "/m"], "--data-dir needs --data"),
    ],
)
def test_study_data_errors(argv, match, capsys):
    assert main(argv) == 1
    assert match in capsys.readouterr().err
