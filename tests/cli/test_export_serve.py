"""``barenet export`` and ``barenet serve`` from the command line."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request

import numpy as np
import pytest

import barenet as bn
from barenet.cli import main
from barenet.models import build_model
from launch import child_env, cli_command


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    bn.seed(0)
    path = tmp_path_factory.mktemp("cli") / "model.safetensors"
    meta = {
        "class_names": list("abcd"),
        "input_shape": [1, 8, 8],
        "task": "classification",
        "dataset": "digits",
        "normalisation": {"range": [0.0, 1.0], "invert": False},
    }
    bn.save(build_model("cnn-bn", (1, 8, 8), 4), path, meta)
    return path


def test_export_writes_an_onnx_file_that_onnxruntime_runs(model_file, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    rc = main(["export", str(model_file), "--format", "onnx", "--out", str(out), "--check"])
    text = capsys.readouterr().out
    assert rc == 0 and out.is_file()
    assert "opset 17" in text and "worst relative difference" in text
    worst = float(text.rsplit("difference", 1)[1])
    assert worst < 1e-4
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(props["class_names"]) == list("abcd")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.run(None, {"input": np.zeros((3, 1, 8, 8), np.float32)})[0].shape == (3, 4)


def test_export_errors_are_one_line(model_file, tmp_path, capsys):
    pytest.importorskip("onnx")
    rc = main(["export", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "m.onnx")])
    assert rc == 4 and "error" in capsys.readouterr().err  # a file that cannot be read
    bad = ["export", str(model_file), "--out", str(tmp_path / "m.onnx"), "--input-shape", "3,8,8"]
    assert main(bad) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit the model" in err
    assert not (tmp_path / "m.onnx").exists()


def test_serve_refuses_a_busy_port_with_one_line(model_file, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", str(model_file), "--port", str(port)]) == 1
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


@pytest.mark.signals
@pytest.mark.parametrize("sig, how", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_serve_runs_until_interrupted(model_file, sig, how):
    # The child puts SIGINT back to Python's Ctrl-C handler and SIGTERM to its default
    # before barenet starts (cli_command): started from a script's background job, it
    # would inherit SIGINT ignored and never see the Ctrl-C sent below.
    proc = subprocess.Popen(
        cli_command("serve", str(model_file), "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        line = proc.stdout.readline()
        assert "4 classes, input 1x8x8" in line, proc.stderr.read() if not line else line
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "model", timeout=10) as resp:
            assert json.load(resp)["class_names"] == list("abcd")
        req = urllib.request.Request(
            url + "predict",
            data=json.dumps({"pixels": [[1.0] * 8] * 8}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.load(resp)["empty"] is True
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0 and "Traceback" not in err
        assert f"stopped ({how}) after 2 answers (0 busy)" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
