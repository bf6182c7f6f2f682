"""Every training setting declared once: each field's declaration, the flags, the
files and the documentation table derived from it, and one error wording."""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest

from barenet import cli
from barenet.cli import _flags
from barenet.train import TrainConfig
from barenet.train import config as config_module
from barenet.train.config import check_setting, flag_of, read_run_file, settings_reference
from barenet.train.kinds import Real
from barenet.train.settings import SECTIONS, Setting, setting

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BASE = {"model": "mlp", "data": "digits"}
PYTHON_ONLY = {"callbacks"}  # Python objects: no text form on a command line or in a file


def _train_parser() -> argparse.ArgumentParser:
    return cli.build_parser().commands["train"]


def test_every_field_is_declared_with_a_section_and_one_line_of_help():
    for f in dataclasses.fields(TrainConfig):
        s = f.metadata.get("setting")
        assert isinstance(s, Setting), f.name
        assert s.section in SECTIONS, f.name
        text = s.help_text()
        assert text and "\n" not in text and "{" not in text.replace('{"', ""), f.name
        assert s.check.describe(), f.name
    assert {s.section for s in TrainConfig.settings().values()} == set(SECTIONS)


def test_every_setting_has_a_flag_with_help_and_every_flag_is_a_setting():
    p = _train_parser()
    flags = _flags.flag_names(p)
    helps = {o: a.help for a in p._actions for o in a.option_strings or [a.metavar]}
    keys = set(TrainConfig.keys())
    assert set(flags.values()) == keys - PYTHON_ONLY
    assert all(flags[o] in keys for o in flags)
    for name in keys - PYTHON_ONLY:
        flag = flag_of(name)
        assert flag == ("MODEL" if name == "model" else "--" + name.replace("_", "-"))
        assert flags[flag] == name and helps[flag] and helps[flag] != argparse.SUPPRESS
        if TrainConfig.settings()[name].check.kind == "bool":
            assert flags["--no-" + name.replace("_", "-")] == name
    assert flag_of("callbacks") is None
    # the setting flags are grouped by section in --help
    groups = {g.title: [a.dest for a in g._group_actions] for g in p._action_groups}
    for section in SECTIONS:
        dests = groups[f"{section} settings"]
        assert dests and all(TrainConfig.settings()[d].section == section for d in dests)


def test_the_old_flag_names_still_work_and_say_they_are_deprecated(capsys):
    args = cli.build_parser().parse_args(
        ["train", "mlp", "--data", "digits", "--out", "o", "--test-fraction", "0.3"]
    )
    assert args.test_size == 0.3
    assert "--test-fraction is deprecated; it is --test-size now" in capsys.readouterr().err
    args = cli.build_parser().parse_args(["evaluate", "m.safetensors", "--limit", "7"])
    assert args.limit_test == 7
    assert "--limit is deprecated; it is --limit-test now" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag, text, key, value",
    [
        ("--lr", "nan", "lr", math.nan),
        ("--lr", "x", "lr", "x"),
        ("--momentum", "1", "momentum", 1.0),
        ("--epochs", "0", "epochs", 0),
        ("--epochs", "1.5", "epochs", "1.5"),
        ("--epochs", "2000000", "epochs", 2_000_000),
        ("--seed", "-1", "seed", -1),
        ("--optimizer", "lbfgs", "optimizer", "lbfgs"),
        ("--schedule", "step:0", "schedule", "step:0"),
        ("--augment", "shift,,noise", "augment", "shift,,noise"),
        ("--size", "8", "size", [8]),
        ("--device", "gpu", "device", "gpu"),
        ("--n-train", "0", "n_train", 0),
    ],
)
def test_a_flag_and_a_file_get_the_same_sentence(flag, text, key, value, capsys, tmp_path):
    with pytest.raises((ValueError, TypeError)) as file_error:
        TrainConfig.from_dict({**BASE, key: value})
    argv = ["train", "mlp", "--data", "digits", "--out", str(tmp_path / "o"), flag, text]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(argv)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    prefix = f"barenet train: error: argument {flag}: "
    assert line.startswith(prefix)
    sentence = line[len(prefix) :]
    message = str(file_error.value)  # the same sentence, after the key's name
    assert message.endswith(sentence) and message[: -len(sentence)] in (f"{key} ", f"{key}: ", "")


