"""The typed training config: defaults, conversion from dicts, and every check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from barenet.train import TrainConfig, make_schedule, run_training
from barenet.train.run import CONFIG_DEFAULTS

BASE = {"model": "mlp", "data": "digits"}


def test_defaults_and_round_trip():
    cfg = TrainConfig.from_dict(BASE)
    assert (cfg.epochs, cfg.batch_size, cfg.optimizer, cfg.lr) == (5, 64, "adam", None)
    assert cfg.effective_lr == 1e-3 and cfg.model_args == {} and cfg.callbacks == []
    assert set(CONFIG_DEFAULTS) == set(TrainConfig.keys()) and CONFIG_DEFAULTS["model"] is None
    d = cfg.to_dict()
    assert "callbacks" not in d and "lr" not in d and d["val_fraction"] == 0.1
    assert TrainConfig.from_dict(d) == cfg
    # None for a setting with a default means the default; numpy numbers are numbers
    cfg2 = TrainConfig.from_dict(
        {**BASE, "seed": None, "lr": np.float32(0.5), "epochs": np.int64(2)}
    )
    assert cfg2.seed == 0 and cfg2.lr == 0.5 and cfg2.epochs == 2 and type(cfg2.epochs) is int
    assert TrainConfig.from_dict({**BASE, "size": [6, 7]}).size == (6, 7)
    assert TrainConfig.from_dict({**BASE, "model": "CNN_Small"}).model == "cnn-small"


NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("lr", NAN, "lr must be a finite number > 0, got nan"),
        ("lr", INF, "lr must be a finite number > 0"),
        ("lr", 0, "lr must be a finite number > 0"),
        ("lr", -1e-3, "lr must be a finite number > 0"),
        ("lr", "1e-3", "lr must be a finite number"),
        ("lr", True, "lr must be a finite number"),
        ("momentum", -5, r"momentum must be a finite number in \[0, 1\), got -5"),
        ("momentum", 1.0, "momentum must be a finite number in"),
        ("weight_decay", -0.1, "weight_decay must be a finite number >= 0"),
        ("weight_decay", NAN, "weight_decay must be a finite number >= 0"),
        ("patience", -1, r"patience must be an int >= 1 \(leave it out"),
        ("patience", 0, "patience must be an int >= 1"),
        ("patience", 2.5, "patience must be an int >= 1"),
        ("epochs", 0, "epochs must be an int >= 1, got 0"),
        ("epochs", 2.0, "epochs must be an int >= 1"),
        ("batch_size", 0, "batch_size must be an int >= 1"),
        ("batch_size", "64", "batch_size must be an int >= 1"),
        ("seed", -1, "seed must be an int >= 0"),
        ("val_fraction", 1.0, r"val_fraction must be a finite number in \[0, 1\)"),
        ("val_fraction", NAN, "val_fraction must be a finite number"),
        ("test_size", -0.2, "test_size must be a finite number in"),
        ("limit_train", 0, "limit_train must be an int >= 1"),
        ("limit_test", 1.5, "limit_test must be an int >= 1"),
        ("n_train", -3, "n_train must be an int >= 1"),
        ("size", [8], "size must be two ints >= 1"),
        ("size", [8, 0], "size must be two ints >= 1"),
        ("model_args", {"widths": [64, 1.5, 10]}, r"model_args.widths must be an int >= 1"),
        ("model_args", {"hidden": [256, -1]}, r"model_args.hidden must be an int >= 1"),
        ("model_args", {"hidden": True}, r"model_args.hidden must be an int >= 1"),
        ("model_args", {"convs": 0}, r"model_args.convs must be an int >= 1"),
        ("model_args", {"dropout": 1.0}, r"model_args.dropout must be a finite number in"),
        ("model_args", {"slope": NAN}, r"model_args.slope must be finite"),
        ("model_args", [256], "model_args must be a table"),
        ("schedule", "cosine:5", r"schedule 'cosine:5': the final learning rate must be >= 0 "),
        ("schedule", "cosine:-1e-5", "the final learning rate must be >= 0"),
        ("schedule", "step:0", "N must be a whole number of epochs >= 1"),
        ("schedule", "step:2.5", "N must be a whole number of epochs >= 1"),
        ("schedule", "step:2:0", r"gamma must be in \(0, 1\]"),
        ("schedule", "step:2:nan", "arguments must be finite"),
        ("schedule", "step:1:0.5:3", "too many fields; the form is step"),
        ("schedule", "plateau:1.5", r"factor must be in \(0, 1\)"),
        ("schedule", "plateau:0.5:0", "patience must be a whole number"),
        ("schedule", "warmup", "unknown schedule"),
        ("schedule", 5, "schedule must be a string"),
        ("augment", ",,,", r"augment ',,,': an empty item between commas"),
        ("augment", "shift,,noise", "an empty item"),
        ("augment", "noise:nan", r"SaltPepper: p must be in \[0, 1\]"),
        ("augment", "blur", "unknown augmentation"),
        ("optimizer", "lbfgs", "unknown optimizer 'lbfgs'"),
        ("init", "orthogonal", "unknown init 'orthogonal'"),
        ("model", "resnet50", "unknown model 'resnet50'"),
        ("data", "cifar", "unknown data 'cifar'"),
        ("download", "yes", "download must be true or false"),
        ("plots", 1, "plots must be true or false"),
        ("callbacks", [print], "callbacks must be Callback objects"),
        ("tags", [1], "tags must be a string or a list of strings"),
    ],
)
def test_every_setting_is_checked_with_its_name(key, value, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TrainConfig.from_dict({**BASE, key: value})


def test_unknown_keys_get_the_closest_name():
    with pytest.raises(ValueError, match=r"'batch-size' \(did you mean 'batch_size'\?\)"):
        TrainConfig.from_dict({**BASE, "batch-size": 32})
    with pytest.raises(ValueError, match="needs 'model' and 'data'"):
        TrainConfig.from_dict({"model": "mlp"})
    with pytest.raises(TypeError, match="must be a dict"):
        TrainConfig.from_dict([("model", "mlp")])


def test_good_schedules_parse():
    assert make_schedule("none", 10) is None and make_schedule(None, 10) is None
    assert make_schedule("step:3:0.5", 10).step_size == 3
    assert make_schedule("cosine:1e-5", 10, lr=1e-3).eta_min == 1e-5
    assert make_schedule("plateau:0.5:2", 10).factor == 0.5
    # the default learning rate of the optimizer bounds cosine's final rate
    assert TrainConfig.from_dict({**BASE, "optimizer": "sgd", "schedule": "cosine:1e-3"})
    with pytest.raises(ValueError, match="below the learning rate 0.001"):
        TrainConfig.from_dict({**BASE, "schedule": "cosine:1e-3"})


def test_bad_settings_are_refused_before_anything_runs(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got nan"):
        run_training({**BASE, "lr": NAN}, out)
    assert not out.exists()
