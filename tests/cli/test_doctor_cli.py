"""``barenet check``, ``barenet exercise`` and ``barenet trace`` end to end, in process:
exit 0 / 1 / 2, the JSON object, one line and no traceback for unusable input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from barenet.cli import main

LAYERS = '''
import numpy as np
import barenet as bn
from barenet import reference as R


class GoodScale(bn.Module):
    """y = x · a per feature."""

    def __init__(self, n):
        super().__init__()
        self.a = bn.Parameter(np.linspace(0.5, 1.5, n))

    def forward(self, x):
        self.x = x
        return x * self.a.data

    def backward(self, dy):
        self.a.grad += (dy * self.x).sum(0)
        return dy * self.a.data


class HalfScale(GoodScale):
    def backward(self, dy):
        return super().backward(dy) * 0.5


class MyLinear(bn.Linear):
    """A subclass of a barenet layer: it has the known twin torch.nn.Linear."""

    def backward(self, dy):
        return super().backward(dy) * 2


class Raises(GoodScale):
    def backward(self, dy):
        return dy[:, 99]


def col2im(dcols, x_pad_shape, kh, kw, sh, sw, oh, ow):
    n, c = x_pad_shape[:2]
    dx_pad = np.zeros(x_pad_shape)
    d = dcols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        for j in range(kw):
            dx_pad[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] = d[
                :, i, j
            ].transpose(1, 0, 2, 3)
    return dx_pad


conv2d_forward = R.conv2d_forward


def conv2d_backward(dy, cache):
    cols, x_pad_shape, w, has_bias, (sh, sw), (pt, pb, pl, pr) = cache
    n, o, oh, ow = dy.shape
    kh, kw = w.shape[2:]
    dy2 = dy.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
    dx_pad = col2im(w.reshape(o, -1).T @ dy2, x_pad_shape, kh, kw, sh, sw, oh, ow)
    hp, wp = x_pad_shape[2:]
    return dx_pad[:, :, pt : hp - pb, pl : wp - pr], (dy2 @ cols.T).reshape(w.shape), dy2.sum(1)
'''

CONV_ARGS = '{"params": {"w": [4, 3, 3, 3], "b": [4]}, "stride": [2, 2], "padding": [1, 1, 1, 1]}'


@pytest.fixture
def layers(tmp_path):
    path = tmp_path / "my_layers.py"
    path.write_text(LAYERS)
    return path


def _one_line_error(argv, capsys, code=2) -> str:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    assert rc == code, cap.err
    assert "Traceback" not in cap.err and cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    return lines[0]


def test_check_a_wrong_col2im_names_the_overlapping_positions(layers, capsys):
    rc = main(["check", f"{layers}:conv2d", "--input-shape", "2,3,9,9", "--args", CONV_ARGS])
    out = capsys.readouterr().out
    assert rc == 1
    assert "missing-accumulation" in out
    assert "rows 1, 3, 5, 7 and columns 1, 3, 5, 7 of each 9x9 map" in out
    assert "1 of 3 tensor(s) wrong: input (missing-accumulation)" in out


def test_the_readme_example_of_a_wrong_col2im(capsys):
    example = Path(__file__).resolve().parents[2] / "examples" / "wrong_col2im.py"
    args = '{"in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}'
    argv = ["check", f"{example}:MyConv2d", "--input-shape", "2,3,9,9", "--args", args]
    assert main([*argv, "--twin", "none"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("MyConv2d (Conv2d(3→4)) on input (2, 3, 9, 9), float64")
    assert "1 of 3 tensor(s) wrong: input (missing-accumulation)" in out
    assert "rows 1, 3, 5, 7 and columns 1, 3, 5, 7 of each 9x9 map" in out
    main([*argv, "--twin", "none"])
    assert capsys.readouterr().out.splitlines()[3] == out.splitlines()[3]  # seeded weights


def test_check_json_is_exactly_the_documented_object(layers, capsys):
    rc = main(["check", f"{layers}:HalfScale", "--input-shape", "4,3", "--args", '{"n": 3}',
               "--json"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1 and out.count("\n") == 1
    d = json.loads(out)
    assert set(d) == {"ok", "tensors"} and d["ok"] is False
    keys = {"name", "max_abs_err", "max_rel_err", "worst_index", "wrong_fraction",
            "diagnosis", "factor", "hint"}  # fmt: skip
    assert all(set(t) == keys for t in d["tensors"])
    row = {t["name"]: t for t in d["tensors"]}["input"]
    assert row["diagnosis"] == "scaled" and row["factor"] == pytest.approx(0.5)
    assert main(["check", f"{layers}:GoodScale", "--input-shape", "4,3", "--args", '{"n": 3}',
                 "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["ok"] is True


@pytest.mark.torch
def test_check_compares_a_subclass_of_a_barenet_layer_with_its_known_twin(layers, capsys):
    pytest.importorskip("torch")
    argv = ["check", f"{layers}:MyLinear", "--input-shape", "4,3", "--args",
            '{"in_features": 3, "out_features": 2}', "--json"]  # fmt: skip
    assert main(argv) == 1
    rows = {t["name"]: t for t in json.loads(capsys.readouterr().out)["tensors"]}
    assert rows["input"]["diagnosis"] == "scaled" and rows["input"]["factor"] == pytest.approx(2)
    assert rows["output vs torch.nn.Linear"]["diagnosis"] == "ok"
    assert rows["input vs torch.nn.Linear"]["diagnosis"] == "scaled"
    assert rows["weight vs torch.nn.Linear"]["diagnosis"] == "ok"
    assert main([*argv, "--twin", "none"]) == 1
    assert [t["name"] for t in json.loads(capsys.readouterr().out)["tensors"]] == [
        "input", "weight", "bias"]  # fmt: skip


def test_check_unusable_input_is_one_line_with_exit_2(layers, tmp_path, capsys):
    (tmp_path / "broken.py").write_text("def f(:\n")
    cases = [
        ([f"{tmp_path}/none.py:X", "--input-shape", "2,3"], "none.py: no such file"),
        ([str(layers), "--input-shape", "2,3"], "expected FILE.py:NAME"),
        ([f"{layers}:Nope", "--input-shape", "2,3"], "has no 'Nope'; it defines"),
        ([f"{tmp_path}/broken.py:f", "--input-shape", "2"], "broken.py, line 1: SyntaxError"),
        ([f"{layers}:GoodScale", "--input-shape", "2,x", "--args", '{"n": 3}'], "--input-shape"),
        ([f"{layers}:GoodScale", "--input-shape", "2,3", "--args", "{bad"], "--args is not JSON"),
        ([f"{layers}:GoodScale", "--input-shape", "2,3", "--args", '{"m": 3}'],
         "GoodScale(**{'m': 3}) raised TypeError"),
        ([f"{layers}:GoodScale", "--input-shape", "2,5", "--args", '{"n": 3}'],
         "GoodScale().forward raised ValueError"),
        ([f"{layers}:Raises", "--input-shape", "2,3", "--args", '{"n": 3}'],
         "my_layers.py, line"),
        ([f"{layers}:conv2d", "--input-shape", "2,3,9,9", "--args", CONV_ARGS, "--twin",
          "torch.nn.Conv2d"], "--twin needs a layer class"),
    ]  # fmt: skip
    for argv, words in cases:
        line = _one_line_error(["check", *argv], capsys)
        assert line.startswith("barenet check: error: ") and words in line, (argv, line)


def test_check_help_and_no_traceback_from_a_fresh_process(layers):
    out = subprocess.run(
        [sys.executable, "-m", "barenet", "check", f"{layers}:Raises", "--input-shape", "2,3",
         "--args", '{"n": 3}'],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "Raises().backward raised IndexError" in out.stderr


def test_exercise_list_start_check(tmp_path, capsys):
    assert main(["exercise", "list"]) == 0
    out = capsys.readouterr().out
    assert "conv2d-backward" in out and "batchnorm-backward" in out
    stub = tmp_path / "conv.py"
    assert main(["exercise", "start", "conv2d-backward", "--out", str(stub)]) == 0
    assert f"barenet exercise check {stub}" in capsys.readouterr().out
    line = _one_line_error(["exercise", "start", "conv2d-backward", "--out", stub], capsys)
    assert "exists; pass --force" in line
    assert main(["exercise", "start", "relu", "--out", str(stub), "--force"]) == 0
    capsys.readouterr()
    assert stub.read_text().startswith("# barenet exercise: relu")
    assert main(["exercise", "check", str(stub)]) == 1
    assert "relu_forward" in capsys.readouterr().out
    line = _one_line_error(["exercise", "check", tmp_path / "none.py"], capsys)
    assert "no such file" in line
    assert "unknown exercise" in _one_line_error(["exercise", "start", "nope"], capsys)
    assert main(["exercise"]) == 2


def test_trace_prints_the_tables_and_writes_the_page(tmp_path, capsys):
    page = tmp_path / "trace.html"
    rc = main(["trace", "mlp", "--data", "xor", "--batch", "4", "--html", str(page)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "mlp on 4 samples of xor" in out and "|dL/dw|/|w|" in out
    assert page.read_text().startswith("<!DOCTYPE html>")
    line = _one_line_error(["trace", "nope", "--data", "xor"], capsys, code=1)
    assert "neither a model file nor one of" in line
