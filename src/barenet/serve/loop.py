"""The connection loop behind ``barenet serve``: one thread reads requests, a bounded
pool of worker threads answers them.

The loop thread owns every socket. It accepts connections from a listening socket
with a deep backlog, reads each connection without blocking until it holds one whole
request (headers, and the body its ``Content-Length`` announces), and only then
hands the request to a worker through a bounded queue. A slow or stalled client
therefore holds a connection, never a worker: a request not complete within
``request_timeout`` seconds gets a ``408``, and a kept-alive connection idle for
``idle_timeout`` seconds is closed. When the queue is full the loop answers ``503``
with ``Retry-After`` itself, after reading the request (a socket closed with unread
data would reset the connection). A worker turns the request's bytes into the
answer's (``answer(data, client_address)``), writes it, and gives the connection
back to the loop for the next request, or closes it.

``shutdown()`` (or Ctrl-C / SIGTERM in the thread running ``serve_forever``) stops
accepting, closes idle connections, lets the queued and running requests finish
(for up to ``drain_timeout`` seconds) and then closes everything.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import queue
import re
import selectors
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable

MAX_HEADER = 65536 + 4096  # the request line and each header may be 64 KiB (as http.server)
LINGER = 2.0  # seconds a closed connection is still read, so that its answer is not reset
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def default_workers() -> int:
    """Two worker threads per CPU this process may run on, 4 at least and 32 at most:
    one forward pass runs at a time, the others parse and write answers meanwhile."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(4, min(32, 2 * cpus))


def plain_answer(status: int, reason: str, message: str, extra: str = "") -> bytes:
    """A complete JSON answer that closes the connection (for the loop's own refusals)."""
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n{extra}"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def request_length(buf: bytes | bytearray, max_body: int) -> int | None:
    """The length of the first request in ``buf`` once it is all there, else None.
    Whatever the handler refuses without reading a body (no or a bad Content-Length,
    a chunked or oversized body, headers it cannot parse) ends with the headers."""
    m = _HEADER_END.search(buf, 0, MAX_HEADER)
    if m is None:
        return len(buf) if len(buf) >= MAX_HEADER else None  # the handler answers 414/431
    end = m.end()
    lines = bytes(buf[:end]).split(b"\n", 1)
    try:
        headers = http.client.parse_headers(io.BytesIO(lines[1] if len(lines) > 1 else b""))
    except (http.client.HTTPException, ValueError):
        return end
    length = headers.get("Content-Length")
    if length is None or headers.get("Transfer-Encoding"):
        return end
    try:
        n = int(length)
    except ValueError:
        return end
    if not 0 <= n <= max_body:
        return end
    return end + n if len(buf) >= end + n else None


_CONTINUE = re.compile(rb"\nexpect:[ \t]*100-continue", re.IGNORECASE)


class _Conn:
    __slots__ = ("sock", "addr", "buf", "last", "started", "eof", "continued")

    def __init__(self, sock: socket.socket, addr):
        self.sock, self.addr, self.buf = sock, addr, bytearray()
        self.last, self.started, self.eof = time.monotonic(), None, False
        self.continued = False  # "100 Continue" sent for the request being read


