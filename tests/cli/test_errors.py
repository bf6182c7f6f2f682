"""The CLI's one error boundary: each family of error gives one line,
``barenet CMD: error: ...``, and its own exit code; no traceback unless asked."""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys

import pytest

import barenet as bn
from barenet import cli
from barenet.cli import main
from barenet.models import build_model

HEADER = ",".join(f"pixel{i}" for i in range(784))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    bn.seed(0)
    meta = {
        "class_names": [str(i) for i in range(10)],
        "input_shape": [1, 28, 28],
        "task": "classification",
        "dataset": "kaggle",
        "normalisation": {"range": [0.0, 1.0], "invert": False},
    }
    bn.save(build_model("mlp", (1, 28, 28), 10, hidden=[8]), path, meta)
    return path


def _test_csv(path, n=5, bad_row=None):
    rows = [",".join(["0"] * 784) for _ in range(n)]
    if bad_row is not None:
        rows[bad_row] = "#" + rows[bad_row]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _run(argv, capsys, code):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == code, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


def _usage(argv, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


# -- 1: bad input -------------------------------------------------------------------


def test_bad_input_is_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\0\0\0\0\0\0\0{not json at all}")
    line = _run(["evaluate", bad, "--data", "digits"], capsys, cli.EXIT_INPUT)
    assert line.startswith("barenet evaluate: error:") and "not valid JSON" in line


def test_a_hash_row_in_test_csv_stops_predict_before_any_submission(model_file, tmp_path, capsys):
    csv = _test_csv(tmp_path / "test.csv", bad_row=2)
    out = tmp_path / "submission.csv"
    line = _run(["predict", model_file, csv, "--out", out], capsys, cli.EXIT_INPUT)
    assert "line 4, column 1 (pixel0)" in line and not out.exists()
    _test_csv(csv)
    assert main(["predict", str(model_file), str(csv), "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 1 + 5


def test_class_names_shorter_than_the_outputs_are_refused(tmp_path, capsys):
    path = tmp_path / "short.safetensors"
    meta = {"class_names": ["a", "b"], "input_shape": [1, 28, 28]}
    bn.save(build_model("mlp", (1, 28, 28), 10, hidden=[8]), path, meta)
    csv = _test_csv(tmp_path / "test.csv")
    line = _run(["predict", path, csv, "--out", tmp_path / "s.csv"], capsys, cli.EXIT_INPUT)
    assert "2 class names recorded for 10 outputs" in line


# -- 2: the command line ------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, flag",
    [
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--lr", "0"], "--lr"),
        (["--momentum", "-5"], "--momentum"),
        (["--momentum", "1"], "--momentum"),
        (["--patience", "-1"], "--patience"),
        (["--epochs", "1.5"], "--epochs"),
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "0"], "--batch-size"),
        (["--weight-decay", "-0.1"], "--weight-decay"),
        (["--label-smoothing", "1.5"], "--label-smoothing"),
        (["--label-smoothing", "nan"], "--label-smoothing"),
        (["--val-fraction", "1"], "--val-fraction"),
        (["--seed", "-1"], "--seed"),
        (["--limit-train", "0"], "--limit-train"),
        (["--schedule", "cosine:x"], "--schedule"),
        (["--schedule", "step:0"], "--schedule"),
        (["--schedule", "step:2:1.5"], "--schedule"),
        (["--schedule", "plateau:2"], "--schedule"),
        (["--schedule", "cosine:1:2"], "--schedule"),
        (["--schedule", "warp"], "--schedule"),
        (["--augment", ",,,"], "--augment"),
        (["--augment", "shift,,noise"], "--augment"),
        (["--augment", "wobble"], "--augment"),
        (["--augment", "flip:2"], "--augment"),
        (["--augment", "padcrop:-1"], "--augment"),
        (["--model-args", "[1, 2]"], "--model-args"),
        (["--model-args", "{bad"], "--model-args"),
    ],
)
def test_train_numeric_flags_are_checked_by_argparse(extra, flag, capsys, tmp_path):
    line = _usage(["train", "mlp", "--data", "digits", "--out", tmp_path / "o", *extra], capsys)
    assert line.startswith(f"barenet train: error: argument {flag}:"), line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["profile", "mlp", "--batch", "0"], "--batch"),
        (["profile", "mlp", "--repeats", "-3"], "--repeats"),
        (["profile", "mlp", "--input-shape", "1,0,28"], "--input-shape"),
        (["summary", "mlp", "--classes", "0"], "--classes"),
        (["summary", "mlp", "--input-shape", "1,28.5"], "--input-shape"),
        (["evaluate", "m.safetensors", "--limit", "0"], "--limit"),
        (["evaluate", "m.safetensors", "--plot", "cm.jpg"], "--plot"),
        (["predict", "m.safetensors", "x.png", "--batch-size", "-1"], "--batch-size"),
        (["sweep", "s.toml", "--workers", "0"], "--workers"),
        (["study", "sine", "--workers", "nan"], "--workers"),
    ],
)
def test_other_commands_check_their_flags(argv, flag, capsys):
    line = _usage(argv, capsys)
    assert f"error: argument {flag}:" in line, line


