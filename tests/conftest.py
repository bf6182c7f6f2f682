"""Fixtures shared by the whole suite: every test starts from float32 and a fixed seed,
and from the same process state however pytest was launched."""

from __future__ import annotations

import locale
import os

# Settings read from the environment change what barenet does (a traceback after every
# CLI error, one thread, no seeding of NumPy's generator, another data folder): the
# suite starts without any the caller happened to export, before barenet is imported,
# so that the children the tests start see none either. Tests of a setting set it.
for _name in [k for k in os.environ if k.startswith("BARENET_") and k != "BARENET_GPU_REPORT"]:
    del os.environ[_name]
# A proxy exported for the outside world must not stand between a test and the
# servers it starts on this machine (the drawing page, the browser's driver).
_local = "127.0.0.1,localhost,::1"
for _name in ("no_proxy", "NO_PROXY"):
    os.environ[_name] = ",".join(p for p in (os.environ.get(_name, ""), _local) if p)

# Text the tests write and read, theirs and their children's, is UTF-8 whatever locale
# the caller has (an ASCII one included): children run in Python's UTF-8 mode and this
# process takes a UTF-8 character type. (barenet's own files are UTF-8 in any locale;
# test_cli checks its output in an ASCII one.)
os.environ["PYTHONUTF8"] = "1"
if locale.getpreferredencoding(False).lower().replace("-", "") != "utf8":
    for _name in ("C.UTF-8", "C.utf8", "en_US.UTF-8"):
        try:
            locale.setlocale(locale.LC_CTYPE, _name)
            break
        except locale.Error:
            continue

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import barenet as bn  # noqa: E402
from launch import restore_sigint, set_default_sigint  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_globals():
    """Restore the default dtype and reseed barenet's generator around each test."""
    bn.set_default_dtype(np.float32)
    bn.seed(0)
    yield
    bn.set_default_dtype(np.float32)


@pytest.fixture(autouse=True)
def _signal_dispositions(request):
    """A test marked ``signals`` raises SIGINT in this process (or signals a child,
    which sets itself up: see launch.py): for its duration SIGINT has Python's Ctrl-C
    handler here and is unblocked, whatever pytest inherited (a script's background
    job starts with SIGINT ignored), and afterwards what was there before."""
    if request.node.get_closest_marker("signals") is None:
        yield
        return
    saved = set_default_sigint()
    try:
        yield
    finally:
        restore_sigint(saved)


@pytest.fixture
def f64():
    """Build layers in float64 for the duration of the test."""
    bn.set_default_dtype(np.float64)
    yield np.float64
