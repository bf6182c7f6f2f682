"""``barenet serve MODEL_FILE``: a page to draw on, with the model's guesses live."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ._common import int_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="a web page to draw on and watch a classifier's guesses",
        description="Serves one page (draw with the mouse or a finger, or upload an image) "
        "and a JSON API: POST /predict with the pixels, GET /model for the summary. The "
        "drawing is centred, scaled and inverted as the model's training images were. "
        "Requests beyond what the workers and the queue hold get 503 with Retry-After; "
        "Ctrl-C or SIGTERM stops it after answering the requests already received.",
    )
    p.add_argument("model_file", metavar="MODEL_FILE", help="a model file written by barenet")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (127.0.0.1: this machine only)",
    )
    p.add_argument("--port", type=int_arg(0, 65535), default=8000, help="port (0: any free one)")
    p.add_argument(
        "--workers",
        type=int_arg(1, 256),
        default=None,
        help="threads answering requests (default: 2 per CPU, 4 to 32)",
    )
    p.add_argument(
        "--queue",
        type=int_arg(1, 100_000),
        default=None,
        help="requests that may wait for a worker before the next gets 503 (default: 32 "
        "per worker)",
    )
    p.set_defaults(func=run)


class _Terminated(Exception):
    """SIGTERM while serving: stop as Ctrl-C stops."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated


def run(args: argparse.Namespace) -> int:
    from ..serve import DrawingApp, DrawingServer  # CLI start: the server loads when it runs

    app = DrawingApp.from_file(args.model_file)
    try:
        server = DrawingServer(app, args.host, args.port, quiet=False, workers=args.workers,
                               max_queue=args.queue)  # fmt: skip
    except OSError as exc:
        reason = exc.strerror or exc
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    spec = app.spec
    print(
        f"barenet serve: {app.name} ({len(app.class_names)} classes, input "
        f"{spec.channels}x{spec.height}x{spec.width}) at {server.url}  (Ctrl-C stops)",
        flush=True,
    )
    if not server.loopback:
        print(
            f"barenet serve: listening on {args.host}: other machines can reach this page",
            file=sys.stderr,
        )
    # SIGTERM (kill, a service manager, a container stopping) stops as Ctrl-C does,
    # where it still has its default action; a handler someone else set is kept.
    take_term = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    )
    if take_term:
        signal.signal(signal.SIGTERM, _on_sigterm)
    how = "stopped"
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        how = "stopped (Ctrl-C)"
    except _Terminated:
        how = "stopped (SIGTERM)"
    finally:
        if take_term:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        server.server_close()
    print(f"barenet serve: {how} after {server.answered} answers ({server.refused} busy)",
          flush=True)  # fmt: skip
    return 0
