"""The training-side commands end to end on tiny data, in process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import barenet as bn
from barenet.cli import main


def _kaggle_csvs(folder, n_train=60, n_test=5):
    rng = np.random.default_rng(0)
    y = np.arange(n_train) % 10
    px = rng.integers(0, 40, (n_train, 784))
    px[np.arange(n_train), y * 70] = 255  # one bright pixel per class: learnable
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    rows = [",".join(map(str, [y[i], *px[i]])) for i in range(n_train)]
    (folder / "train.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    tx = rng.integers(0, 255, (n_test, 784))
    test_rows = [",".join(map(str, r)) for r in tx]
    (folder / "test.csv").write_text(header[6:] + "\n" + "\n".join(test_rows) + "\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small MLP trained on a tiny Kaggle-format CSV through ``barenet train``."""
    root = tmp_path_factory.mktemp("cli")
    _kaggle_csvs(root)
    out = root / "run"
    rc = main(
        [
            "train",
            "mlp",
            "--data",
            "kaggle",
            "--data-dir",
            str(root),
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--model-args",
            '{"hidden": [16]}',
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    return root, out


def test_train_writes_sane_files(trained):
    _, out = trained
    for f in [
        "model.safetensors",
        "history.csv",
        "history.json",
        "metrics.json",
        "learning_curves.png",
    ]:
        assert (out / f).stat().st_size > 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["epochs"] == 2 and 0 <= m["test_accuracy"] <= 1 and m["data"] == "kaggle"
    assert (out / "history.csv").read_text().count("\n") == 3


def test_evaluate_json_is_one_object_on_stdout(trained, capsys, tmp_path):
    root, out = trained
    plot = tmp_path / "cm.png"
    rc = main(["evaluate", str(out / "model.safetensors"), "--json", "--plot", str(plot)])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    m = json.loads((out / "metrics.json").read_text())
    assert d["accuracy"] == pytest.approx(m["test_accuracy"])
    assert d["loss"] == pytest.approx(m["test_loss"], rel=1e-5)
    assert set(d["per_class"]) == {str(i) for i in range(10)}
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_evaluate_prints_a_per_class_table(trained, capsys):
    _, out = trained
    assert (
        main(
            [
                "evaluate",
                str(out / "model.safetensors"),
                "--data",
                "kaggle",
                "--data-dir",
                str(trained[0]),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "accuracy" in text and len(re.findall(r"^\d\s+\d\.\d{4}", text, re.M)) == 10


def test_predict_writes_a_kaggle_submission(trained, capsys, tmp_path):
    root, out = trained
    sub = tmp_path / "submission.csv"
    assert (
        main(["predict", str(out / "model.safetensors"), str(root / "test.csv"), "--out", str(sub)])
        == 0
    )
    lines = sub.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 6
    assert [int(l.split(",")[0]) for l in lines[1:]] == [1, 2, 3, 4, 5]
    assert all(0 <= int(l.split(",")[1]) <= 9 for l in lines[1:])


def test_predict_on_image_files(trained, capsys, tmp_path):
    from PIL import Image

    _, out = trained
    paths = []
    for i, size in enumerate([(28, 28), (40, 30)]):  # the second one is resized
        p = tmp_path / f"img{i}.png"
        Image.fromarray(
            (np.arange(size[0] * size[1]) % 256).astype(np.uint8).reshape(size[1], size[0])
        ).save(p)
        paths.append(str(p))
    assert main(["predict", str(out / "model.safetensors"), *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(l.endswith("%") for l in lines)


def test_summary_totals_match_num_parameters(trained, capsys):
    _, out = trained
    assert main(["summary", "cnn-small", "--input-shape", "1,28,28", "--classes", "10"]) == 0
    text = capsys.readouterr().out
    total = int(re.search(r"Total parameters: ([\d,]+)", text).group(1).replace(",", ""))
    assert total == bn.models.build_model("cnn-small", (1, 28, 28), 10).num_parameters()
    assert main(["summary", str(out / "model.safetensors")]) == 0
    text = capsys.readouterr().out
    total = int(re.search(r"Total parameters: ([\d,]+)", text).group(1).replace(",", ""))
    assert total == bn.load(out / "model.safetensors").num_parameters()


@pytest.mark.parametrize(
    "argv, match, code",
    [
        (["train", "nope", "--data", "digits", "--out", "x"], "unknown model 'nope'", 1),
        (["train", "mlp", "--data", "kaggle", "--out", "x"], "data_dir is required", 1),
        (["evaluate", "missing.safetensors"], "no such model file", 4),
        (["summary", "cnn-small", "--input-shape", "1,2,2"], "too small", 1),
    ],
)
def test_user_errors_give_one_clear_line(argv, match, code, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"barenet {argv[0]}: error:")
    assert re.search(match, err[0])


def test_demo_quick(tmp_path, capsys):
    assert main(["demo", "--quick", "--quiet", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"test accuracy \d+\.\d\d %", text) and "test MSE" in text
    assert (tmp_path / "digits" / "confusion_matrix.png").is_file()
    assert (tmp_path / "sine" / "fit.png").is_file()


def test_an_ascii_locale_gets_escapes_not_an_error():
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    r = subprocess.run(
        [sys.executable, "-m", "barenet", "summary", "mlp", "--input-shape", "4"],
        capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert b"\\u2192" in r.stdout  # "→", escaped for a terminal that cannot show it


def test_python_dash_m_entry_point():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "barenet",
            "summary",
            "mlp",
            "--input-shape",
            "4",
            "--classes",
            "3",
            "--model-args",
            '{"hidden": [5]}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "Total parameters: 43 " in r.stdout


def test_train_refuses_bad_settings_and_a_missing_checkpoint_before_running(tmp_path, capsys):
    from barenet import cli

    base = ["train", "mlp", "--data", "digits", "--quiet", "--out"]
    # a setting only the config knows the range of (flags are checked by argparse)
    args = [*base, str(tmp_path / "a"), "--model-args", '{"dropout": 1.5}']
    assert main(args) == cli.EXIT_INPUT
    assert "model_args.dropout must be a finite number in [0, 1)" in capsys.readouterr().err
    assert main([*base, str(tmp_path / "c"), "--resume"]) == cli.EXIT_FILES
    assert "resume: no checkpoint" in capsys.readouterr().err
    assert not any((tmp_path / d).exists() for d in "ac")


def test_train_on_all_of_a_kaggle_csv(tmp_path, capsys):
    _kaggle_csvs(tmp_path)
    args = ["train", "mlp", "--data", "kaggle", "--data-dir", str(tmp_path), "--epochs", "1"]
    args += ["--test-fraction", "0", "--val-fraction", "0", "--out", str(tmp_path / "final")]
    assert main(args) == 0
    assert "no test split" in capsys.readouterr().out
    m = json.loads((tmp_path / "final/metrics.json").read_text())
    assert m["n_train"] == 60 and m["n_val"] == 0 and m["n_test"] == 0