class ConnectionLoop:
    """Listen on ``(host, port)`` and answer every request with ``answer``, a function
    ``(request bytes, client address) -> (answer bytes, close the connection?)``
    called from ``workers`` threads at once; at most ``max_queue`` requests wait, and
    a body longer than ``max_body`` is not read (``answer`` refuses it)."""

    def __init__(self, answer: Callable[[bytes, tuple], tuple[bytes, bool]], host: str,
                 port: int, *, workers: int | None = None, max_queue: int | None = None,
                 backlog: int = 1024, request_timeout: float = 20.0,
                 idle_timeout: float = 10.0, drain_timeout: float = 30.0,
                 max_connections: int = 1000, max_body: int = 8 * 2**20,
                 quiet: bool = True):  # fmt: skip
        self.workers = int(workers or default_workers())
        self.max_queue = int(max_queue or 32 * self.workers)
        if self.workers < 1 or self.max_queue < 1:
            raise ValueError(f"serve: workers and queue must be >= 1, got {workers}, {max_queue}")
        self.request_timeout, self.idle_timeout = request_timeout, idle_timeout
        self.drain_timeout, self.quiet, self._answer = drain_timeout, quiet, answer
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, int(port)), family=family, backlog=backlog)
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self.max_connections, self.max_body = max_connections, max_body
        self.answered = self.refused = 0  # requests answered by the workers; 503s
        self.draining = False  # set once shutting down: answers then close the connection
        self._listening = False
        self._count = threading.Lock()
        self._conns: dict[int, _Conn] = {}
        self._lingering: dict[socket.socket, float] = {}  # shut for writing -> close by
        self._jobs: queue.Queue = queue.Queue(self.max_queue)
        self._back: deque = deque()  # (conn, keep) from the workers
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()  # until serve_forever runs
        self._sel = selectors.DefaultSelector()
        self._threads: list[threading.Thread] = []

    # ---- the loop thread ----------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until ``shutdown()`` or an exception in this thread (Ctrl-C); in both
        cases the requests already read are answered before it returns or raises."""
        self._stopped.clear()
        self._threads = [
            threading.Thread(target=self._work, name=f"serve-worker-{k}", daemon=True)
            for k in range(self.workers)
        ]
        for t in self._threads:
            t.start()
        self._listen(True)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        tick = min(poll_interval, self.idle_timeout / 2, self.request_timeout / 2)
        try:
            while not self._stop.is_set():
                for key, _ in self._sel.select(tick):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        self._drain_wake()
                    elif key.data == "linger":
                        self._linger_read(key.fileobj)
                    else:
                        self._read(key.data)
                self._take_back()
                self._expire()
        finally:
            self._finish()

    def _accept(self) -> None:
        while self._open() < self.max_connections:
            try:
                sock, addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, say: pause accepting until the next tick
                self._listen(False)
                return
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, addr)
            self._conns[sock.fileno()] = conn
            self._sel.register(sock, selectors.EVENT_READ, conn)
        self._listen(False)  # full: new clients wait in the backlog

    def _open(self) -> int:
        return len(self._conns) + len(self._lingering)

    def _listen(self, on: bool) -> None:
        if on and not self._listening:
            self._sel.register(self.socket, selectors.EVENT_READ, "listen")
        elif not on and self._listening:
            self._sel.unregister(self.socket)
        self._listening = on

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.last = time.monotonic()
        if not data:
            conn.eof = True
            if not conn.buf:
                self._close(conn)
                return
        else:
            if not conn.buf:
                conn.started = conn.last
            conn.buf += data
        self._dispatch(conn)

    def _dispatch(self, conn: _Conn) -> None:
        """Hand the connection's first request to a worker once it is whole (or the
        client has stopped sending: the handler then says what is missing)."""
        n = request_length(conn.buf, self.max_body)
        if n is None and not conn.eof:
            head = _HEADER_END.search(conn.buf, 0, MAX_HEADER)
            if head and not conn.continued and _CONTINUE.search(conn.buf, 0, head.start()):
                conn.continued = True  # the client waits for this before sending the body
                try:
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    pass
            return
        conn.continued = False
        n = len(conn.buf) if n is None else n
        data = bytes(conn.buf[:n])
        del conn.buf[:n]
        self._sel.unregister(conn.sock)
        try:
            self._jobs.put_nowait((conn, data))
        except queue.Full:
            with self._count:
                self.refused += 1
            msg = "the server is busy; try again in a second"
            self._refuse(conn, plain_answer(503, "Service Unavailable", msg, "Retry-After: 1\r\n"))

    def _refuse(self, conn: _Conn, answer: bytes) -> None:
        try:
            conn.sock.send(answer)  # a few hundred bytes: the send buffer takes them
        except OSError:
            pass
        self._close(conn)

    def _take_back(self) -> None:
        while self._back:
            conn, keep = self._back.popleft()
            if not keep or conn.eof or self._stop.is_set():
                self._close(conn)
                continue
            conn.last, conn.started = time.monotonic(), (time.monotonic() if conn.buf else None)
            self._sel.register(conn.sock, selectors.EVENT_READ, conn)
            if conn.buf:  # a pipelined request already read
                self._dispatch(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in list(self._conns.values()):
            if conn.started is not None and now - conn.started > self.request_timeout:
                if self._registered(conn):
                    self._sel.unregister(conn.sock)
                    msg = f"the request did not arrive within {self.request_timeout:g} s"
                    self._refuse(conn, plain_answer(408, "Request Timeout", msg))
            elif not conn.buf and now - conn.last > self.idle_timeout and self._registered(conn):
                self._close(conn)
        for sock in [s for s, t in self._lingering.items() if t <= now]:
            self._unlinger(sock)
        if self._open() < self.max_connections and not self._stop.is_set():
            self._listen(True)

    def _registered(self, conn: _Conn) -> bool:
        try:
            return self._sel.get_key(conn.sock).data is conn
        except (KeyError, ValueError):
            return False

    def _close(self, conn: _Conn, linger: bool = True) -> None:
        """Close a connection: shut for writing, then (``linger``) read and drop what
        the client still sends until it closes too, for ``LINGER`` seconds at most; a
        socket closed with unread bytes would reset the connection, answer and all."""
        if self._registered(conn):
            self._sel.unregister(conn.sock)
        self._conns.pop(conn.sock.fileno(), None)
        sock = conn.sock
        try:
            sock.shutdown(socket.SHUT_WR)
            if linger:
                sock.setblocking(False)
                self._sel.register(sock, selectors.EVENT_READ, "linger")
                self._lingering[sock] = time.monotonic() + LINGER
                return
        except (OSError, ValueError):
            pass
        sock.close()

    def _linger_read(self, sock: socket.socket) -> None:
        try:
            if sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._unlinger(sock)

    def _unlinger(self, sock: socket.socket) -> None:
        self._lingering.pop(sock, None)
        try:
            self._sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _finish(self) -> None:
        """Stop accepting, close the connections no request is being answered on,
        let the workers answer what was read (``drain_timeout`` at most), close all."""
        try:
            self.draining = True
            self._listen(False)
            for key in list(self._sel.get_map().values()):
                if isinstance(key.data, _Conn):
                    self._close(key.data, linger=False)
            for _ in self._threads:
                self._jobs.put(None)  # after the requests already queued
            deadline = time.monotonic() + self.drain_timeout
            for t in self._threads:
                t.join(max(0.0, deadline - time.monotonic()))
            self._stop.set()
            self._take_back()
            deadline = time.monotonic() + LINGER
            while self._lingering and time.monotonic() < deadline:
                for key, _ in self._sel.select(0.1):
                    if key.data == "linger":
                        self._linger_read(key.fileobj)
        finally:
            for sock in list(self._lingering):
                self._unlinger(sock)
            for conn in list(self._conns.values()):
                self._close(conn, linger=False)
            self._sel.unregister(self._wake_r)
            self._stopped.set()

    # ---- the workers --------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            conn, data = job
            keep = False
            try:
                answer, close = self._answer(data, conn.addr)
                conn.sock.settimeout(self.request_timeout)  # a client must read its answer
                conn.sock.sendall(answer)
                conn.sock.setblocking(False)
                keep = not close and not self.draining
                with self._count:
                    self.answered += 1
            except OSError:
                pass  # the client went away
            except Exception:  # the server must outlive any bug behind one request
                if not self.quiet:
                    traceback.print_exc(file=sys.stderr)
            self._back.append((conn, keep))
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass

    # ---- from other threads -------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop ``serve_forever`` (running in another thread) and wait until it has
        answered the requests it had read."""
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket (after ``serve_forever`` has returned)."""
        self.socket.close()
        self._wake_r.close()
        self._wake_w.close()
        self._sel.close()
