"""Process-wide settings (barenet.runtime): each takes effect when it should, whatever the
import order, and each opt-out works. Most run in a fresh interpreter, since they
change the process."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys

import numpy as np
import pytest

import barenet as bn
from barenet import runtime

LINUX = sys.platform.startswith("linux")

FAULTS = """
import resource, sys
import numpy as np
import barenet
from barenet.runtime import keep_freed_memory
on = keep_freed_memory()
for _ in range(3):  # warm up: the first big blocks are faulted in either way
    a = np.ones(4 << 20); del a
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    a = np.ones(4 << 20)  # 32 MB, allocated and freed again and again
    del a
print(on, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""

# After a threaded GEMM and a short pause, the state of every other thread: "S" asleep,
# "R" running (an OpenBLAS thread spinning while it waits for work).
THREAD_STATES = """
import os, threading, time
import barenet
import numpy as np
a = np.ones((400, 400), dtype=np.float32)
for _ in range(3):
    a @ a
time.sleep(0.02)
me = threading.get_native_id()
states = []
for tid in os.listdir("/proc/self/task"):
    if int(tid) != me:
        with open(f"/proc/self/task/{tid}/stat") as f:
            states.append(f.read().rsplit(")", 1)[1].split()[0])
print(os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "".join(sorted(states)))
"""


def _child(code: str, **env_extra) -> list[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MALLOC_", "BARENET_", "OPENBLAS_THREAD_TIMEOUT"))
    }
    # NumPy asks for transparent huge pages on big arrays; where the kernel grants them, a
    # fresh 32 MB block faults in 16 pages instead of 8,192 and the count says nothing
    # about reuse. Pages of 4 KB keep the comparison about malloc alone.
    env["NUMPY_MADVISE_HUGEPAGE"] = "0"
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "2"
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


@pytest.mark.skipif(not LINUX, reason="glibc's mallopt")
def test_importing_barenet_keeps_freed_memory_and_the_environment_can_say_no():
    on, faults = _child(FAULTS)
    off, faults_off = _child(FAULTS, BARENET_KEEP_FREED_MEMORY="0")
    user, _ = _child(FAULTS, MALLOC_TRIM_THRESHOLD_="131072")
    assert on == "True" and off == "False" and user == "False"
    # 20 x 32 MB freshly mapped is ~160k faults; kept on the heap, almost none
    assert int(faults) < 1000 < int(faults_off)


def _openblas_pthreads() -> bool:
    from threadpoolctl import threadpool_info

    return any(
        d.get("internal_api") == "openblas" and d.get("threading_layer") == "pthreads"
        for d in threadpool_info()
    )


@pytest.mark.skipif(not LINUX or not _openblas_pthreads(), reason="OpenBLAS threads on Linux")
def test_openblas_threads_sleep_when_idle_even_when_numpy_came_first():
    numpy_first = THREAD_STATES.replace(
        "import barenet\nimport numpy as np", "import numpy as np\nimport barenet"
    )
    assert numpy_first != THREAD_STATES
    for code in (THREAD_STATES, numpy_first):
        timeout, states = _child(code)
        assert timeout == runtime.BLAS_THREAD_TIMEOUT and set(states) == {"S"}, states
    # the opt-out keeps OpenBLAS's own timeout: its idle thread still spins
    _, states = _child(numpy_first, BARENET_BLAS_THREAD_TIMEOUT="0")
    assert "R" in states
    timeout, _ = _child(numpy_first, OPENBLAS_THREAD_TIMEOUT="9")  # the user's value wins
    assert timeout == "9"


def test_seed_also_seeds_numpys_global_generator_unless_told_not_to(monkeypatch):
    bn.seed(5)
    a = np.random.random(3)
    bn.seed(5)
    np.testing.assert_array_equal(np.random.random(3), a)
    monkeypatch.setenv("BARENET_SEED_NUMPY", "0")
    np.random.seed(1)
    b = np.random.random(3)
    np.random.seed(1)
    bn.seed(5)  # barenet's own generator only
    np.testing.assert_array_equal(np.random.random(3), b)


def test_pinned_threads_set_and_restore_every_thread_variable(monkeypatch):
    for var in runtime.THREAD_VARS:
        monkeypatch.setenv(var, "7")
    with runtime.pinned_threads(1):
        assert all(os.environ[v] == "1" for v in runtime.THREAD_VARS)
    assert all(os.environ[v] == "7" for v in runtime.THREAD_VARS)


def _hooks_ran(queue):
    queue.put(list(_RAN))


_RAN: list[str] = []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_fork_hooks_run_in_the_child():
    hook = runtime.at_fork_in_child(lambda: _RAN.append("child"))
    try:
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        proc = ctx.Process(target=_hooks_ran, args=(queue,))
        proc.start()
        ran = queue.get(timeout=30)
        proc.join(timeout=30)
        assert ran == ["child"] and _RAN == []  # in the child, not here
    finally:
        runtime.fork_hooks.remove(hook)
