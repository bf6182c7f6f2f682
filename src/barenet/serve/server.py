"""``barenet serve``: the drawing page and its JSON API on the standard library.

GET  /            the page (page/index.html; page.css and page.js beside it)
GET  /model       the model's summary (JSON)
POST /predict     {"pixels": [[...], ...], "polarity": "auto"}: greyscale rows in
                  [0, 1] (0 = black) → top classes, probabilities and the model's input

Only those paths exist: nothing is read from disk after start-up, so no URL reaches
another file. Every bad request gets a 4xx JSON answer {"error": "..."}; an
unexpected failure gets a 500 and the server goes on. HTTP/1.1 with keep-alive;
connections, time-outs, the bounded worker pool, the 503 answer beyond its capacity
and the graceful stop are the connection loop's (``loop.py``): ``Handler`` only
turns one request's bytes into its answer's.
"""

from __future__ import annotations

import io
import ipaddress
import json
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources

from .app import DrawingApp
from .loop import ConnectionLoop

MAX_BODY = 8 * 2**20  # bytes: a 1024x1024 drawing written as JSON fits with room to spare
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/page.css": ("page.css", "text/css; charset=utf-8"),
    "/page.js": ("page.js", "text/javascript; charset=utf-8"),
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class BadRequest(Exception):
    """A request refused with ``status`` and a message for the client."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def load_page() -> dict[str, tuple[bytes, str]]:
    """The page's files (package data), read once: URL path → (bytes, content type)."""
    folder = resources.files(__package__) / "page"
    return {url: ((folder / name).read_bytes(), ctype) for url, (name, ctype) in PAGE_FILES.items()}


def _reject_constant(name: str):
    raise BadRequest(HTTPStatus.BAD_REQUEST, f"{name} is not a JSON number; send finite numbers")


