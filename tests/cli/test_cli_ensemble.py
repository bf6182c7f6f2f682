"""``barenet evaluate A B ...`` and ``barenet predict A B ... INPUT``: ensembles end to end
on tiny data, in process."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

import barenet as bn
from barenet.cli import main

from .test_cli import _kaggle_csvs


def _train(root, name, *extra):
    out = root / name
    argv = ["train", "mlp", "--epochs", "2", "--batch-size", "16", "--quiet", "--out", str(out)]
    assert main([*argv, *extra]) == 0
    return str(out / "model.safetensors")


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Two MLPs of different widths on the same tiny Kaggle-format split, and one on digits."""
    root = tmp_path_factory.mktemp("ens")
    _kaggle_csvs(root)
    kaggle = ["--data", "kaggle", "--data-dir", str(root)]
    a = _train(root, "a", *kaggle, "--model-args", '{"hidden": [16]}')
    b = _train(root, "b", *kaggle, "--model-args", '{"hidden": [8]}')
    c = _train(root, "c", *kaggle, "--model-args", '{"hidden": [8]}', "--seed", "1")
    digits = _train(root, "d", "--data", "digits", "--model-args", '{"hidden": [8]}')
    return root, a, b, c, digits


def test_evaluate_reports_each_member_and_the_ensemble(members, capsys):
    root, a, b, *_ = members
    assert main(["evaluate", a, b, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [m["model_file"] for m in res["members"]] == [a, b]
    assert res["model_file"] == "ensemble" and res["model_files"] == [a, b]
    for one, m in zip((a, b), res["members"]):
        assert main(["evaluate", one, "--json"]) == 0
        alone = json.loads(capsys.readouterr().out)
        assert m["accuracy"] == alone["accuracy"] and m["loss"] == pytest.approx(alone["loss"])
    ens = bn.Ensemble.load([a, b])
    d = bn.data.load_dataset("kaggle", root)
    want = np.mean(ens.predict_proba(d.x_test).argmax(1) == d.y_test)
    assert res["accuracy"] == pytest.approx(want) and res["n"] == len(d.y_test)
    assert sum(v["support"] for v in res["per_class"].values()) == res["n"]

    assert main(["evaluate", a, b]) == 0
    text = capsys.readouterr().out
    assert "2 models and their ensemble" in text and "ensemble (averaged probabilities)" in text
    assert text.count("accuracy") == 3 and "precision" in text


def test_evaluate_warns_when_members_saw_different_splits(members, capsys):
    _, a, _, c, _ = members
    assert main(["evaluate", a, c, "--json"]) == 0
    captured = capsys.readouterr()
    assert "different seeded splits of kaggle" in captured.err
    assert json.loads(captured.out)["members"][1]["model_file"] == c


def test_predict_averages_probabilities_into_a_submission(members, capsys, tmp_path):
    root, a, b, *_ = members
    sub = tmp_path / "submission.csv"
    assert main(["predict", a, b, str(root / "test.csv"), "--out", str(sub)]) == 0
    assert "wrote 5 predictions" in capsys.readouterr().out
    rows = list(csv.reader(sub.open()))
    assert rows[0] == ["ImageId", "Label"] and len(rows) == 6
    x = bn.data.kaggle_test(root / "test.csv")
    want = bn.Ensemble.load([a, b]).predict_proba(x).argmax(1)
    assert [int(r[1]) for r in rows[1:]] == want.tolist()


def test_predict_on_images_with_an_ensemble(members, capsys, tmp_path):
    from PIL import Image

    _, a, b, *_ = members
    paths = []
    for i in range(2):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(np.full((28, 28), 60 * i, np.uint8)).save(p)
        paths.append(str(p))
    out = tmp_path / "pred.csv"
    assert main(["predict", a, b, *paths, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 2 and printed[0].startswith(paths[0])
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["file", "label", "class", "probability"] and len(rows) == 3
    assert all(0 < float(r[3]) <= 1 for r in rows[1:])


def test_evaluate_refuses_members_with_other_class_names(members, capsys, tmp_path):
    _, a, b, _, _ = members
    model, meta = bn.io.load_file(b)
    renamed = [f"digit {c}" for c in meta["class_names"]]
    other = bn.save(model, tmp_path / "renamed.safetensors", {**meta, "class_names": renamed})
    assert main(["evaluate", a, str(other)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "disagree on the class names" in err[0]
    assert "renamed.safetensors" in err[0] and "digit 0" in err[0]


def test_a_file_named_twice_is_warned_about(members, capsys):
    _, a, *_ = members
    assert main(["evaluate", a, a, "--json"]) == 0
    captured = capsys.readouterr()
    assert f"{a} is given 2 times" in captured.err
    assert len(json.loads(captured.out)["members"]) == 2


@pytest.mark.parametrize(
    "argv, match, code",
    [
        (["evaluate", "{a}", "{digits}"], r"d/model\.safetensors and .*a/model\.safetensors ", 1),
        (["predict", "{a}", "{digits}", "x.csv"], "disagree on the input shape: \\[1, 8, 8\\]", 1),
        (["predict", "x.png", "{a}"], "no inputs given", 1),
        (["predict", "nope.png", "img.png"], "no such model file: nope.png", 4),
        (["predict", "{a}", "{b}"], "no inputs given", 1),
        (["predict", "{a}", "img.png", "{b}"], r"b/model\.safetensors comes after the input", 1),
        (["predict", "{a}", "{b}", "img.png", "t.csv"], r"input \(t\.csv\) must be the only", 1),
        (["evaluate", "{a}", "{hist}"], r"history\.csv is not a model file \(.*\); the model f", 1),
        (["evaluate", "{ckpt}"], r"best\.safetensors is a training checkpoint, not a model", 1),
        (["predict", "{a}", "{ckpt}", "img.png"], r"best\.safetensors is a training checkpoint", 1),
    ],
)
def test_ensemble_errors_are_one_clear_line(members, argv, match, code, capsys):
    _, a, b, _, digits = members
    hist = a.replace("model.safetensors", "history.csv")
    ckpt = a.replace("model.safetensors", "checkpoints/best.safetensors")
    argv = [s.format(a=a, b=b, digits=digits, hist=hist, ckpt=ckpt) for s in argv]
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"barenet {argv[0]}: error:")
    assert re.search(match, err[0])
