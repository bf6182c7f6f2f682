from __future__ import annotations

import pytest

from barenet.experiments.grid import apply_quick, expand, format_value, load_config

BASE = {"model": "mlp", "model_args": {"hidden": [256, 128]}, "lr": 0.1}


def test_grid_product_seeds_and_nested_keys():
    cfg = {
        "seeds": [0, 1],
        "base": BASE,
        "grid": {"model_args": {"activation": ["sigmoid", "leaky_relu"]}, "lr": [3e-5, 0.01]},
    }
    specs = expand(cfg)
    assert len(specs) == 2 * 2 * 2
    assert [s.name for s in specs[:2]] == [
        "activation-sigmoid__lr-3e-05__seed-0",
        "activation-sigmoid__lr-3e-05__seed-1",
    ]
    s = specs[-1]
    assert s.settings["model_args"] == {"hidden": [256, 128], "activation": "leaky_relu"}
    assert s.settings["lr"] == 0.01 and s.seed == 1 and s.settings["seed"] == 1
    assert s.point == "activation=leaky_relu, lr=0.01"
    assert BASE["model_args"] == {"hidden": [256, 128]}  # base untouched


def test_names_are_stable_and_filesystem_safe():
    cfg = {"base": BASE, "grid": {"model_args.hidden": [[256, 128], [256]], "augment": ["a/b c"]}}
    names = [s.name for s in expand(cfg)]
    assert names == [s.name for s in expand(cfg)]
    assert names[0] == "hidden-256x128__augment-a_b_c__seed-0"
    assert all(c.isalnum() or c in "._+-" for n in names for c in n)


def test_explicit_runs_with_labels_and_grid():
    cfg = {
        "seeds": [3],
        "base": {"model": "cnn-small"},
        "runs": [{"label": "plain"}, {"label": "bn", "model": "cnn-bn"}],
        "grid": {"lr": [0.1, 0.01]},
    }
    specs = expand(cfg)
    points = ["plain, lr=0.1", "plain, lr=0.01", "bn, lr=0.1", "bn, lr=0.01"]
    assert [s.point for s in specs] == points
    assert specs[2].settings["model"] == "cnn-bn" and specs[0].settings["model"] == "cnn-small"
    assert "label" not in specs[0].settings


def test_quick_overrides_base_grid_and_seeds():
    cfg = {
        "seeds": [0, 1, 2],
        "base": {"data": "fashion-mnist", "epochs": 10},
        "grid": {"lr": [0.1, 0.01, 0.001]},
        "quick": {"seeds": [0], "base": {"data": "digits"}, "grid": {"lr": [0.1]}},
    }
    q = apply_quick(cfg)
    specs = expand(q)
    assert len(specs) == 1
    assert specs[0].settings == {"data": "digits", "epochs": 10, "lr": 0.1, "seed": 0}


@pytest.mark.parametrize(
    "cfg, msg",
    [
        ({"grid": {"lr": 0.1}}, "non-empty list"),
        ({"seeds": [0, 0]}, "repeat"),
        ({"seeds": [-1]}, "non-negative"),
        ({"lr": 0.1}, "unknown top-level"),
    ],
)
def test_bad_configs_raise(cfg, msg):
    with pytest.raises(ValueError, match=msg):
        load_config(cfg)


def test_toml_file(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('seeds = [0]\n[base]\nmodel = "mlp"\n[grid]\n"model_args.dropout" = [0.0, 0.5]\n')
    cfg = load_config(p)
    assert cfg["name"] == "s"
    assert [s.settings["model_args"]["dropout"] for s in expand(cfg)] == [0.0, 0.5]
    (tmp_path / "bad.toml").write_text("[base\n")
    with pytest.raises(ValueError, match="bad.toml"):
        load_config(tmp_path / "bad.toml")


def test_format_value():
    assert format_value(3e-7) == "3e-07"
    assert format_value([512, 128]) == "512x128"
    assert format_value(True) == "true"


def test_an_integer_past_the_digit_limit_names_line_and_column(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('seeds = [0]\n[base]\nmodel = "mlp"\nepochs = ' + "9_" * 4400 + "9\n")
    with pytest.raises(ValueError, match=r"s.toml: line 4, column 10: an integer of 4401 digits"):
        load_config(p)
