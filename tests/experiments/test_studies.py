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
    assert "**Outcome:** batch_size=" in (tmp_path / "report.md").read_text()


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
    bad = tmp_path / "bad.toml"
    bad.write_text('[base]\nmodel = "mlp"\ndata = "digits"\nnot_a_setting = 1\n')
    assert main(["sweep", str(bad), "--out", str(tmp_path / "b"), *args]) == 1
    assert "unknown config keys" in (tmp_path / "b/runs/bad__seed-0/error.txt").read_text()


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
