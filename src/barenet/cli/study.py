"""``barenet study NAME --out DIR [--quick] [--workers N] [--data DATASET]``: run one
of the shipped studies (``barenet study --list``), or ``all`` of them, into
``DIR/NAME`` with its table and figures. ``--quick`` finishes each study within
minutes on two cores. ``--data mnist --data-dir DIR`` runs the image studies on
another dataset than their Fashion-MNIST default (the reports ran several on MNIST).
A study that reproduces a report prints the report's numbers beside its own."""

from __future__ import annotations

import argparse
import time

from .sweep import add_common, parse_overrides


def _run(args: argparse.Namespace) -> int:
    from ..experiments.reported import reported_lines
    from ..experiments.results import load_sweep
    from ..experiments.studies import STUDIES, load_study, run_study

    if args.list or not args.name:
        for n in STUDIES:
            print(f"{n:18s} {load_study(n).get('title', '')}")
        return 0 if args.list else 2
    names = STUDIES if args.name == "all" else [args.name]
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    overrides = parse_overrides(args.set)
    if args.data_dir and not args.data:
        raise ValueError("--data-dir needs --data")
    for n in names:
        cfg = load_study(n)  # unknown names fail before anything runs
        if args.data and cfg.get("base", {}).get("data") == "sine":
            if args.name != "all":
                raise ValueError(f"study {n} fits the sine curve; --data does not apply to it")
    if args.data:
        overrides.update(data=args.data, **({"data_dir": args.data_dir} if args.data_dir else {}))
    for n in names:
        t0 = time.perf_counter()
        is_sine = load_study(n).get("base", {}).get("data") == "sine"
        out = run_study(
            n,
            args.out,
            quick=args.quick,
            workers=args.workers,
            overrides=_without_data(overrides) if is_sine else overrides,
            figures=not args.no_figures,
        )
        print(f"study {n}: {time.perf_counter() - t0:.1f} s -> {out}")
        for line in reported_lines(load_sweep(out)):
            print(f"  {line}")
    return 0


def _without_data(overrides: dict) -> dict:
    return {k: v for k, v in overrides.items() if k not in ("data", "data_dir")}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "study", help="run a shipped study (sweep + table + figures)", description=__doc__
    )
    p.add_argument("name", nargs="?", help="study name, or 'all'")
    p.add_argument("--out", default="runs", help="parent folder of the study (default: runs)")
    p.add_argument("--list", action="store_true", help="list the studies and exit")
    p.add_argument(
        "--data",
        metavar="DATASET",
        help="run on this dataset instead of the study's own (e.g. mnist with --data-dir); "
        "the sine study keeps its sine data",
    )
    p.add_argument("--data-dir", metavar="DIR", help="where the dataset's files are")
    add_common(p)
    p.set_defaults(func=_run)
