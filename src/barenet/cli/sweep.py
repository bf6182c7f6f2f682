"""``barenet sweep CONFIG.toml [--out DIR] [--workers N] [--quick]``: run a grid of
training runs (see :mod:`barenet.experiments.grid` for the file), then write the
results table and figures. Rerunning the same command resumes: finished runs are
skipped, failed or unfinished ones run again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import int_arg, out_dir_arg


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int_arg(1, 1024),
        default=None,
        help="worker processes (default: number of cores; 1 = in this process)",
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
        help="override a base setting, e.g. --set epochs=2 --set limit_train=500, "
        "or the seeds: --set seeds=[0]",
    )


def parse_overrides(items: list[str]) -> dict:
    """``["epochs=2", "model_args.dropout=0.5"]`` -> nested dict; values parsed as JSON
    when they parse, else kept as strings."""
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _run(args: argparse.Namespace) -> int:
    from ..experiments import load_config, run_sweep
    from ..experiments.studies import finish_sweep

    cfg = load_config(args.config)
    out = Path(args.out) if args.out else Path("runs") / str(cfg.get("name"))
    results = run_sweep(
        cfg, out, workers=args.workers, quick=args.quick, overrides=parse_overrides(args.set)
    )
    files = finish_sweep(out, figures=not args.no_figures)
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
