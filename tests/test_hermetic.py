"""The suite passes however it is launched: here its signal tests run in a pytest
started as a script's background job starts it (SIGINT ignored, no terminal, stdin
from /dev/null), from another folder, with a HOME that does not exist and a umask that
hides files from others."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from launch import ROOT

# Exec'd with SIGINT ignored, as a shell without job control leaves it for `cmd &`.
_IGNORED = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'pytest', *sys.argv[1:]])\n"
)


def _signal_test_files() -> list[str]:
    here = os.path.abspath(__file__)
    found = []
    for folder, _, names in os.walk(ROOT / "tests"):
        for name in names:
            path = os.path.join(folder, name)
            if name.startswith("test_") and name.endswith(".py") and path != here:
                with open(path, encoding="utf-8") as f:
                    if "pytest.mark.signals" in f.read():
                        found.append(path)
    return sorted(found)


def test_signal_tests_pass_in_a_pytest_started_with_sigint_ignored(tmp_path):
    files = _signal_test_files()
    assert len(files) >= 3  # the training step, the train command, the server
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["HOME"] = str(tmp_path / "no-home")
    argv = ["-q", "-m", "signals", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
            "-c", str(ROOT / "pyproject.toml"), "-W", "ignore::pytest.PytestConfigWarning",
            *files]  # fmt: skip
    r = subprocess.run(
        [sys.executable, "-c", _IGNORED, *argv], cwd=tmp_path, env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
        start_new_session=True, umask=0o077, timeout=600,
    )  # fmt: skip
    tail = r.stdout[-3000:] + r.stderr[-2000:]
    assert r.returncode == 0, tail
    passed = re.search(r"(\d+) passed", r.stdout)
    assert passed and int(passed.group(1)) >= 15 and "failed" not in r.stdout, tail
