"""The Ray executor: every run one plain ``ray.remote`` task.

Each task calls :func:`barenet.experiments.executors.task.execute` — the same body
as the local pool — with ``num_cpus=cpus_per_run`` and its BLAS pinned to as many
threads. Early stopping, if asked, is the run's own (``patience``), so no Ray Tune
scheduler is needed.

The run folders are written by the tasks, wherever they run: the sweep folder
must be a path that every node of the cluster can read and write under the same
name (a shared file system such as NFS), and barenet must be importable on every
node. Without ``address``, a local Ray is started for the sweep with its
temporary folder (logs, sockets, spill files) in a fresh folder under the
system's temporary directory, removed again when the sweep ends, and logs
rotated at 16 MB; a cluster started with ``ray start`` keeps its own
(``ray start --head --temp-dir DIR``).

A worker that dies is retried by Ray (``max_retries``); the new attempt resumes
from the run's last checkpoint. A run whose retries are exhausted, or that the
cluster loses otherwise, is recorded as failed with the cluster's reason. Ctrl-C
cancels the tasks in flight the way Ctrl-C stops a local run: each saves its
checkpoint, and the next sweep, under either executor, continues from there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Sequence

from .task import RunFn, RunTask, execute, record_failure

__all__ = ["RayExecutor", "import_ray", "check_reachable"]

_CANCEL_WAIT_S = 60.0  # how long Ctrl-C waits for cancelled runs to save their checkpoints
# Ray puts Unix sockets at <temp>/session_<date>_<pid>/sockets/plasma_store (62 characters
# after <temp>), and a socket path has at most 107: longer temporary folders fail to start.
_MAX_TEMP_CHARS = 107 - 62


def local_temp_dir() -> str:
    """A fresh folder for a local Ray's session files: under the system's temporary
    directory, or under ``/tmp`` when that path is too long for Ray's sockets."""
    parent = tempfile.gettempdir()
    if len(os.path.join(parent, "barenet-ray-12345678")) > _MAX_TEMP_CHARS and os.path.isdir(
        "/tmp"
    ):
        parent = "/tmp"
    return tempfile.mkdtemp(prefix="barenet-ray-", dir=parent)


def import_ray():
    """``ray``, or an ``ImportError`` naming the extra to install."""
    try:
        import ray  # optional engine: Ray, barenet[ray]
    except ImportError:
        raise ImportError("--executor ray needs Ray: pip install barenet[ray]") from None
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """``ConnectionError`` in one line when nothing listens at ``HOST:PORT``
    (``ray://HOST:PORT`` too). Ray itself would retry for minutes."""
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(
            f"--address must be 'auto', 'HOST:PORT' or 'ray://HOST:PORT', got {address!r}"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConnectionError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); start one "
            "with `ray start --head` or check the address"
        ) from None


class RayExecutor:
    """Runs each task as a Ray task on the cluster at ``address`` (``None``: a local
    Ray for the duration of :meth:`run`; already connected: that connection)."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_run: int = 1, max_retries: int = 2):
        self.address, self.cpus_per_run, self.max_retries = address, cpus_per_run, max_retries

    def run(self, run_fn: RunFn | str, tasks: Sequence[RunTask], finish) -> None:
        ray = import_ray()
        if not tasks:
            return
        with self.session():
            remote = ray.remote(
                num_cpus=self.cpus_per_run, max_retries=self.max_retries, retry_exceptions=False
            )(execute)
            refs = {
                remote.remote(run_fn, t.settings, t.run_dir, self.cpus_per_run): t for t in tasks
            }
            try:
                while refs:
                    ready, _ = ray.wait(list(refs), num_returns=1)
                    for ref in ready:
                        t = refs.pop(ref)
                        finish(t, self._result(ray, ref, t))
            except KeyboardInterrupt:
                self._cancel(ray, list(refs))
                raise

    def _result(self, ray, ref, t: RunTask) -> dict:
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker or its node died for good
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            err = f"{type(exc).__name__}: {first} (after {self.max_retries} retries)"
            record_failure(t.run_dir, f"{err}\n\n{exc}\n")
            return {"status": "failed", "error": err}

    @staticmethod
    def _cancel(ray, refs: list) -> None:
        """Interrupt the runs in flight (each saves its checkpoint) and drop the queued."""
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=False)
        with contextlib.suppress(Exception):
            ray.wait(refs, num_returns=len(refs), timeout=_CANCEL_WAIT_S)

    @contextlib.contextmanager
    def session(self):
        """Connected to the cluster (a local Ray started) for the body; runs inside it
        reuse the connection, so several sweeps pay for one start."""
        ray = import_ray()
        if ray.is_initialized():  # the caller connected: use that, leave it as it was
            yield
            return
        quiet = {"logging_level": logging.WARNING, "configure_logging": True}
        if self.address is None:
            temp = local_temp_dir()
            env = {"RAY_ROTATION_MAX_BYTES": str(16 << 20), "RAY_ROTATION_BACKUP_COUNT": "1"}
            old = {k: os.environ.get(k) for k in env}
            os.environ.update({k: v for k, v in env.items() if old[k] is None})
            try:
                ray.init(include_dashboard=False, _temp_dir=temp, **quiet)
                try:
                    yield
                finally:
                    ray.shutdown()
            finally:
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                shutil.rmtree(temp, ignore_errors=True)
            return
        if self.address != "auto":
            check_reachable(self.address)
        try:
            ray.init(address=self.address, **quiet)
        except ConnectionError as exc:
            raise ConnectionError(
                f"cannot reach a Ray cluster at {self.address}: {str(exc).splitlines()[0]}"
            ) from None
        try:
            yield
        finally:
            ray.shutdown()
