"""``barenet exercise list | start NAME [--out FILE] [--force] | check FILE``: write a
layer's forward or backward yourself and have it checked.

Exit status of ``check``: 0 when every case passes, 1 when something is still wrong,
2 when the file cannot be used (one line on stderr). ``start`` never overwrites a file
without ``--force`` (exit 2).
"""

from __future__ import annotations

import sys
import traceback

EXIT_WRONG = 1
EXIT_UNUSABLE = 2


def add_parser(sub) -> None:
    p = sub.add_parser(
        "exercise",
        help="exercises: write a forward or backward yourself, and check it",
        description="list the exercises, start one (writes a stub: the signature, the task "
        "and the shapes in its docstring, the forward given where the exercise is the "
        "backward), or check a file: the gradient doctor plus the exercise's shape cases "
        "(stride 2, padding, overlapping windows, a batch of 1).",
    )
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    acts.add_parser("list", help="the exercises").set_defaults(func=_list)
    s = acts.add_parser("start", help="write an exercise's stub")
    s.add_argument("name", metavar="NAME", help="an exercise (barenet exercise list)")
    s.add_argument("--out", metavar="FILE", default=None, help="where (default: NAME.py here)")
    s.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    s.set_defaults(func=_start)
    c = acts.add_parser("check", help="check an exercise file")
    c.add_argument("file", metavar="FILE", help="the exercise file")
    c.set_defaults(func=_check)
    p.set_defaults(func=_usage, parser=p)


def _usage(args) -> int:
    args.parser.print_usage(sys.stderr)
    print("barenet exercise: error: name an action: list, start or check", file=sys.stderr)
    return EXIT_UNUSABLE


def _list(args) -> int:
    from ..doctor.exercises import EXERCISES  # CLI start

    w = max(len(e.name) for e in EXERCISES)
    for e in EXERCISES:
        print(f"{e.name:<{w}}  {e.title}")
    print(f"\nbarenet exercise start NAME writes the stub; {len(EXERCISES)} exercises")
    return 0


def _fail(args, exc) -> int:
    if getattr(args, "debug", False):
        traceback.print_exc()
    print(f"barenet exercise {args.action}: error: {exc}", file=sys.stderr)
    return EXIT_UNUSABLE


def _start(args) -> int:
    from ..doctor import DoctorInputError  # CLI start
    from ..doctor.exercises import find, start  # CLI start

    try:
        path = start(args.name, args.out, force=args.force)
    except (DoctorInputError, OSError) as exc:
        return _fail(args, exc)
    ex = find(args.name)
    print(f"wrote {path}: {ex.title} ({', '.join(ex.write)});")
    print(f"then run: barenet exercise check {path}")
    return 0


def _check(args) -> int:
    from ..doctor import DoctorInputError  # CLI start
    from ..doctor.exercises import check  # CLI start

    try:
        report = check(args.file)
    except DoctorInputError as exc:
        return _fail(args, exc)
    print(report)
    return 0 if report.ok else EXIT_WRONG
