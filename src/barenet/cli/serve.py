"""``barenet serve MODEL_FILE``: a page to draw on, with the model's guesses live."""

from __future__ import annotations

import argparse
import sys

from ._common import int_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="a web page to draw on and watch a classifier's guesses",
        description="Serves one page (draw with the mouse or a finger, or upload an image) "
        "and a JSON API: POST /predict with the pixels, GET /model for the summary. The "
        "drawing is centred, scaled and inverted as the model's training images were.",
    )
    p.add_argument("model_file", metavar="MODEL_FILE", help="a model file written by barenet")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (127.0.0.1: this machine only)",
    )
    p.add_argument("--port", type=int_arg(0, 65535), default=8000, help="port (0: any free one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..serve import DrawingApp, DrawingServer  # CLI start: the server loads when it runs

    app = DrawingApp.from_file(args.model_file)
    try:
        server = DrawingServer(app, args.host, args.port, quiet=False)
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
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("barenet serve: stopped")
    finally:
        server.server_close()
    return 0
