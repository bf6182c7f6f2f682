from __future__ import annotations

import json

import numpy as np
import pytest

from barenet.cli import main
from barenet.experiments import STUDIES, apply_quick, expand, load_study
from barenet.models import cnn_deep

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def test_the_studies_are_the_toml_files_and_each_run_is_a_valid_config():
    from barenet.experiments.studies import study_path
    from barenet.train import TrainConfig

    folder = study_path(STUDIES[0]).parent
    assert STUDIES == sorted(p.stem for p in folder.glob("*.toml")) and "sine" in STUDIES
    for name in STUDIES:
        cfg = load_study(name)
        for specs in (expand(cfg), expand(apply_quick(cfg))):
            assert len({s.point for s in specs}) >= 2, name
            for s in specs:
                TrainConfig.from_dict(s.settings)  # raises on a bad setting


def test_study_quick_end_to_end(tmp_path, capsys):
    args = ["study", "batch-size", "--quick", "--out", str(tmp_path), "--workers", "1"]
    assert main(args + ["--set", "epochs=1", "--set", "limit_train=200"]) == 0
    out = tmp_path / "batch-size"
    runs = json.loads((out / "results.json").read_text())
    assert [r["status"] for r in runs] == ["done"] * 4
    settings = json.loads((out / "sweep.json").read_text())["runs"][0]["settings"]
    assert settings["data"] == "digits" and settings["epochs"] == 1
    md = (out / "results.md").read_text()
    assert "| batch_size=64 | 2 |" in md and "| batch_size=256 | 2 |" in md
    for fig in ("curves", "final", "confusion", "misclassified"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 1000
    # the same command again skips every finished run
    assert main(args + ["--set", "epochs=1", "--set", "limit_train=200"]) == 0
    assert "4 runs, 4 already done" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "**Outcome:** batch_size=" in report
    # the quick run is an MLP on the 8x8 digits, and the report says so
    assert "**Ran:** `mlp` Linear 64-256-128-10 (" in report and "784" not in report
    assert "on `digits` (" in report and " train / " in report


def test_sweep_command_on_a_toml_file(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        'seeds = [0]\n[base]\nmodel = "cnn-deep"\ndata = "digits"\nepochs = 1\n'
        "limit_train = 200\nplots = false\n[grid]\n"
        '"model_args.convs" = [2, 3]\n'
    )
    args = ["--workers", "1", "--no-figures"]
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "s"), *args]) == 0
    assert (tmp_path / "s/runs/convs-3__seed-0/model.safetensors").is_file()
    assert "| convs=2 | 1 |" in (tmp_path / "s/results.md").read_text()


def test_a_sweep_with_a_bad_setting_fails_before_its_first_run(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'seeds = [0, 1]\n[base]\nmodel = "mlp"\ndata = "digits"\nbatch-size = 32\n'
        "[grid]\nlr = [0.1, 0.01]\n"
    )
    args = ["sweep", str(bad), "--out", str(tmp_path / "b"), "--workers", "1"]
    assert main(args) == 1
    err = capsys.readouterr()
    assert "4 of 4 runs have bad settings; nothing was run" in err.err
    assert "'batch-size' (did you mean 'batch_size'?)" in err.err and "table" not in err.out
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("convs", [4, 5, 6])
def test_cnn_deep_with_fewer_convs(convs):
    model = cnn_deep((1, 28, 28), 10, convs=convs)
    from barenet.layers import Conv2d

    assert sum(isinstance(m, Conv2d) for m in model.modules()) == convs
    y = model(np.zeros((2, 1, 28, 28), np.float32))
    assert y.shape == (2, 10)
    with pytest.raises(ValueError, match="cnn-deep"):
        cnn_deep((1, 28, 28), 10, convs=7)


def test_regression_study_draws_the_fitted_curves(tmp_path):
    from barenet.experiments import run_study
    from barenet.experiments.metrics import outcome_sentence
    from barenet.experiments.results import load_sweep

    over = {"n_train": 100, "n_test": 50}
    out = run_study("sine", tmp_path, quick=True, workers=1, overrides=over, progress=None)
    assert (out / "figures" / "fit.png").stat().st_size > 1000
    assert not (out / "figures" / "confusion.png").exists()
    sentence = outcome_sentence(load_sweep(out))
    assert "test MSE" in sentence and "after" not in sentence  # epochs is a varied setting


def test_study_set_of_a_grid_axis_takes_effect_and_of_a_runs_key_is_refused(tmp_path, capsys):
    from barenet.experiments.sweep import plan_sweep

    _, specs = plan_sweep(load_study("batch-size"), quick=True, overrides={"batch_size": 32})
    assert {s.settings["batch_size"] for s in specs} == {32} and len(specs) == 2  # 2 seeds
    args = ["study", "gradient-flow", "--quick", "--out", str(tmp_path), "--set", "init=he_normal"]
    assert main(args) == 1
    assert "[[runs]] entries set 'init'" in capsys.readouterr().err
    assert not (tmp_path / "gradient-flow").exists()
