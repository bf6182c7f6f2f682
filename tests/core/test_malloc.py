"""keep_freed_memory: once per process, glibc only, and the environment can say no."""

from __future__ import annotations

import subprocess
import sys

import pytest

from barenet.core import malloc

CHILD = """
import resource, sys
import numpy as np
from barenet.core.malloc import keep_freed_memory
on = keep_freed_memory()
for _ in range(3):  # warm up: the first big blocks are faulted in either way
    a = np.ones(4 << 20); del a
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    a = np.ones(4 << 20)  # 32 MB, allocated and freed again and again
    del a
print(on, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


def _child(env_extra):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    # NumPy asks for transparent huge pages on big arrays; where the kernel grants them, a
    # fresh 32 MB block faults in 16 pages instead of 8,192 and the count says nothing
    # about reuse. Pages of 4 KB keep the comparison about malloc alone.
    env["NUMPY_MADVISE_HUGEPAGE"] = "0"
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    on, faults = out.stdout.split()
    return on == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_blocks_are_reused_without_page_faults():
    on, faults = _child({})
    off, faults_off = _child({"BARENET_KEEP_FREED_MEMORY": "0"})
    assert on and not off
    # 20 x 32 MB freshly mapped is ~160k faults; kept on the heap, almost none
    assert faults < 1000 < faults_off


def test_user_tuning_of_malloc_wins(monkeypatch):
    monkeypatch.setattr(malloc, "_done", None)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert malloc.keep_freed_memory() is False
    monkeypatch.setattr(malloc, "_done", None)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv("BARENET_KEEP_FREED_MEMORY", "0")
    assert malloc.keep_freed_memory() is False
