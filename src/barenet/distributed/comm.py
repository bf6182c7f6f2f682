"""The MPI world, reached through mpi4py only when a launcher started several processes.

``mpiexec -n N barenet train ...`` (or ``python -m mpi4py -m barenet ...``) starts N
copies of the command; the launcher tells each its rank through the environment.
:func:`launched_size` reads that without importing mpi4py, so a plain
``barenet train`` never loads MPI. :func:`init` returns a :class:`Communicator`
over ``MPI.COMM_WORLD`` when there is more than one process.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator

import numpy as np

from .. import runtime
from .parallel import data_parallel

ABORT_GRACE_S = 0.3  # seconds a message printed before an abort has to reach the launcher

__all__ = ["Communicator", "abort_on_error", "init", "launched_size", "share_cores"]

# Set by MPICH/Intel MPI (PMI), Open MPI, and PMIx launchers for every process.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")
_LOCAL_SIZE_VARS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")
_THREAD_VARS = ("BARENET_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def launched_size() -> int:
    """How many processes the MPI launcher started (1 when not under mpiexec)."""
    if "mpi4py.MPI" in sys.modules:  # python -m mpi4py: MPI is up already
        return sys.modules["mpi4py.MPI"].COMM_WORLD.Get_size()
    for var in _SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 1


def _mpi():
    try:
        from mpi4py import MPI  # optional engine: mpi4py, barenet[mpi]
    except ImportError:
        raise ImportError(
            "data-parallel training needs mpi4py and an MPI: pip install barenet[mpi]"
        ) from None
    return MPI


class Communicator:
    """The few collectives data-parallel training needs, on NumPy buffers (no pickle).

    ``rank`` (0 … ``size`` - 1) and ``size``; every method is collective: all ranks
    call it, in the same order, with buffers of the same shape and dtype."""

    def __init__(self, comm=None):
        mpi = _mpi()
        self._mpi = mpi
        self.comm = comm if comm is not None else mpi.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    def allreduce_sum_(self, buf: np.ndarray) -> np.ndarray:
        """Sum ``buf`` (contiguous) over all ranks, in place; returns it."""
        self.comm.Allreduce(self._mpi.IN_PLACE, buf, op=self._mpi.SUM)
        return buf

    def broadcast_(self, buf: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``buf`` on every rank with ``root``'s, in place; returns it."""
        self.comm.Bcast(buf, root=root)
        return buf

    def broadcast_int(self, value: int, root: int = 0) -> int:
        """``root``'s ``value`` on every rank."""
        return int(self.broadcast_(np.array([value], dtype=np.int64), root)[0])

    def barrier(self) -> None:
        self.comm.Barrier()

    def data_parallel(self, train, batch_size: int, optimizer, loss_fn, **loader_kw):
        """:func:`~barenet.distributed.data_parallel` over this communicator: how a
        training run that is handed one (``run_training(..., comm=comm)``) changes its
        loader, optimizer, loss and callbacks without importing this package."""
        return data_parallel(self, train, batch_size, optimizer, loss_fn, **loader_kw)

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now (never returns). The launcher forwards each
        rank's stderr through a pipe and stops forwarding when the abort kills the job,
        so a message printed just before can be lost: it gets ``ABORT_GRACE_S`` to get
        through first."""
        time.sleep(ABORT_GRACE_S)
        try:
            self.comm.Abort(code)
        finally:  # should MPI_Abort return (another rank's abort already under way)
            os._exit(code)


def share_cores() -> int | None:
    """Give each of the ranks on this machine an equal share of its cores.

    Unless a thread variable (``BARENET_NUM_THREADS``, ``OMP_NUM_THREADS``, …) is set,
    ``cores // ranks on this node`` becomes the thread count of barenet's kernels and
    of the BLAS, so that N ranks do not run N x cores threads. Returns the count set,
    or ``None`` when left alone (a variable set, or the local rank count unknown)."""
    if any(os.environ.get(v) for v in _THREAD_VARS):
        return None
    local = next((os.environ[v] for v in _LOCAL_SIZE_VARS if os.environ.get(v, "").isdigit()), None)
    if local is None:
        return None
    threads = max(1, (os.cpu_count() or 1) // max(1, int(local)))
    runtime.pin_process_threads(threads)  # a process-wide setting: see barenet.runtime
    return threads


def init() -> Communicator | None:
    """The world's :class:`Communicator` when launched as more than one process (each
    given its share of the cores: :func:`share_cores`), else ``None``.
    ``ImportError`` naming ``barenet[mpi]`` when mpi4py is missing."""
    if launched_size() <= 1:
        return None
    comm = Communicator()
    if comm.size <= 1:
        return None
    share_cores()
    return comm


@contextlib.contextmanager
def abort_on_error(
    comm: Communicator | None, prog: str = "barenet", exit_code=None
) -> Iterator[None]:
    """Turn an exception on one rank into the end of all ranks, with its message.

    Without it, the other ranks would wait forever in their next collective. The
    failing rank prints ``PROG: error on rank R of N: message`` on stderr and aborts
    the job with ``exit_code(exc)`` (default 1; 130 for Ctrl-C)."""
    if comm is None:
        yield
        return
    try:
        yield
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        print(f"{prog}: exit {exc.code} on rank {comm.rank} of {comm.size}", file=sys.stderr)
        sys.stderr.flush()
        comm.abort(exc.code if isinstance(exc.code, int) else 1)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted on rank {comm.rank} of {comm.size}", file=sys.stderr)
        sys.stderr.flush()
        comm.abort(130)
    except BaseException as exc:  # noqa: BLE001 - every error must end the whole job
        text = str(exc).strip() or type(exc).__name__
        print(f"{prog}: error on rank {comm.rank} of {comm.size}: {text}", file=sys.stderr)
        sys.stderr.flush()
        comm.abort(exit_code(exc) if exit_code else 1)
