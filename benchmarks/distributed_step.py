"""Data-parallel training step of ``cnn-deep``: compute against allreduce, measured at
N = 1 and 2 processes on this machine, projected to N machines on a network.

    python benchmarks/distributed_step.py [--batch 64] [--steps 20] [--ranks 1,2]
        [--threads T] [--gbits 10] [--latency-us 50] [--project 8,32] [--json PATH]

Each N runs as ``mpiexec -n N python benchmarks/distributed_step.py --worker``: the
global batch (random 1x28x28 images, float32) is sharded over the ranks, each rank
runs forward, loss and backward on its shard, then
:class:`barenet.distributed.DistributedOptimizer` sums the flat gradient buffer with
one allreduce and takes the Adam step. The cores are shared out: each of the N ranks
gets ``cores // N`` threads. Per step, *allreduce* is the time inside the allreduce
(rank 0's, after a barrier), *wait* the barrier (rank 0 waiting for a slower rank),
*compute* everything else (forward, loss, backward, packing, Adam).
Medians over the timed steps, after three warm-up steps.

The projection is a model, not a measurement: N machines like this one, one process
each, a ring allreduce of S bytes over a network of bandwidth W and per-message
latency a,

    T_allreduce(N) = 2 (N - 1) / N · S / W + 2 (N - 1) · a

with no overlap of communication and computation. Strong scaling (the global batch
B fixed, B / N per machine): T(N) = t_compute(B) / N + T_allreduce(N), assuming the
compute time shrinks in proportion to the local batch (optimistic for small local
batches). Weak scaling (B per machine, N·B in all): T(N) = t_compute(B) +
T_allreduce(N). Speed-up = images per second at N / images per second at N = 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"  # the one pip's mpich installs
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if not found:
        sys.exit("distributed_step: mpiexec not found (pip install barenet[mpi])")
    return found


def worker(batch: int, steps: int) -> None:
    import numpy as np

    import barenet as bn
    from barenet import distributed, optim
    from barenet.distributed import Communicator, DistributedOptimizer, shard_bounds
    from barenet.models import build_model

    class TimedComm(Communicator):
        """Waits for every rank before the allreduce, so that the allreduce time is the
        transfer alone and waiting for a slower rank is counted apart."""

        wait_s = 0.0

        def allreduce_sum_(self, buf):
            t0 = time.perf_counter()
            self.barrier()
            self.wait_s = time.perf_counter() - t0
            return super().allreduce_sum_(buf)

    comm = TimedComm()
    bn.seed(0)
    model = build_model("cnn-deep", (1, 28, 28), 10)
    model.needs_input_grad = False
    loss_fn = distributed.ShardedLoss(bn.SoftmaxCrossEntropy())
    opt = DistributedOptimizer(optim.Adam(model.parameters(), lr=1e-3), comm, loss=loss_fn)
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    lo, hi = shard_bounds(batch, comm.rank, comm.size)
    xs, ys = x[lo:hi], y[lo:hi]
    model.train()
    compute, reduce, wait = [], [], []
    for i in range(steps + 3):
        comm.barrier()
        t0 = time.perf_counter()
        loss_fn(model(xs), ys)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
        total = time.perf_counter() - t0
        if i >= 3:
            reduce.append(opt.allreduce_s - comm.wait_s)
            wait.append(comm.wait_s)
            compute.append(total - opt.allreduce_s)
    if comm.rank == 0:
        print(
            json.dumps(
                {
                    "ranks": comm.size,
                    "threads_per_rank": int(os.environ.get("BARENET_NUM_THREADS", "0")),
                    "batch": batch,
                    "local_batch": hi - lo,
                    "compute_s": statistics.median(compute),
                    "allreduce_s": statistics.median(reduce),
                    "wait_s": statistics.median(wait),
                    "bytes": opt.nbytes,
                    "parameters": model.num_parameters(),
                }
            )
        )


def measure(n: int, batch: int, steps: int, threads: int | None = None) -> dict:
    threads = threads or max(1, (os.cpu_count() or 1) // n)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    for var in ("BARENET_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [_mpiexec(), "-n", str(n), sys.executable, __file__, "--worker"]
    cmd += ["--batch", str(batch), "--steps", str(steps)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"distributed_step: N={n} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ring_allreduce_s(n: int, nbytes: int, gbits: float, latency_s: float) -> float:
    """Modelled time of a ring allreduce of ``nbytes`` over ``n`` machines."""
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / (gbits * 1e9 / 8) + 2 * (n - 1) * latency_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64, help="global batch")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument(
        "--threads", type=int, default=None, help="threads per rank (default: cores // N)"
    )
    ap.add_argument("--gbits", type=float, default=10.0, help="network bandwidth, Gbit/s")
    ap.add_argument("--latency-us", type=float, default=50.0, help="per-message latency")
    ap.add_argument("--project", default="8,32", help="machine counts to project to")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.batch, args.steps)
        return
    load = os.getloadavg()[0]
    rows = [measure(int(n), args.batch, args.steps, args.threads) for n in args.ranks.split(",")]
    print(f"cnn-deep, global batch {args.batch}, float32, medians of {args.steps} steps")
    loads = f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"{loads} on {os.cpu_count()} cores")
    if max(load, os.getloadavg()[0]) > (os.cpu_count() or 1):
        print("warning: the machine was busy; the times are not those of an idle machine")
    print(
        "| N | threads/rank | local batch | compute ms | wait ms | allreduce ms | step ms "
        "| bytes/allreduce |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        step = r["compute_s"] + r["wait_s"] + r["allreduce_s"]
        print(
            f"| {r['ranks']} | {r['threads_per_rank']} | {r['local_batch']} | "
            f"{1e3 * r['compute_s']:.1f} | {1e3 * r['wait_s']:.2f} | "
            f"{1e3 * r['allreduce_s']:.3f} | {1e3 * step:.1f} | {r['bytes']:,} |"
        )
    base = rows[0]
    t1, nbytes, lat = base["compute_s"], base["bytes"], args.latency_us * 1e-6
    print(
        f"\nProjection (model, not measured): ring allreduce of {nbytes:,} B at "
        f"{args.gbits:g} Gbit/s, {args.latency_us:g} us latency; compute from N = 1 "
        f"({1e3 * t1:.1f} ms per batch of {args.batch})"
    )
    print("| machines | allreduce ms | strong: step ms | strong speed-up | weak speed-up |")
    print("|---|---|---|---|---|")
    projection = []
    for n in [int(k) for k in args.project.split(",")]:
        ar = ring_allreduce_s(n, nbytes, args.gbits, lat)
        strong = t1 / n + ar
        weak = n * t1 / (t1 + ar)
        projection.append(
            {
                "machines": n,
                "allreduce_s": ar,
                "strong_step_s": strong,
                "strong_speedup": t1 / strong,
                "weak_speedup": weak,
            }
        )
        print(f"| {n} | {1e3 * ar:.3f} | {1e3 * strong:.2f} | {t1 / strong:.1f} | {weak:.1f} |")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"measured": rows, "projection": projection}, indent=1)
        )


if __name__ == "__main__":
    main()
