"""The ``barenet`` command. Each sub-command lives in its own module of this
package and exposes ``add_parser(subparsers)``, which registers its arguments and
sets ``func`` (called with the parsed arguments, returning an exit code)."""

from __future__ import annotations

import argparse
import importlib
import sys

# Sub-command modules, in the order ``barenet --help`` lists them.
COMMANDS = [
    "demo",
    "train",
    "evaluate",
    "predict",
    "summary",
    "profile",
    "sweep",
    "study",
    "report",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="barenet",
        description="Deep learning in plain NumPy: train, evaluate and inspect networks.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"barenet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # a command not shipped in this build
            raise
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        print(f"barenet {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
