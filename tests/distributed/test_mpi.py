"""Data-parallel training over MPI.

The tests start ``mpiexec -n 2`` themselves (with a timeout, in their own process
group) and are skipped where mpiexec or mpi4py is missing. The sharding arithmetic
is also checked in this process, without MPI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from barenet.data import DataLoader
from barenet.distributed import ShardedLoader, shard_bounds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROGRAMS = HERE / "mpi_programs.py"


def _mpiexec() -> str | None:
    here = Path(sys.executable).parent / "mpiexec"  # the one pip's mpich installs
    return str(here) if here.exists() else shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(
    _mpiexec() is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpiexec and mpi4py (pip install barenet[mpi])",
)


def run_mpi(n: int, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """``mpiexec -n N python ARGS``, one thread per rank; killed with its ranks on timeout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(HERE)]))
    env.update(BARENET_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [_mpiexec(), "-n", str(n), sys.executable, *args]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"mpiexec -n {n} {' '.join(args)} hung for {timeout} s")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


class _Rank:
    """Stands in for a communicator of ``size`` ranks (no messages needed here)."""

    def __init__(self, rank: int, size: int):
        self.rank, self.size = rank, size

    def broadcast_int(self, value: int, root: int = 0) -> int:
        return value


def test_shards_are_disjoint_pieces_of_the_same_global_batches():
    x, y = np.arange(23.0)[:, None], np.arange(23)
    whole = DataLoader(x, y, 5, seed=4)
    shards = [ShardedLoader(x, y, 5, _Rank(r, 2), seed=4) for r in range(2)]
    assert [len(s) for s in shards] == [len(whole)] * 2 == [5, 5]  # last batch: 3 samples
    for epoch_batches in zip(whole, *shards):
        (_, yw), (_, y0), (_, y1) = epoch_batches
        np.testing.assert_array_equal(np.concatenate([y0, y1]), yw)
    assert shards[0].local_weight == 2 / 3 and shards[1].local_weight == 1 / 3


def test_a_last_batch_smaller_than_the_ranks_is_dropped():
    x, y = np.zeros((21, 1)), np.zeros(21)
    assert len(ShardedLoader(x, y, 5, _Rank(0, 2))) == 4  # 20 + 1: the 1 cannot be split
    assert [shard_bounds(7, r, 3) for r in range(3)] == [(0, 3), (3, 5), (5, 7)]
    with pytest.raises(ValueError, match="global batch"):
        ShardedLoader(x, y, 2, _Rank(0, 3))


class _Twin(_Rank):
    """Two ranks whose other rank holds exactly this rank's numbers."""

    def __init__(self):
        super().__init__(0, 2)

    def allreduce_sum_(self, buf):
        buf *= 2
        return buf


def test_optimizer_wrapper_steps_with_the_summed_gradient_and_delegates():
    import barenet as bn
    from barenet import optim
    from barenet.distributed import DistributedOptimizer, ShardedLoss

    nets = [bn.Linear(3, 2) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    x, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 1, 0])
    plain = optim.Adam(nets[0].parameters(), lr=0.1)
    loss = ShardedLoss(bn.SoftmaxCrossEntropy())
    wrapped = DistributedOptimizer(optim.Adam(nets[1].parameters(), lr=0.1), _Twin(), loss=loss)
    for net, opt, fn in ((nets[0], plain, bn.SoftmaxCrossEntropy()), (nets[1], wrapped, loss)):
        value = fn(net(x.astype(np.float32)), y)
        net.backward(fn.backward())
        opt.step()
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert wrapped.global_stats[2] == 8 and wrapped.global_stats[0] == 2 * 4 * value
    assert wrapped.nbytes == (2 * 3 + 2 + 3) * 4  # float32 gradients and three statistics
    wrapped.lr = 0.5
    assert wrapped.optimizer.lr == 0.5 and wrapped.state_dict()["param_groups"][0]["lr"] == 0.5


def _one_process(batchnorm: bool) -> dict:
    sys.path.insert(0, str(HERE))
    try:
        import mpi_programs
    finally:
        sys.path.remove(str(HERE))
    return {k: np.asarray(v) for k, v in mpi_programs.train(None, batchnorm).state_dict().items()}


