"""``--device`` on the command line: a GPU without CuPy is one line and exit code 7;
with a (fake) GPU, training, evaluation, prediction and profiling run there."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import barenet as bn
from barenet.cli import EXIT_MISSING, main


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "m.safetensors"
    bn.save(bn.Sequential(bn.Linear(1, 4), bn.Tanh(), bn.Linear(4, 1)), path)
    return str(path)


def _commands(tmp_path, model_file):
    return [
        ["train", "mlp", "--data", "sine", "--epochs", "1", "--out", str(tmp_path / "r")],
        ["evaluate", model_file, "--data", "sine"],
        ["predict", model_file, str(tmp_path / "none.png")],
        ["profile", "mlp", "--input-shape", "1,8,8", "--repeats", "1"],
        ["study", "sine", "--quick", "--out", str(tmp_path / "s"), "--workers", "1"],
        ["sweep", str(tmp_path / "none.toml"), "--out", str(tmp_path / "w")],
    ]


@pytest.mark.parametrize(
    "which", range(6), ids=["train", "evaluate", "predict", "profile", "study", "sweep"]
)
def test_device_cuda_without_cupy_is_one_line_and_exit_7(
    monkeypatch, capsys, tmp_path, model_file, which
):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    argv = _commands(tmp_path, model_file)[which] + ["--device", "cuda"]
    if argv[0] == "sweep":
        (tmp_path / "none.toml").write_text(
            'name = "w"\n[base]\nmodel = "mlp"\ndata = "sine"\nepochs = 1\n[grid]\nlr = [0.01]\n'
        )
    code = main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_MISSING, err
    assert err.count("\n") == 1 and "pip install barenet[gpu]" in err, err
    assert err.startswith(f"barenet {argv[0]}: error: ")
    assert not any((tmp_path / d).exists() for d in ("r", "s", "w"))


def test_a_bad_device_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["profile", "mlp", "--device", "gpu"])
    assert exc.value.code == 2 and "expected cpu, cuda or cuda:N" in capsys.readouterr().err


def test_train_and_evaluate_on_a_fake_gpu_write_the_same_model_files(fake_cupy, tmp_path, capsys):
    files = {}
    for device in ("cpu", "cuda:1"):
        out = tmp_path / device.replace(":", "")
        argv = [
            "train",
            "mlp",
            "--data",
            "sine",
            "--epochs",
            "2",
            "--out",
            str(out),
            "--no-plots",
            "--quiet",
            "--device",
            device,
        ]
        assert main(argv) == 0, capsys.readouterr().err
        files[device] = bn.load(out / "model.safetensors").state_dict()
        code = main(["evaluate", str(out / "model.safetensors"), "--json", "--device", device])
        assert code == 0
    for k, v in files["cpu"].items():
        np.testing.assert_allclose(files["cuda:1"][k], v, rtol=1e-5, atol=1e-6)


def test_profile_on_a_fake_gpu_synchronises_around_each_layer(fake_cupy, capsys):
    calls = []
    stream = fake_cupy.cuda.get_current_stream()
    fake_cupy.cuda.get_current_stream = lambda: stream
    stream.synchronize = lambda: calls.append(1)
    assert (
        main(
            [
                "profile",
                "cnn-small",
                "--input-shape",
                "1,8,8",
                "--batch",
                "4",
                "--repeats",
                "2",
                "--device",
                "cuda",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Conv2d" in out and "images/s" in out
    n_leaves = sum(1 for _ in bn.models.build_model("cnn-small", (1, 8, 8), 10).leaves())
    assert len(calls) >= 3 * 4 * n_leaves  # before and after each layer's forward and backward


def test_mpi_training_on_a_gpu_is_refused_before_anything_runs(fake_cupy, tmp_path):
    from barenet.train.run import build_run

    class OneRank:
        rank, size = 0, 1

    with pytest.raises(ValueError, match="MPI runs on the CPU"):
        build_run({"model": "mlp", "data": "sine", "device": "cuda"}, tmp_path, comm=OneRank())
    assert list(tmp_path.iterdir()) == []


def test_a_run_on_the_gpu_resumes_from_its_checkpoint_as_if_never_stopped(
    fake_cupy, tmp_path, capsys
):
    def train(out, epochs, *more):
        argv = [
            "train",
            "mlp",
            "--data",
            "sine",
            "--epochs",
            str(epochs),
            "--out",
            str(out),
            "--optimizer",
            "adam",
            "--no-plots",
            "--quiet",
            "--device",
            "cuda",
            *more,
        ]
        assert main(argv) == 0, capsys.readouterr().err

    train(tmp_path / "whole", 3)
    train(tmp_path / "parts", 2)
    train(tmp_path / "parts", 3, "--resume")
    whole = bn.load(tmp_path / "whole" / "model.safetensors").state_dict()
    parts = bn.load(tmp_path / "parts" / "model.safetensors").state_dict()
    for k, v in whole.items():
        np.testing.assert_array_equal(parts[k], v)
