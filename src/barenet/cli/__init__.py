"""The ``barenet`` command. Each sub-command lives in its own module of this
package and exposes ``add_parser(subparsers)``, which registers its arguments and
sets ``func`` (called with the parsed arguments, returning an exit code).

:func:`main` is the one error boundary: whatever a command raises becomes one line,
``barenet CMD: error: ...`` on stderr, and an exit code (see :data:`EXIT_CODES`);
``--debug`` (or ``BARENET_DEBUG=1``) prints the traceback as well.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
import traceback

from .._version import __version__
from ..core.memory import MemoryLimitError
from ..data.download import DownloadError
from ..train.interrupts import Terminated

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
    "export",
    "serve",
    "check",
    "exercise",
    "trace",
]

EXIT_OK = 0
EXIT_INPUT = 1  # bad input: data, a model file, a setting
EXIT_USAGE = 2  # bad command line (argparse)
EXIT_DIVERGED = 3  # training stopped because its loss became NaN or infinite
EXIT_FILES = 4  # a file or folder that cannot be read or written
EXIT_DOWNLOAD = 5  # every mirror failed
EXIT_MEMORY = 6  # more memory than is available
EXIT_MISSING = 7  # an optional dependency is not installed
EXIT_INTERNAL = 70  # a bug in barenet: please report it with the --debug traceback
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143  # SIGTERM: 128 + 15, what a shell reports for a process it ended

#: Exit code -> meaning, as the README lists them.
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_INPUT: "bad input: data, a model file or a setting",
    EXIT_USAGE: "bad command line",
    EXIT_DIVERGED: "training diverged (loss NaN or infinite)",
    EXIT_FILES: "a file or folder cannot be read or written",
    EXIT_DOWNLOAD: "download failed",
    EXIT_MEMORY: "not enough memory",
    EXIT_MISSING: "an optional dependency is missing",
    EXIT_INTERNAL: "internal error (a bug)",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_TERMINATED: "terminated (SIGTERM)",
}
_MAX_MESSAGE = 4000


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default; drops the ``double backticks`` of docstrings."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(text.replace("``", ""))

    def _expand_help(self, action) -> str:
        return super()._expand_help(action).replace("``", "")

    def _get_help_string(self, action) -> str:
        if action.default is None or isinstance(action, argparse._StoreTrueAction):
            return action.help or ""
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An unknown option is reported by its command, with the closest known one."""

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            commands = getattr(self, "commands", {})
            where = commands.get(getattr(parsed, "command", None), self)
            known = [o for a in where._actions for o in a.option_strings]
            hints = [
                f"{x} (did you mean {close[0]}?)"
                for x in extras
                if x.startswith("--")
                and (close := difflib.get_close_matches(x.split("=")[0], known, n=1))
            ]
            hint = f"; {', '.join(hints)}" if hints else ""
            where.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return parsed


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="barenet",
        description="Deep learning in plain NumPy: train, evaluate and inspect networks.",
        epilog="Exit codes: "
        + "; ".join(f"{code} {what}" for code, what in EXIT_CODES.items())
        + ". --debug or BARENET_DEBUG=1 adds the traceback to an error.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"barenet {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error as well"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # a command not shipped in this build
            raise
        mod.add_parser(sub)
    parser.commands = sub.choices
    for p in sub.choices.values():
        p.formatter_class = _HelpFormatter
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="print the traceback of an error as well",
        )
    return parser


def _os_message(exc: OSError) -> str:
    if exc.strerror and exc.filename is not None:
        where = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
        return f"{exc.strerror}: {where}"
    return str(exc) or type(exc).__name__


def classify(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception that ended a command."""
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED, str(exc) or "terminated"
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, str(exc) or "interrupted"
    if isinstance(exc, MemoryLimitError):
        return EXIT_MEMORY, str(exc)
    if isinstance(exc, MemoryError):
        detail = f" ({exc})" if str(exc) else ""
        return EXIT_MEMORY, f"out of memory{detail}; try a smaller batch, model or input"
    if isinstance(exc, DownloadError):
        return EXIT_DOWNLOAD, str(exc)
    if isinstance(exc, (ValueError, TypeError)):
        return EXIT_INPUT, str(exc) or type(exc).__name__
    if isinstance(exc, ImportError):
        hint = "" if "pip install" in str(exc) else " (pip install barenet[all])"
        return EXIT_MISSING, f"{exc}{hint}"
    if isinstance(exc, OSError):
        return EXIT_FILES, _os_message(exc)
    return EXIT_INTERNAL, (
        f"internal error: {type(exc).__name__}: {exc} "
        "(run again with --debug for the traceback, and please report it)"
    )


def _debug(args) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("BARENET_DEBUG", "") not in (
        "",
        "0",
    )


def _tolerant_streams() -> None:
    """Where stdout or stderr cannot encode what barenet prints ("→", "±" and "×" in an
    ASCII locale), such a character is written as an escape instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            "→±×".encode(getattr(stream, "encoding", None) or "utf-8")
        except (UnicodeEncodeError, LookupError):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError):
                pass  # not a text stream we can change: leave it


def main(argv: list[str] | None = None) -> int:
    _tolerant_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        print("\nbarenet: error: name a command", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader of our output went away (``barenet ... | head``): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (Exception, KeyboardInterrupt) as exc:  # the one boundary: see classify()
        code, message = classify(exc)
        if _debug(args):
            traceback.print_exc()
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        kind = "" if code in (EXIT_INTERRUPTED, EXIT_TERMINATED) else "error: "
        print(f"barenet {args.command}: {kind}{message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
