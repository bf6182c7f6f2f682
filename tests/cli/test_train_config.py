"""``barenet train --config run.toml``: a run described by a file, flags on top, and the
``config.toml`` every run writes, which runs it again exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

import barenet as bn
from barenet import cli
from barenet.cli import main

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

RUN = """\
model = "mlp"
data = "digits"
model_args = {hidden = [8]}
epochs = 1
batch_size = 32
limit_train = 200
limit_test = 60
plots = false
quiet = true
"""


def _err(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_config_toml_runs_the_run_again_exactly(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(RUN)
    assert main(["train", "--config", "run.toml", "--seed", "3", "--tags", "a,b"]) == 0
    first = tmp_path / "runs" / "run"  # named after the file
    written = tomllib.loads((first / "config.toml").read_text())
    _, meta = bn.io.load_file(first / "model.safetensors")
    assert written == {k: v for k, v in meta["config"].items() if k != "resume"}
    assert written["seed"] == 3 and written["tags"] == ["a", "b"] and written["epochs"] == 1

    assert main(["train", "--config", str(first / "config.toml")]) == 0
    again = tmp_path / "runs" / "run-2"  # the folder of the config, numbered: never over it
    assert (again / "config.toml").read_text() == (first / "config.toml").read_text()
    a, b = (bn.load(d / "model.safetensors").state_dict() for d in (first, again))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (first, again))
    assert ma["test_accuracy"] == mb["test_accuracy"] and ma["n_test"] == 60


def test_flags_override_the_file(tmp_path, capsys):
    (tmp_path / "run.toml").write_text(RUN.replace('data = "digits"', 'data = "sine"'))
    out = tmp_path / "o"
    argv = ["train", "--config", str(tmp_path / "run.toml"), "--out", str(out)]
    argv += ["--epochs", "2", "--n-train", "64", "--n-test", "16", "--name", "short"]
    argv += ["--no-quiet", "--model-args", '{"hidden": [4]}']
    assert main(argv) == 0
    cfg = tomllib.loads((out / "config.toml").read_text())
    assert (cfg["epochs"], cfg["n_train"], cfg["n_test"], cfg["name"]) == (2, 64, 16, "short")
    assert cfg["model_args"] == {"hidden": [4]} and cfg["quiet"] is False
    m = json.loads((out / "metrics.json").read_text())
    assert m["epochs"] == 2 and m["n_test"] == 16 and m["n_train"] + m["n_val"] == 64
    assert f"files in {out}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text, code, match",
    [
        ('epoch = 2\nmodel = "mlp"\n', 1, r"run.toml: unknown config keys: 'epoch' \(did you mean"),
        (
            'model = "mlp"\ndata = "digits"\nlr = -1\n',
            1,
            "run.toml: lr must be a finite number > 0",
        ),
        ('model = "nope"\ndata = "digits"\n', 1, "run.toml: unknown model 'nope'"),
        ('[base]\nmodel = "mlp"\n', 1, "is a sweep configuration"),
        ("epochs = [\n", 1, "run.toml: not valid TOML"),
        ('data = "digits"\n', 2, r"required \(or in the --config file\): MODEL$"),
    ],
)
def test_a_bad_run_file_is_one_line_before_anything_runs(text, code, match, tmp_path, capsys):
    import re

    (tmp_path / "run.toml").write_text(text)
    argv = ["train", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "o")]
    if code == 2:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == cli.EXIT_USAGE
    else:
        assert main(argv) == code
    assert re.search(match, _err(capsys))
    assert not (tmp_path / "o").exists()


def test_a_missing_run_file_is_a_file_error(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "none.toml")]) == cli.EXIT_FILES
    assert "run file" in _err(capsys)


def test_an_unknown_flag_gets_the_closest_known_one(capsys):
    with pytest.raises(SystemExit):
        main(["train", "mlp", "--data", "digits", "--out", "o", "--epocs", "3"])
    err = _err(capsys)
    assert err.startswith("barenet train: error: unrecognized arguments: --epocs 3")
    assert "(did you mean --epochs?)" in err