def test_a_flag_value_is_the_canonical_one():
    args = cli.build_parser().parse_args(
        ["train", "mlp", "--data", "digits", "--out", "o", "--size", "6x7", "--tags", "a, b"]
        + ["--name", "first", "--n-train", "9", "--n-test", "3", "--no-plots", "--device", "CPU"]
    )
    given = _flags.settings_from_args(args)
    assert given == {
        "model": "mlp",
        "data": "digits",
        "size": (6, 7),
        "tags": ["a", "b"],
        "name": "first",
        "n_train": 9,
        "n_test": 3,
        "plots": False,
        "device": "cpu",
    }
    assert TrainConfig.from_dict(given).to_dict()["size"] == [6, 7]


def test_the_reference_table_has_one_row_per_setting():
    text = settings_reference()
    rows = text.strip().splitlines()
    assert rows[0].startswith("| section | setting | flag |") and len(rows) == 2 + len(
        TrainConfig.keys()
    )
    assert {r.count(" | ") for r in rows[2:]} == {6}  # seven cells, '|' inside escaped
    assert "| `batch_size` | `--batch-size` | int in [1, 2147483647] | `64` | samples |" in text
    assert "`--test-size` (formerly `--test-fraction`)" in text
    assert "(Python only)" in text and "| `lr` |" in text
    only = settings_reference(["device"]).strip().splitlines()
    assert len(only) == 3 and "`device`" in only[2]
    with pytest.raises(ValueError, match="unknown sections"):
        settings_reference(["optimizer"])


def test_the_toml_of_a_config_reads_back_as_the_same_config():
    cfg = TrainConfig.from_dict(
        {
            **BASE,
            "model_args": {"hidden": [8, 4], "odd key": 'x\x7f"\\'},
            "lr": 1e-5,
            "size": [6, 7],
            "tags": ["a", 'b"c'],
            "name": "ü",
            "schedule": "cosine",
            "seed": 2**63 - 1,
            "resume": True,
        }
    )
    back = tomllib.loads(cfg.to_toml())
    assert "resume" not in back  # a repeat starts afresh
    assert TrainConfig.from_dict(back) == cfg.replace(resume=None)


def test_a_run_file_names_itself_and_the_key(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('model = "mlp"\nepoch = 3\n')
    with pytest.raises(ValueError, match=r"run.toml: unknown config keys: 'epoch' \(did you "):
        read_run_file(f)
    f.write_text("lr = -1\n")
    with pytest.raises(ValueError, match=r"run.toml: lr must be a finite number > 0, got -1"):
        read_run_file(f)
    f.write_text("[base]\nlr = 1\n")
    with pytest.raises(ValueError, match="is a sweep configuration"):
        read_run_file(f)
    f.write_text("seed = 1" + "0" * 5000 + "\n")
    with pytest.raises(ValueError, match="run.toml: not valid TOML"):
        read_run_file(f)
    f.write_text("seed = [\n")
    with pytest.raises(ValueError, match="run.toml: not valid TOML"):
        read_run_file(f)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_run_file(tmp_path / "none.toml")
    f.write_text('data = "digits"\nepochs = 2\n')
    assert TrainConfig.from_file(f, model="mlp").epochs == 2


def test_a_huge_integer_is_named_by_its_length_not_printed():
    with pytest.raises(ValueError, match=r"limit_train must be an int <= 2147483647, got an int"):
        check_setting("limit_train", 10**5000)


def test_adding_a_setting_is_one_declaration(monkeypatch, capsys):
    """A new field appears as a flag, in the checks, in a file and in the table."""

    @dataclasses.dataclass
    class WithClipping(TrainConfig):
        clip_norm: float | None = setting(
            "optimisation",
            "clip the gradients' global norm to this",
            Real(0.0, lo_open=True, optional=True),
            default=None,
            default_text="off",
            metavar="NORM",
        )

    monkeypatch.setattr(config_module, "TrainConfig", WithClipping)
    monkeypatch.setattr(_flags, "TrainConfig", WithClipping)
    p = cli.build_parser()
    args = p.parse_args(["train", "mlp", "--data", "digits", "--out", "o", "--clip-norm", "5"])
    assert _flags.settings_from_args(args)["clip_norm"] == 5.0
    with pytest.raises(SystemExit):
        p.parse_args(["train", "mlp", "--data", "digits", "--out", "o", "--clip-norm", "0"])
    assert "argument --clip-norm: must be a finite number > 0, got 0.0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="clip_norm must be a finite number > 0"):
        WithClipping.from_dict({**BASE, "clip_norm": -1})
    assert "| optimisation | `clip_norm` | `--clip-norm` | > 0 | off |" in settings_reference()
    assert "clip_norm = 2.5" in WithClipping.from_dict({**BASE, "clip_norm": 2.5}).to_toml()
