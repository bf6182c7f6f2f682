"""``barenet train`` stopped by ``kill -TERM`` or ``kill -INT``, as a run started in
the background is stopped: the step in progress finishes or is undone, the checkpoint
is written, and the exit code and the last line say what happened and how to go on."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from launch import child_env, cli_command


@pytest.mark.signals
@pytest.mark.parametrize(
    "sig, code, word",
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
    ids=["TERM", "INT"],
)
def test_a_signal_saves_the_checkpoint_and_says_how_to_resume(tmp_path, sig, code, word):
    out = tmp_path / "run"
    last = out / "checkpoints" / "last.safetensors"
    argv = ["train", "mlp", "--data", "blobs", "--limit-train", "64", "--val-fraction", "0",
            "--epochs", "200", "--batch-size", "16", "--out", str(out), "--no-plots",
            "--quiet"]  # fmt: skip
    # The child sets SIGINT and SIGTERM to their defaults first (cli_command), as a job
    # started from a terminal has them, whatever this process inherited.
    proc = subprocess.Popen(
        cli_command(*argv), env=child_env(), cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not last.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # training has begun once the first checkpoint is there
        assert proc.poll() is None, proc.communicate()
        written = last.stat().st_mtime_ns
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"barenet train: {word}; continue with resume from the checkpoint {last}"
    )
    assert last.stat().st_mtime_ns >= written and not (out / "metrics.json").exists()
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert history["stopped_reason"] == word and 0 < len(history["epochs"]) < 200
