"""Running cases in forked children under memory and time limits, and counting outcomes.

The parent imports barenet (and what its commands import) once; each case then runs in
a child forked from it, so a case costs a fork, not an interpreter start. The child
sets an address-space limit (``RLIMIT_AS``) and an alarm, runs the case in its own
scratch folder with stdout and stderr sent to files, and reports one short JSON line
through a pipe. A child killed by a signal (the alarm included) is a crash.

Outcomes:

- ``ok``: valid input accepted and read correctly (or damage that changed nothing);
- ``clean``: refused with a clear error (a ``ValueError``/``TypeError`` from the API,
  one ``barenet CMD: error:`` line and a non-zero exit from the command line);
- ``refused``: a valid input refused (a false alarm);
- ``unclear``: refused, but with a message over :data:`MAX_MESSAGE` characters, or
  one that does not say where the problem is (a CSV error without its line);
- ``crash``: a traceback, a foreign exception, ``MemoryError``, a signal or a timeout;
- ``garbage``: damaged or invalid input accepted;
- ``loss``: input accepted with part of it silently dropped or altered.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

OUTCOMES = ("ok", "clean", "refused", "unclear", "crash", "garbage", "loss")
MAX_MESSAGE = 2000


class Outcome(Exception):
    """Raised by a case to report how the code under test behaved."""

    def __init__(self, kind: str, detail: str = ""):
        assert kind in OUTCOMES, kind
        super().__init__(kind, detail)
        self.kind, self.detail = kind, detail


def api_error(exc: BaseException, valid: bool) -> Outcome:
    """Classify an exception raised by a library call on input known to be ``valid``."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, (MemoryError,)):
        if len(str(exc)) > MAX_MESSAGE:
            return Outcome("unclear", f"{type(exc).__name__} of {len(str(exc))} characters")
        return Outcome("refused" if valid else "clean", text[:200])
    return Outcome("crash", text[:200] + " | " + _where(exc))


def _where(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if "/barenet/" in f.filename] or tb
    f = frames[-1] if frames else None
    return f"{f.filename.split('/barenet/')[-1]}:{f.lineno}" if f else ""


@dataclass
class Case:
    """One case: ``run(workdir)`` raises :class:`Outcome` (or anything, which is a crash)."""

    target: str
    name: str
    run: Callable[[str], None]


@dataclass
class Tally:
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    wall: float = 0.0

    def add(self, target: str, kind: str, name: str, detail: str) -> None:
        self.counts[target][kind] += 1
        ex = self.examples[(target, kind)]
        if len(ex) < 5 and kind not in ("ok", "clean"):
            ex.append(f"{name}: {detail}"[:300])


def _child(case: Case, mem_bytes: int, timeout: int, wfd: int, work: str) -> None:
    os.environ["BARENET_NUM_THREADS"] = "1"
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(timeout)
    os.chdir(work)
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        out = os.open(os.path.join(work, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, fd)
        os.close(out)
    try:
        case.run(work)
        result = ("crash", "the case reported nothing")
    except Outcome as o:
        result = (o.kind, o.detail)
    except BaseException as exc:  # noqa: BLE001 - anything else is a crash by definition
        result = ("crash", f"{type(exc).__name__}: {str(exc)[:200]} | {_where(exc)}")
    os.write(wfd, json.dumps(result).encode()[:60000])
    os._exit(0)


def _collect(rfd: int, status: int, timeout: int) -> tuple[str, str]:
    """The outcome of a child that has ended with ``status``; its result (under the
    pipe's 64 KiB, so the child never blocked writing it) is still in the pipe."""
    chunks = []
    while True:
        b = os.read(rfd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(rfd)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGALRM:
            return "crash", f"timeout after {timeout} s"
        return "crash", f"killed by signal {signal.Signals(sig).name}"
    try:
        kind, detail = json.loads(b"".join(chunks))
    except (ValueError, TypeError):
        return "crash", f"no result (exit status {os.WEXITSTATUS(status)})"
    return kind, detail


def run_cases(
    cases,
    mem_bytes: int,
    timeout: int,
    jobs: int = 1,
    log=None,
    progress: Callable[[int], None] | None = None,
) -> Tally:
    """Run every case in a forked child, ``jobs`` at a time; returns the tally."""
    tally = Tally()
    t0 = time.perf_counter()
    running: dict[int, tuple[Case, int, str]] = {}
    root = tempfile.mkdtemp(prefix="fault-campaign-")
    done = 0

    def reap_one() -> None:
        nonlocal done
        pid, status = os.wait()
        case, rfd, work = running.pop(pid)
        kind, detail = _collect(rfd, status, timeout)
        shutil.rmtree(work, ignore_errors=True)
        tally.add(case.target, kind, case.name, detail)
        if log is not None:
            log.write(json.dumps([case.target, case.name, kind, detail]) + "\n")
        done += 1
        if progress is not None:
            progress(done)

    for case in cases:
        while len(running) >= jobs:
            reap_one()
        work = tempfile.mkdtemp(dir=root)
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _child(case, mem_bytes, timeout, wfd, work)
        os.close(wfd)
        running[pid] = (case, rfd, work)
    while running:
        reap_one()
    shutil.rmtree(root, ignore_errors=True)
    tally.wall = time.perf_counter() - t0
    return tally


def table(tally: Tally) -> str:
    """The per-target table, Markdown."""
    cols = ("cases",) + OUTCOMES
    head = "| target | " + " | ".join(cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    total: Counter = Counter()
    for target in sorted(tally.counts):
        c = tally.counts[target]
        total.update(c)
        n = sum(c.values())
        lines.append(f"| {target} | {n} | " + " | ".join(str(c[k]) for k in OUTCOMES) + " |")
    n = sum(total.values())
    lines.append(f"| **all** | {n} | " + " | ".join(str(total[k]) for k in OUTCOMES) + " |")
    return "\n".join(lines)
