"""A fault campaign: thousands of damaged inputs thrown at barenet's readers and its
command line, each case under a memory cap and a time limit, every outcome counted.

    python benchmarks/fault_campaign.py [--cases 10000] [--seed 0] [--jobs 2]
        [--mem-gb 4] [--timeout 10] [--log cases.jsonl] [--json summary.json]

Targets: model files (safetensors and npz), IDX files (raw and gzip), Kaggle CSVs,
image folders and command lines (see ``campaign/*.py`` for what each damages and how
the verdict is reached). Each case runs in a child forked from this warm process,
with ``RLIMIT_AS`` at ``--mem-gb`` and an alarm at ``--timeout`` seconds; the table
counts, per target, valid inputs read correctly (ok), clean errors, valid inputs
refused, errors without a clear message, crashes (tracebacks, foreign exceptions,
MemoryError, signals, timeouts), damaged input accepted (garbage) and input silently
lost. Run it with another barenet first on ``PYTHONPATH`` to compare versions; the
cases depend only on ``--seed``. Exit status 1 if any crash, garbage or loss.
"""

from __future__ import annotations

import os

# One thread everywhere, set before NumPy loads: children are forked from this process.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ["BARENET_NUM_THREADS"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from campaign import cli_args, csv_files, folders, idx_files, model_files  # noqa: E402
from campaign.harness import OUTCOMES, run_cases, table  # noqa: E402

SHARES = {"model files": 0.30, "IDX files": 0.20, "Kaggle CSVs": 0.25, "image folders": 0.12,
          "command lines": 0.13}  # fmt: skip


def _warm_up() -> None:
    """Import in the parent what the cases use, so no child pays for it."""
    import matplotlib.pyplot  # noqa: F401
    from PIL import Image  # noqa: F401

    import barenet
    import barenet.cli

    barenet.cli.build_parser()  # imports every sub-command
    import barenet.train  # noqa: F401


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=10_000, help="cases in all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="children running at once")
    p.add_argument("--mem-gb", type=float, default=4.0, help="address-space cap per case")
    p.add_argument("--timeout", type=int, default=10, help="seconds per case")
    p.add_argument("--targets", default=",".join(SHARES), help="comma-separated targets")
    p.add_argument("--log", type=Path, help="one JSON line per case")
    p.add_argument("--json", type=Path, help="the counts as JSON")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    _warm_up()
    import barenet

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - set(SHARES))
    if unknown:
        p.error(f"unknown targets {unknown}; known: {list(SHARES)}")
    total = sum(SHARES[t] for t in targets)
    counts = {t: int(args.cases * SHARES[t] / total) for t in targets}
    for t in targets[: args.cases - sum(counts.values())]:  # the remainder, one each
        counts[t] += 1
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="fault-fixtures-"))
    t0 = time.perf_counter()
    cases = []
    for t in SHARES:  # fixed order: the same seed gives the same cases
        r = random.Random(rng.random())
        if t not in targets:
            continue
        if t == "model files":
            (tmp / "models").mkdir()
            cases += model_files.cases(r, counts[t], model_files.base_files(tmp / "models"))
        elif t == "IDX files":
            cases += idx_files.cases(r, counts[t])
        elif t == "Kaggle CSVs":
            cases += csv_files.cases(r, counts[t])
        elif t == "image folders":
            cases += folders.cases(r, counts[t])
        else:
            (tmp / "cli").mkdir()
            cases += cli_args.cases(r, counts[t], cli_args.fixtures(tmp / "cli"))
    random.Random(args.seed).shuffle(cases)  # mix slow and fast cases across the run
    made = time.perf_counter() - t0

    def progress(done: int) -> None:
        if not args.quiet and (done % 500 == 0 or done == len(cases)):
            rate = done / max(time.perf_counter() - t0 - made, 1e-9)
            print(f"  {done}/{len(cases)} cases, {rate:.1f}/s", file=sys.stderr, flush=True)

    sys.stdout.flush()
    sys.stderr.flush()
    log = open(args.log, "w", encoding="utf-8") if args.log else None  # noqa: SIM115 - closed below
    try:
        tally = run_cases(
            cases, int(args.mem_gb * 2**30), args.timeout, args.jobs, log=log, progress=progress
        )
    finally:
        if log is not None:
            log.close()
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"barenet {barenet.__version__} from {Path(barenet.__file__).parent}; seed {args.seed}; "
        f"{len(cases)} cases in {tally.wall:.0f} s ({args.jobs} at a time, "
        f"cap {args.mem_gb:g} GB, {args.timeout} s each)\n"
    )
    print(table(tally))
    for (target, kind), examples in sorted(tally.examples.items()):
        if kind in ("crash", "garbage", "loss", "refused", "unclear") and examples:
            print(f"\n{target}, {kind} (first {len(examples)}):")
            for e in examples:
                print(f"  - {e}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {t: {k: c[k] for k in OUTCOMES} for t, c in tally.counts.items()}, indent=1
            ),
            encoding="utf-8",
        )
    bad = sum(c[k] for c in tally.counts.values() for k in ("crash", "garbage", "loss"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