def test_widths_of_one_and_a_half_are_refused(capsys):
    line = _run(["summary", "mlp", "--model-args", '{"hidden": [1.5]}'], capsys, 1)
    assert "hidden must be positive integers, got 1.5" in line


def test_a_cosine_floor_above_the_learning_rate_is_refused(capsys, tmp_path):
    argv = ["train", "mlp", "--data", "digits", "--out", tmp_path / "o", "--lr", "0.01"]
    line = _run([*argv, "--schedule", "cosine:5"], capsys, cli.EXIT_INPUT)
    assert line == (
        "barenet train: error: schedule 'cosine:5': the final learning rate must be >= 0 "
        "and below the learning rate 0.01, got 5 (cosine[:final_lr])"
    )
    assert not (tmp_path / "o").exists()


def test_study_without_a_name_says_what_to_pass(capsys):
    assert main(["study"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("barenet study: error: name a study") and "sine" in err


def test_help_shows_defaults_and_no_backticks(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps at $COLUMNS: "(default:" / "64)"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "(default: 64)" in text and "(default: 0.9)" in text and "``" not in text
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "``" not in capsys.readouterr().out


# -- 4: files and folders -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "devnull", "empty", "under-a-file"])
def test_out_paths_that_cannot_be_folders_are_refused_before_any_work(kind, tmp_path, capsys):
    f = tmp_path / "a-file"
    f.write_text("x")
    out = {"file": f, "devnull": "/dev/null", "empty": "", "under-a-file": f / "sub"}[kind]
    line = _usage(["train", "mlp", "--data", "digits", "--out", out], capsys)
    assert "argument --out:" in line
    assert f.read_text() == "x"


@pytest.mark.parametrize("kind", ["folder", "devnull", "empty"])
def test_predict_out_must_be_a_file(kind, model_file, tmp_path, capsys):
    out = {"folder": tmp_path, "devnull": "/dev/null", "empty": ""}[kind]
    csv = _test_csv(tmp_path / "test.csv")
    line = _usage(["predict", model_file, csv, "--out", out], capsys)
    assert "argument --out:" in line
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    line = _usage(["train", "mlp", "--data", "digits", "--out", ro / "run"], capsys)
    assert "cannot write in" in line


def test_a_write_that_fails_at_run_time_is_exit_4(model_file, tmp_path, capsys, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "s.csv"))

    monkeypatch.setattr(bn.io.os, "fsync", full)
    csv = _test_csv(tmp_path / "test.csv")
    line = _run(["predict", model_file, csv, "--out", tmp_path / "s.csv"], capsys, 4)
    assert line == f"barenet predict: error: No space left on device: {tmp_path / 's.csv'}"
    assert os.listdir(tmp_path) == ["test.csv"]  # no half-written file


def test_a_folder_that_cannot_be_created_at_run_time_is_exit_4(tmp_path, capsys, monkeypatch):
    from pathlib import Path

    def denied(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    line = _run(["train", "mlp", "--data", "digits", "--out", tmp_path / "o"], capsys, 4)
    assert line.startswith("barenet train: error: Permission denied:")


def test_missing_data_files_leave_no_empty_out_folder(tmp_path, capsys):
    empty = tmp_path / "data"
    empty.mkdir()
    out = tmp_path / "run"
    argv = ["train", "mlp", "--data", "fashion-mnist", "--data-dir", empty, "--out", out]
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_FILES and "Fashion-MNIST not found" in err and "--download" in err
    assert not out.exists()


def test_a_model_path_that_is_a_folder_is_bad_input(tmp_path, capsys):
    line = _run(["evaluate", tmp_path, "--data", "digits"], capsys, cli.EXIT_INPUT)
    assert "not a model file" in line


# -- 5: downloads -------------------------------------------------------------------


def test_an_offline_download_is_exit_5_with_the_mirrors_listed(tmp_path, capsys, monkeypatch):
    from barenet.data import datasets

    monkeypatch.setattr(datasets, "FASHION_MNIST_MIRRORS", ["http://127.0.0.1:9/"])
    data, out = tmp_path / "data", tmp_path / "run"
    argv = ["train", "mlp", "--data", "fashion-mnist", "--data-dir", data, "--download"]
    rc = main([str(a) for a in [*argv, "--out", out]])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_DOWNLOAD and "Traceback" not in err
    assert err.startswith("barenet train: error: Fashion-MNIST: could not download")
    assert "http://127.0.0.1:9/" in err and not out.exists()


# -- 6: memory ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["profile", "cnn-small", "--batch", "100000000"],
        ["summary", "cnn-small", "--input-shape", "1,100000,100000"],
        ["summary", "mlp", "--model-args", '{"hidden": [10000000000]}'],
    ],
    ids=["profile-batch", "summary-shape", "model-args"],
)
def test_sizes_beyond_memory_are_exit_6_before_allocating(argv, capsys):
    line = _run(argv, capsys, cli.EXIT_MEMORY)
    assert "needs" in line and "more than the" in line and "of memory available" in line


def test_a_memory_error_is_exit_6(monkeypatch, capsys):
    from barenet.cli import summary

    def exhausted(args):
        raise MemoryError

    monkeypatch.setattr(summary, "run", exhausted)
    line = _run(["summary", "mlp"], capsys, cli.EXIT_MEMORY)
    assert line.startswith("barenet summary: error: out of memory")


# -- 7, 70, 130, 141: missing extras, bugs, Ctrl-C, closed pipes --------------------


def _raising(monkeypatch, exc):
    from barenet.cli import summary

    def boom(args):
        raise exc

    monkeypatch.setattr(summary, "run", boom)


def test_a_missing_extra_is_exit_7(monkeypatch, capsys):
    _raising(monkeypatch, ImportError("plots need matplotlib: pip install barenet[all]"))
    line = _run(["summary", "mlp"], capsys, cli.EXIT_MISSING)
    assert line == "barenet summary: error: plots need matplotlib: pip install barenet[all]"


def test_a_bug_is_exit_70_and_says_how_to_see_the_traceback(monkeypatch, capsys):
    _raising(monkeypatch, RuntimeError("unexpected state"))
    line = _run(["summary", "mlp"], capsys, cli.EXIT_INTERNAL)
    assert "internal error: RuntimeError: unexpected state" in line and "--debug" in line


@pytest.mark.parametrize("how", ["flag-before", "flag-after", "env"])
def test_debug_adds_the_traceback(monkeypatch, capsys, how):
    _raising(monkeypatch, RuntimeError("unexpected state"))
    argv = {
        "flag-before": ["--debug", "summary", "mlp"],
        "flag-after": ["summary", "mlp", "--debug"],
    }
    if how == "env":
        monkeypatch.setenv("BARENET_DEBUG", "1")
    assert main(argv.get(how, ["summary", "mlp"])) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: unexpected state" in err
    assert err.strip().splitlines()[-1].startswith("barenet summary: error: internal error")


def test_ctrl_c_is_exit_130(monkeypatch, capsys):
    _raising(monkeypatch, KeyboardInterrupt("interrupted; checkpoint saved to x"))
    line = _run(["summary", "mlp"], capsys, cli.EXIT_INTERRUPTED)
    assert line == "barenet summary: interrupted; checkpoint saved to x"


def test_sigterm_is_exit_143(monkeypatch, capsys):
    from barenet.train import Terminated

    _raising(monkeypatch, Terminated("terminated; continue with resume from x"))
    line = _run(["summary", "mlp"], capsys, cli.EXIT_TERMINATED)
    assert line == "barenet summary: terminated; continue with resume from x"


def test_every_exit_code_is_documented():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for code, meaning in cli.EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in readme


def test_no_traceback_from_a_real_process(tmp_path):
    bad = tmp_path / "m.safetensors"
    bad.write_bytes(b"\xff" * 64)
    code = "import sys; from barenet.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run(
        [sys.executable, "-c", code, "predict", str(bad), "a.png"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("barenet predict: error:")


def test_a_closed_pipe_is_quiet(tmp_path):
    code = "import sys; from barenet.cli import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.Popen(
        [sys.executable, "-c", code, "summary", "cnn-deep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p.stdout.close()  # nobody reads: the first write fails with EPIPE
    _, err = p.communicate(timeout=120)
    assert p.returncode == 141 and b"Traceback" not in err


def test_integers_past_the_digit_limit_name_the_setting_or_file(model_file, tmp_path, capsys):
    huge = "9" * 5000
    line = _usage(["train", "mlp", "--data", "blobs", "--out", tmp_path / "r",
                   "--model-args", '{"hidden": [' + huge + ']}'], capsys)  # fmt: skip
    assert "--model-args" in line and "an integer of 5000 digits" in line
    sweep = tmp_path / "s.toml"
    sweep.write_text('[base]\nmodel = "mlp"\ndata = "blobs"\n[grid]\nlr = [0.1]\n')
    line = _run(["sweep", sweep, "--out", tmp_path / "s", "--set", f"epochs={huge}"], capsys, 1)
    assert "--set epochs: an integer of 5000 digits" in line
    data = model_file.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    head = data[8 : 8 + n].replace(b'"shape":[', b'"shape":[' + huge.encode() + b",", 1)
    bad = tmp_path / "big.safetensors"
    bad.write_bytes(struct.pack("<Q", len(head)) + head + data[8 + n :])
    line = _run(["evaluate", bad, "--data", "digits"], capsys, 1)
    assert str(bad) in line and "an integer of 5000 digits" in line