class Handler(BaseHTTPRequestHandler):
    """One request. ``self.server`` is a :class:`DrawingServer`."""

    server_version = "barenet-serve"
    error_content_type = "application/json"
    protocol_version = "HTTP/1.1"  # keep-alive: a drawing sends several requests a second

    @classmethod
    def respond(cls, server: DrawingServer, data: bytes, client_address) -> tuple[bytes, bool]:
        """The answer to one whole request (``data``, read by the connection loop) and
        whether the connection closes after it."""
        self = cls.__new__(cls)
        self.server, self.client_address, self.request = server, client_address, None
        self.rfile, self.wfile = io.BytesIO(data), io.BytesIO()
        self.close_connection = True
        self.handle_one_request()
        return self.wfile.getvalue(), self.close_connection

    # ---- answers ------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        if self.server.draining:
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if ctype.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        else:
            self.send_header("Keep-Alive", f"timeout={self.server.idle_timeout:g}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: dict, extra: dict | None = None) -> None:
        body = json.dumps(obj, allow_nan=False).encode()
        self._send(status, body, "application/json", extra)

    def send_error(self, code, message=None, explain=None):
        """The standard library's own refusals (bad request line, oversized headers,
        unknown method) as JSON too."""
        try:
            short = HTTPStatus(code).phrase
        except ValueError:
            short = "error"
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # a garbled request line: still a status line
            self.request_version = "HTTP/1.0"
        self._json(code, {"error": message or short})

    def handle_expect_100(self) -> bool:
        """The connection loop said "100 Continue" while the body was on its way."""
        return True

    def log_request(self, code="-", size="-"):
        """Refusals and failures only: a drawing sends several requests a second."""
        if not self.server.quiet and int(getattr(code, "value", code) or 0) >= 400:
            super().log_request(code, size)

    def log_error(self, format, *args):  # noqa: A002 - the standard library's name
        if not self.server.quiet:
            super().log_error(format, *args)

    # ---- routing ------------------------------------------------------------------------

    def _route(self, method: str) -> None:
        try:
            self._check_host()
            path = self.path.split("?", 1)[0]  # exact: no normalisation, no netloc
            if method in ("GET", "HEAD") and path in self.server.page:
                body, ctype = self.server.page[path]
                self._send(HTTPStatus.OK, body, ctype)
            elif method in ("GET", "HEAD") and path == "/model":
                self._json(HTTPStatus.OK, self.server.app.summary())
            elif method == "POST" and path == "/predict":
                self._json(HTTPStatus.OK, self._predict())
            elif path in self.server.page or path in ("/model", "/predict"):
                allow = "POST" if path == "/predict" else "GET, HEAD"
                raise BadRequest(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes {allow}")
            else:
                raise BadRequest(HTTPStatus.NOT_FOUND, f"no such page: {path[:200]}")
        except BadRequest as exc:
            extra = {}
            if exc.status == HTTPStatus.METHOD_NOT_ALLOWED:
                extra["Allow"] = "POST" if "/predict" in str(exc) else "GET, HEAD"
            if exc.status in (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.LENGTH_REQUIRED):
                self.close_connection = True  # the unread body must not be taken for a request
            self._json(exc.status, {"error": str(exc)}, extra)
        except Exception:  # the server must outlive any bug behind one request
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})

    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    def do_DELETE(self):
        self._route("DELETE")

    def do_PATCH(self):
        self._route("PATCH")

    def do_OPTIONS(self):
        self._route("OPTIONS")

    # ---- checks -------------------------------------------------------------------------

    def _check_host(self) -> None:
        """On a loopback address, only requests addressed to a loopback name: a web page
        elsewhere cannot reach the server by renaming itself (DNS rebinding)."""
        if not self.server.loopback:
            return
        host = (self.headers.get("Host") or "").strip().lower()
        name = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0]
        if name not in LOOPBACK_NAMES:
            raise BadRequest(HTTPStatus.FORBIDDEN, f"host {host[:100]!r} is not served here")

    def _read_json(self) -> dict:
        if self.headers.get("Transfer-Encoding"):
            raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            raise BadRequest(
                HTTPStatus.BAD_REQUEST, f"bad Content-Length {length[:40]!r}"
            ) from None
        if n > MAX_BODY:
            raise BadRequest(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {n} bytes is over the limit of {MAX_BODY} bytes",
            )
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self.close_connection = True
            raise BadRequest(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"send application/json, not {ctype[:80] or 'no Content-Type'}",
            )
        raw = self.rfile.read(n)
        if len(raw) < n:
            raise BadRequest(HTTPStatus.BAD_REQUEST, f"body ended after {len(raw)} of {n} bytes")
        try:
            obj = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "the body is not UTF-8 text") from None
        except RecursionError:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "the JSON is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise BadRequest(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise BadRequest(HTTPStatus.BAD_REQUEST, 'send a JSON object {"pixels": [[...]]}')
        return obj

    def _predict(self) -> dict:
        obj = self._read_json()
        unknown = sorted(set(obj) - {"pixels", "polarity"})
        if unknown:
            raise BadRequest(
                HTTPStatus.BAD_REQUEST,
                f"unknown field(s) {', '.join(map(str, unknown))[:200]}; send pixels "
                "(and polarity)",
            )
        if "pixels" not in obj:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "missing field: pixels")
        polarity = obj.get("polarity", "auto")
        try:
            return self.server.app.predict(obj["pixels"], str(polarity))
        except ValueError as exc:
            raise BadRequest(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc)) from None


class DrawingServer(ConnectionLoop):
    """The page and the JSON API of one :class:`DrawingApp`, served by a connection
    loop (see ``loop.py`` for ``workers``, ``max_queue`` and the time-outs)."""

    def __init__(self, app: DrawingApp, host: str = "127.0.0.1", port: int = 8000,
                 quiet: bool = True, **loop_options):  # fmt: skip
        if not 0 <= int(port) <= 65535:
            raise ValueError(f"serve: port must be in 0..65535, got {port}")
        self.app, self.page = app, load_page()
        self.loopback = _is_loopback(host)
        super().__init__(self._respond, host, int(port), quiet=quiet, max_body=MAX_BODY,
                         **loop_options)  # fmt: skip

    def _respond(self, data: bytes, client_address) -> tuple[bytes, bool]:
        return Handler.respond(self, data, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
