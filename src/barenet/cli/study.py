"""``barenet study NAME --out DIR [--quick] [--workers N] [--executor {pool,ray}]
[--data DATASET [--data-dir DIR]]``: run one of the shipped studies (``barenet study
--list``), or ``all`` of them, into ``DIR/NAME`` with its table and figures.
``--quick`` finishes each study within minutes on two cores. ``--data mnist --data-dir
DIR`` runs the image studies on another dataset than their Fashion-MNIST default (the
reports ran several on MNIST). A study that reproduces a report prints the report's
numbers beside its own."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from ._common import add_setting_args, out_dir_arg
from .sweep import add_common, executor_args, parse_overrides


def _run(args: argparse.Namespace) -> int:
    # CLI start: the experiments load only when a study runs
    from ..experiments import executors, reported, results, studies, sweep

    STUDIES, load_study = studies.STUDIES, studies.load_study
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
    if args.data_dir and not args.data:
        raise ValueError("--data-dir needs --data")
    executor = executors.make_executor(**executor_args(args))
    overrides = parse_overrides(args.set, args.device)
    if args.data:
        overrides.update(data=args.data, **({"data_dir": args.data_dir} if args.data_dir else {}))
    per_study = {}
    for n in names:  # unknown names and bad settings fail before anything runs
        is_sine = load_study(n).get("base", {}).get("data") == "sine"
        if args.data and is_sine and args.name != "all":
            raise ValueError(f"study {n} fits the sine curve; --data does not apply to it")
        per_study[n] = _without_data(overrides) if is_sine else overrides
        sweep.plan_sweep(load_study(n), quick=args.quick, overrides=per_study[n])
    # One connection (one local Ray) for all the studies asked for.
    with getattr(executor, "session", contextlib.nullcontext)():
        for n in names:
            t0 = time.perf_counter()
            out = studies.run_study(
                n,
                args.out,
                quick=args.quick,
                overrides=per_study[n],
                figures=not args.no_figures,
                executor=executor,
            )
            print(f"study {n}: {time.perf_counter() - t0:.1f} s -> {out}")
            for line in reported.reported_lines(results.load_sweep(out)):
                print(f"  {line}")
    return 0


def _without_data(overrides: dict) -> dict:
    return {k: v for k, v in overrides.items() if k not in ("data", "data_dir")}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "study", help="run a shipped study (sweep + table + figures)", description=__doc__
    )
    p.add_argument("name", nargs="?", help="study name, or 'all'")
    p.add_argument("--out", type=out_dir_arg, default="runs", help="parent folder of the study")
    p.add_argument("--list", action="store_true", help="list the studies and exit")
    add_setting_args(
        p,
        ["data", "data_dir"],
        notes={
            "data": "instead of the study's own (e.g. mnist with --data-dir); the sine study "
            "keeps its sine data"
        },
    )
    add_common(p)
    p.set_defaults(func=_run)
