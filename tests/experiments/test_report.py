from __future__ import annotations

import re

import pytest

from barenet.experiments.metrics import outcome_sentence
from barenet.experiments.report import build_report
from barenet.experiments.results import load_sweep
from barenet.experiments.sweep import run_sweep

from .fakes import fake_run

pytest.importorskip("matplotlib")


def _sweep(root, name, **extra):
    cfg = {"name": name, "title": name.title(), "seeds": [0, 1, 2]}
    cfg.update(extra)
    cfg["base"] = {"epochs": 3, **extra.get("base", {})}
    run_sweep(cfg, root / name, workers=1, run_fn=fake_run, progress=None)
    return load_sweep(root / name)


def test_sentence_states_the_measured_gap(tmp_path):
    sweep = _sweep(tmp_path, "lr", grid={"lr": [0.01, 0.02]})
    # fake final val_acc = 0.5 + 10 lr + 0.01 seed - 0.1 / 3; seeds 0, 1, 2
    assert outcome_sentence(sweep) == (
        "lr=0.02 reached 67.7 % ± 1.0 validation accuracy after 3 epochs (mean ± std over "
        "3 seeds), 10.0 points above lr=0.01 (57.7 % ± 1.0)."
    )


def test_sentence_for_lower_is_better_and_spread(tmp_path):
    sweep = _sweep(tmp_path, "loss", metric="early_train_loss", grid={"lr": [0.01, 0.02, 0.03]})
    s = outcome_sentence(sweep)
    # every point has the same early loss (1 + 1/2 + 1/3) / 3 = 0.611
    assert s.startswith("lr=0.01 reached 0.611 ± 0 mean training loss over epochs 1-3")
    assert "from best to worst" in s


def test_gradient_sentence(tmp_path):
    runs = [{"label": "a"}, {"label": "b"}]
    sweep = _sweep(tmp_path, "gf", metric="grad_ratio", runs=runs, base={"record_grad_norms": True})
    s = outcome_sentence(sweep)
    # fake norms in epoch 1: first layer 0.1, last layer 1.0
    assert "0.1x the last layer's with a (0.1 vs 1)" in s


def test_report_has_one_sentence_per_study_with_its_numbers(tmp_path):
    a = _sweep(tmp_path, "alpha", grid={"lr": [0.01, 0.03]})
    b = _sweep(tmp_path, "beta", grid={"lr": [0.02]}, runs=[{"label": "x"}, {"label": "y"}])
    md_path, html_path = build_report(tmp_path, tmp_path / "out")
    md = md_path.read_text()
    outcomes = re.findall(r"^\*\*Outcome:\*\* (.+)$", md, flags=re.M)
    assert outcomes == [outcome_sentence(a), outcome_sentence(b)]
    assert "77.7 % ± 1.0" in outcomes[0]  # lr 0.03: 0.5 + 0.3 + 0.01 - 0.0333
    assert "## Alpha (" not in md and "## Alpha" in md and "## Beta" in md
    assert "| lr=0.03 | 3 |" in md
    figs = re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)
    assert [f.split("/")[-1] for f in figs] == ["curves.png", "final.png"] * 2
    assert all((tmp_path / "out" / f).is_file() for f in figs)
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") == md.count("![")
    assert "<img alt" in page and "src='http" not in page
    assert "Outcome:</b> " + outcome_sentence(a).replace("'", "&#x27;") in page


def test_sweeps_are_found_under_a_folder_named_runs(tmp_path):
    from barenet.experiments.results import find_sweeps

    _sweep(tmp_path / "runs", "alpha", grid={"lr": [0.01]})
    assert find_sweeps(tmp_path / "runs") == [tmp_path / "runs" / "alpha"]


def test_report_without_sweeps_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sweep.json"):
        build_report(tmp_path)


def test_step_loss_figure_is_drawn_beside_the_final_metric_chart(tmp_path):
    # the batchnorm study's figures: a listed sweep, its own metric, plots = ["steps"]
    from barenet.experiments.figures import make_figures

    runs = [{"label": "plain", "lr": 0.01}, {"label": "bn", "lr": 0.02}]
    sweep = _sweep(tmp_path, "bn", runs=runs, metric="early_train_loss", plots=["steps"])
    names = sorted(p.name for p in make_figures(sweep))
    assert "step_loss.png" in names and "final.png" in names
