"""``barenet study NAME --out DIR [--quick] [--workers N] [--executor {pool,ray}]``: run
one of the shipped studies (``barenet study --list``), or ``all`` of them, into
``DIR/NAME`` with its table and figures. ``--quick`` finishes each study within
minutes on two cores."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from ._common import out_dir_arg
from .sweep import add_common, executor_args, parse_overrides


def _run(args: argparse.Namespace) -> int:
    from ..experiments.executors import make_executor
    from ..experiments.studies import STUDIES, load_study, run_study
    from ..experiments.sweep import plan_sweep

    if args.list:
        for n in STUDIES:
            print(f"{n:18s} {load_study(n).get('title', '')}")
        return 0
    if not args.name:
        print(
            "barenet study: error: name a study (or 'all'); one of: "
            f"{', '.join(STUDIES)} (barenet study --list describes them)",
            file=sys.stderr,
        )
        return 2
    names = STUDIES if args.name == "all" else [args.name]
    executor = make_executor(**executor_args(args))
    overrides = parse_overrides(args.set, args.device)
    for n in names:  # unknown names and bad settings fail before anything runs
        plan_sweep(load_study(n), quick=args.quick, overrides=overrides)
    # One connection (one local Ray) for all the studies asked for.
    with getattr(executor, "session", contextlib.nullcontext)():
        for n in names:
            t0 = time.perf_counter()
            out = run_study(
                n,
                args.out,
                quick=args.quick,
                overrides=overrides,
                figures=not args.no_figures,
                executor=executor,
            )
            print(f"study {n}: {time.perf_counter() - t0:.1f} s -> {out}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "study", help="run a shipped study (sweep + table + figures)", description=__doc__
    )
    p.add_argument("name", nargs="?", help="study name, or 'all'")
    p.add_argument("--out", type=out_dir_arg, default="runs", help="parent folder of the study")
    p.add_argument("--list", action="store_true", help="list the studies and exit")
    add_common(p)
    p.set_defaults(func=_run)