def _ranks(out: Path, n: int) -> list[dict]:
    return [dict(np.load(out / f"rank-{r}.npz")) for r in range(n)]


@needs_mpi
def test_two_ranks_give_the_parameters_of_one_process(tmp_path):
    """Global batch 15 (shards of 8 and 7), 20 steps of SGD with momentum, float64."""
    res = run_mpi(2, [str(PROGRAMS), "equivalence", str(tmp_path)])
    assert res.returncode == 0, res.stderr
    one = _one_process(batchnorm=False)
    rank0, rank1 = _ranks(tmp_path, 2)
    for name, want in one.items():
        assert rank0[name].dtype == np.float64
        np.testing.assert_array_equal(rank0[name], rank1[name])  # identical on every rank
        rel = np.abs(rank0[name] - want).max() / np.abs(want).max()
        assert rel < 1e-10, (name, rel)


@needs_mpi
def test_batchnorm_statistics_are_averaged_and_differ_from_one_process(tmp_path):
    res = run_mpi(2, [str(PROGRAMS), "equivalence", str(tmp_path), "--batchnorm"])
    assert res.returncode == 0, res.stderr
    one = _one_process(batchnorm=True)
    rank0, rank1 = _ranks(tmp_path, 2)
    for name in one:
        np.testing.assert_array_equal(rank0[name], rank1[name])
    # Each rank normalises with its own shard's statistics: not the whole batch's.
    diff = np.abs(rank0["1.running_var"] - one["1.running_var"]).max()
    assert diff > 1e-6


@needs_mpi
def test_an_error_on_one_rank_ends_every_rank_with_its_message():
    res = run_mpi(2, [str(PROGRAMS), "fail"], timeout=60)
    assert res.returncode != 0
    assert "mpi_programs: error on rank 1 of 2: planned failure on one rank" in res.stderr


def _metrics(run_dir: Path) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k != "wall_time_s"}


@needs_mpi
def test_cli_train_on_two_ranks_resumes_as_in_one_process(tmp_path):
    """``mpiexec -n 2 barenet train``: rank 0 alone prints and writes; 2 epochs then
    ``--resume`` to 3 end where 3 epochs in one go end."""
    args = ["-m", "barenet", "train", "mlp", "--data", "digits", "--limit-train", "400"]
    args += ["--batch-size", "32", "--no-plots", "--seed", "1"]
    whole = run_mpi(2, [*args, "--epochs", "3", "--out", str(tmp_path / "whole")])
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.count("test accuracy") == 1 and whole.stdout.count("epoch 3 ") == 1
    part = run_mpi(2, [*args, "--epochs", "2", "--out", str(tmp_path / "part"), "--quiet"])
    assert part.returncode == 0 and part.stdout == "", part.stderr
    resumed = run_mpi(2, [*args, "--epochs", "3", "--out", str(tmp_path / "part"), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert _metrics(tmp_path / "part") == _metrics(tmp_path / "whole")
    history = json.loads((tmp_path / "whole" / "history.json").read_text())
    assert len(history["steps"]) == 3 * 12  # 360 training images in global batches of 32


@needs_mpi
def test_cli_error_on_every_rank_is_one_message_each_and_no_hang(tmp_path):
    res = run_mpi(2, ["-m", "barenet", "train", "mlp", "--data", "nope", "--out", str(tmp_path)])
    assert res.returncode != 0
    assert "barenet train: error on rank" in res.stderr and "nope" in res.stderr


@needs_mpi
def test_cli_divergence_under_mpi_ends_the_job_with_the_divergence_code(tmp_path):
    args = ["-m", "barenet", "train", "mlp", "--data", "digits", "--optimizer", "sgd"]
    args += ["--lr", "1e6", "--limit-train", "300", "--no-plots", "--quiet", "--out", str(tmp_path)]
    res = run_mpi(2, args)
    assert res.returncode == 3  # the CLI's code for a diverged run
    assert "training diverged" in res.stderr
