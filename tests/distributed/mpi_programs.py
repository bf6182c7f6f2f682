"""Programs the MPI tests start under ``mpiexec -n N`` (and once in one process).

``python mpi_programs.py equivalence OUT [--batchnorm]``: 20 steps of SGD with
momentum in float64 on a small CNN, data-parallel over the launched ranks; every
rank writes its parameters and BatchNorm statistics to ``OUT/rank-R.npz``.
``python mpi_programs.py fail``: rank 1 raises while rank 0 waits in an allreduce.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import barenet as bn
from barenet import distributed, optim
from barenet.train import fit

N_SAMPLES, BATCH, SEED = 300, 15, 3  # 20 global batches; shards of 8 and 7 samples on 2 ranks


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((N_SAMPLES, 1, 8, 8)), rng.integers(0, 10, N_SAMPLES)


def model(batchnorm: bool) -> bn.Module:
    bn.set_default_dtype(np.float64)
    bn.seed(1)
    layers = [bn.Conv2d(1, 4, 3, padding=1)]
    layers += [bn.BatchNorm2d(4)] if batchnorm else []
    layers += [bn.ReLU(), bn.MaxPool2d(2), bn.Flatten(), bn.Linear(4 * 4 * 4, 10)]
    return bn.Sequential(*layers)


def train(comm, batchnorm: bool) -> bn.Module:
    """One epoch of 20 steps; one process when ``comm`` is None."""
    x, y = data()
    net = model(batchnorm)
    loss_fn = bn.SoftmaxCrossEntropy()
    opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    if comm is None:
        fit(net, loss_fn, opt, (x, y), epochs=1, batch_size=BATCH, seed=SEED, verbose=False)
        return net
    loader = distributed.ShardedLoader(x, y, BATCH, comm, seed=SEED)
    opt, loss_fn, callbacks = distributed.distribute(comm, opt, loss_fn, loader)
    hist = fit(net, loss_fn, opt, loader, epochs=1, callbacks=callbacks, verbose=False)
    assert len(hist.steps) == 20, len(hist.steps)
    return net


def main(argv: list[str]) -> None:
    comm = distributed.init()
    with distributed.abort_on_error(comm, "mpi_programs"):
        if argv[0] == "equivalence":
            out = Path(argv[1])
            net = train(comm, "--batchnorm" in argv)
            rank = comm.rank if comm else 0
            np.savez(out / f"rank-{rank}.npz", **net.state_dict())
        elif argv[0] == "fail":
            if comm.rank == 1:
                raise ValueError("planned failure on one rank")
            comm.allreduce_sum_(np.zeros(4))  # rank 0 would wait here forever
        else:
            raise ValueError(f"unknown program {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
