"""``barenet sweep CONFIG.toml [--out DIR] [--workers N] [--quick] [--executor {pool,ray}]
[--address ADDR]``: run a grid of training runs (see :mod:`barenet.experiments.grid`
for the file), then write the results table and figures. Rerunning the same command
resumes, under either executor: finished runs are skipped, interrupted ones continue
from their checkpoints, failed ones run again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.checks import bounded_int
from ._common import add_device_arg, int_arg, out_dir_arg


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int_arg(1, 1024),
        default=None,
        help="worker processes (default: number of cores; 1 = in this process)",
    )
    p.add_argument(
        "--executor",
        choices=["pool", "ray"],
        default="pool",
        help="where the runs execute: a pool of processes here (default), or one Ray task "
        "per run (pip install barenet[ray]); the output folder must then be a path every "
        "node can read and write",
    )
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="Ray cluster: 'auto' (one started here with `ray start --head`) or HOST:PORT; "
        "default: a local Ray for this command only",
    )
    p.add_argument(
        "--cpus-per-run",
        type=int_arg(1, 1024),
        default=1,
        metavar="N",
        help="cores each run gets, its BLAS pinned to N threads (default 1)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="apply the config's [quick] overrides (small data, few epochs)",
    )
    p.add_argument("--no-figures", action="store_true", help="write the tables only")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override a setting, e.g. --set epochs=2 --set limit_train=500, or the "
        "seeds: --set seeds=[0]; a setting the grid varies gets new values "
        "(--set lr=[0.1,0.01]) or is fixed to one (--set lr=0.1); one that the [[runs]] "
        "entries set is refused",
    )
    add_device_arg(p)


def parse_overrides(items: list[str], device: str = "cpu") -> dict:
    """``["epochs=2", "model_args.dropout=0.5"]`` -> nested dict; values parsed as JSON
    when they parse, else kept as strings. A ``device`` other than the CPU is the
    ``device`` setting of every run."""
    out: dict = {} if device == "cpu" else {"device": device}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw, parse_int=bounded_int)
        except json.JSONDecodeError:
            value = raw
        except ValueError as exc:  # bounded_int
            raise ValueError(f"--set {key}: {exc}") from None
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def executor_args(args: argparse.Namespace) -> dict:
    """``make_executor``'s keywords from the flags, checked before anything runs."""
    if args.executor == "ray" and args.workers is not None:
        raise ValueError("--workers applies to --executor pool; Ray runs as many as fit")
    if args.executor == "pool" and args.address is not None:
        raise ValueError("--address needs --executor ray")
    if args.executor == "ray":
        # CLI start: the experiments load only when a sweep runs
        from ..experiments.executors.ray_cluster import import_ray

        import_ray()  # a missing Ray fails here, with the extra to install
    return {
        "kind": args.executor,
        "workers": args.workers,
        "address": args.address,
        "cpus_per_run": args.cpus_per_run,
    }


def _run(args: argparse.Namespace) -> int:
    # CLI start: the experiments load only when a sweep runs
    from ..experiments import executors, load_config, run_sweep, studies

    executor = executors.make_executor(**executor_args(args))
    cfg = load_config(args.config)
    out = Path(args.out) if args.out else Path("runs") / str(cfg.get("name"))
    results = run_sweep(
        cfg,
        out,
        quick=args.quick,
        overrides=parse_overrides(args.set, args.device),
        executor=executor,
    )
    files = studies.finish_sweep(out, figures=not args.no_figures)
    failed = [r for r in results if r["status"] == "failed"]
    print(
        f"{len(results) - len(failed)} of {len(results)} runs finished; "
        f"table {out / 'results.md'}, {len(files) - 3} figures in {out / 'figures'}"
    )
    return 1 if failed else 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="run a grid of training runs from a TOML file", description=__doc__
    )
    p.add_argument("config", help="sweep configuration (TOML)")
    p.add_argument(
        "--out", type=out_dir_arg, default=None, help="sweep folder (default: runs/<config name>)"
    )
    add_common(p)
    p.set_defaults(func=_run)
