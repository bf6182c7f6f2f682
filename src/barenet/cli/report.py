"""``barenet report RUNS_DIR [--out DIR]``: a Markdown report and a self-contained
HTML page of every sweep or study found under RUNS_DIR."""

from __future__ import annotations

import argparse

from ._common import out_dir_arg


def _run(args: argparse.Namespace) -> int:
    from ..experiments import build_report  # CLI start: the experiments load when it runs

    md, page = build_report(args.runs_dir, args.out, title=args.title, refresh=args.refresh)
    print(f"wrote {md} and {page}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write report.md and report.html of sweeps", description=__doc__
    )
    p.add_argument("runs_dir", help="folder holding sweep folders (each with sweep.json)")
    p.add_argument(
        "--out",
        type=out_dir_arg,
        default=None,
        help="where to write the report (default: RUNS_DIR)",
    )
    p.add_argument("--title", default="barenet experiments", help="the report's title")
    p.add_argument("--refresh", action="store_true", help="redraw every figure")
    p.set_defaults(func=_run)
