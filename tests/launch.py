"""Processes the tests start and signal, set up the same however pytest itself was
started: from a terminal, as a background job of a script (which a shell starts with
SIGINT ignored; an ignored signal stays ignored in every process started from it),
by a CI runner or a job queue.

A test that signals a process sets up, in that process, the disposition it relies on:
``cli_command`` starts ``barenet`` in a child whose first act is to put SIGINT and
SIGTERM back to their defaults (Python's Ctrl-C handler, and termination) and unblock
them; ``default_sigint`` (a fixture in ``conftest.py``) does the same for a test that
raises SIGINT in the pytest process itself.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")

# What the child runs before barenet: the dispositions a terminal's foreground job has.
_DEFAULT_SIGNALS = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})\n"
)


def cli_command(*args: str) -> list[str]:
    """argv running ``barenet ARGS...`` in a fresh interpreter with SIGINT and SIGTERM
    at their defaults, whatever this process inherited."""
    boot = _DEFAULT_SIGNALS + "from barenet.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return [sys.executable, "-c", boot, *args]


def python_command(code: str) -> list[str]:
    """argv running Python ``code`` in a fresh interpreter, SIGINT and SIGTERM first put
    back to their defaults as in ``cli_command``."""
    return [sys.executable, "-c", _DEFAULT_SIGNALS + code]


def child_env(**extra: str) -> dict[str, str]:
    """This environment with the worktree's ``src`` and the repository's root (for
    ``tests.*`` modules) first on ``PYTHONPATH``: a child finds them from any folder."""
    paths = (SRC, str(ROOT), os.environ.get("PYTHONPATH", ""))
    path = os.pathsep.join(p for p in paths if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def set_default_sigint() -> tuple[object, set]:
    """Put Python's Ctrl-C handler on SIGINT in this (main) thread and unblock it;
    returns what to give ``restore_sigint``."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return old, mask


def restore_sigint(saved: tuple[object, set]) -> None:
    old, mask = saved
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)
