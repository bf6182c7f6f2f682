"""The connection loop under load: every answer right with 64 clients at once, 503 with
Retry-After beyond capacity (never a reset), keep-alive, the request and idle
time-outs, and a stop that answers the requests already received."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import numpy as np

from barenet.serve.loop import ConnectionLoop, default_workers, request_length

from .conftest import serving, stroke_image
from .test_server import request


def _ok(body: bytes = b"done") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class _Gate:
    """An answer function that holds every request until ``release()``."""

    def __init__(self):
        self.open, self.entered = threading.Event(), threading.Semaphore(0)

    def __call__(self, data: bytes, addr) -> tuple[bytes, bool]:
        self.entered.release()
        assert self.open.wait(30)
        return _ok(data.split(b" ")[1]), False


def _run(loop: ConnectionLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.serve_forever, daemon=True)
    thread.start()
    return thread


def _stop(loop: ConnectionLoop, thread: threading.Thread) -> None:
    loop.shutdown()
    loop.server_close()
    thread.join(10)


def _send(loop: ConnectionLoop, path: str) -> socket.socket:
    s = socket.create_connection(loop.server_address[:2], timeout=20)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def _read_all(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_64_clients_at_once_all_get_their_own_right_answer(lines_file):
    bodies = [{"pixels": stroke_image(size=24, vertical=k % 2 == 0, at=0.1 + 0.01 * k).tolist()}
              for k in range(64)]  # fmt: skip
    with serving(lines_file) as server:
        expected = [request(server, "POST", "/predict", b)[2]["probabilities"] for b in bodies]
        results: list = [None] * (64 * 3)
        go = threading.Barrier(64)

        def client(c):
            go.wait()
            for r in range(3):  # a fresh connection each time: the harder case for a server
                try:
                    results[3 * c + r] = request(server, "POST", "/predict", bodies[c])
                except OSError as exc:  # a reset or a refused connection is a failure here
                    results[3 * c + r] = exc

        threads = [threading.Thread(target=client, args=(c,)) for c in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    errors = [r for r in results if not isinstance(r, tuple) or r[0] != 200]
    assert errors == []
    for k, (_, _, ans) in enumerate(results):
        np.testing.assert_allclose(ans["probabilities"], expected[k // 3], rtol=1e-6)
        label = "vertical" if (k // 3) % 2 == 0 else "horizontal"
        assert ans["top"][0]["label"] == label


def test_beyond_workers_and_queue_the_answer_is_503_with_retry_after():
    gate = _Gate()
    loop = ConnectionLoop(gate, "127.0.0.1", 0, workers=1, max_queue=1)
    thread = _run(loop)
    try:
        first = _send(loop, "/first")
        assert gate.entered.acquire(timeout=10)  # the only worker holds it
        second = _send(loop, "/second")  # waits in the queue
        deadline = time.monotonic() + 10
        while loop._jobs.qsize() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        third = _send(loop, "/third")
        busy = _read_all(third).decode()
        assert busy.startswith("HTTP/1.1 503") and "Retry-After: 1\r\n" in busy
        assert "Connection: close" in busy and '"error"' in busy and loop.refused == 1
        gate.open.set()
        assert first.recv(4096).endswith(b"/first") and second.recv(4096).endswith(b"/second")
        for s in (first, second, third):
            s.close()
    finally:
        gate.open.set()
        _stop(loop, thread)
    assert loop.answered == 2


def test_keep_alive_serves_several_requests_on_one_connection(lines_server):
    host, port = lines_server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/model")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200 and not resp.will_close
        assert resp.getheader("Keep-Alive") == f"timeout={lines_server.idle_timeout:g}"
        first = conn.sock
        body = b'{"pixels": %s}' % str([[1] * 8] * 8).encode()
        conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200 and b'"empty": true' in resp.read() and conn.sock is first
    finally:
        conn.close()


def test_a_stalled_request_gets_408_and_an_idle_connection_is_closed():
    loop = ConnectionLoop(lambda d, a: (_ok(), False), "127.0.0.1", 0, request_timeout=0.5,
                          idle_timeout=0.5)  # fmt: skip
    thread = _run(loop)
    try:
        with socket.create_connection(loop.server_address[:2], timeout=20) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the headers never end
            t0 = time.monotonic()
            answer = _read_all(s)
            assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 10
        with _send(loop, "/") as s:
            assert s.recv(4096).endswith(b"done")  # answered, kept alive ...
            t0 = time.monotonic()
            assert s.recv(4096) == b"" and 0.3 < time.monotonic() - t0 < 10  # ... then closed
    finally:
        _stop(loop, thread)


def test_shutdown_answers_the_requests_already_received_then_refuses_new_ones():
    gate = _Gate()
    loop = ConnectionLoop(gate, "127.0.0.1", 0, workers=2)
    thread = _run(loop)
    busy = [_send(loop, f"/r{k}") for k in range(2)]
    for _ in busy:
        assert gate.entered.acquire(timeout=10)
    idle = socket.create_connection(loop.server_address[:2], timeout=20)  # sends nothing
    stopper = threading.Thread(target=loop.shutdown)
    stopper.start()
    time.sleep(0.3)
    assert stopper.is_alive()  # shutdown waits for the two answers
    gate.open.set()
    for k, s in enumerate(busy):
        answer = _read_all(s)  # the whole answer, then the end: it closes once answered
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"/r%d" % k)
        s.close()
    stopper.join(10)
    assert not stopper.is_alive()
    assert idle.recv(4096) == b""  # closed without an answer: it had asked nothing
    idle.close()
    loop.server_close()
    thread.join(10)
    try:
        socket.create_connection(loop.server_address[:2], timeout=5).close()
        raise AssertionError("a stopped server still accepts connections")
    except ConnectionRefusedError:
        pass


def test_request_length_waits_for_the_announced_body():
    head = b"POST /predict HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
    assert request_length(head, 100) is None
    assert request_length(head + b"12345" + b"GET /", 100) == len(head) + 5
    assert request_length(head + b"123", 3) == len(head)  # too long: the handler says so
    assert request_length(b"GET / HTTP/1.1\r\n", 100) is None
    assert 4 <= default_workers() <= 32
