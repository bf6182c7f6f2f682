"""The server over a real socket: the page, the JSON API, and every bad request
answered with a 4xx JSON message while the server goes on."""

from __future__ import annotations

import http.client
import json
import socket
import threading

import numpy as np
import pytest

from barenet.serve import DrawingApp
from barenet.serve.server import MAX_BODY

from .conftest import serving, stroke_image


def request(server, method, path, body=None, headers=None, raw_body: bytes | None = None):
    """(status, headers, parsed JSON or bytes)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    hdrs = dict(headers or {})
    data = raw_body
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        ctype = resp.getheader("Content-Type", "")
        parsed = json.loads(payload) if ctype.startswith("application/json") else payload
        return resp.status, dict(resp.getheaders()), parsed
    finally:
        conn.close()


def raw_exchange(server, data: bytes, shut_write: bool = True) -> bytes:
    """Send raw bytes on a socket and return everything the server answers."""
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_page_files_are_served_with_a_strict_policy(lines_server):
    status, headers, body = request(lines_server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<canvas id="pad"' in body and b"page.js" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    for path, kind in [("/page.js", "text/javascript"), ("/page.css", "text/css")]:
        status, headers, body = request(lines_server, "GET", path)
        assert status == 200 and headers["Content-Type"].startswith(kind) and len(body) > 1000
    status, _, body = request(lines_server, "GET", "/?from=bookmark")
    assert status == 200 and body.startswith(b"<!doctype html>")


def test_the_page_fetches_nothing_from_the_network(lines_server):
    for path in ("/", "/page.js", "/page.css"):
        text = request(lines_server, "GET", path)[2].decode()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_model_summary(lines_server):
    status, _, info = request(lines_server, "GET", "/model")
    assert status == 200
    assert info["class_names"] == ["vertical", "horizontal"]
    assert info["input_shape"] == [1, 8, 8] and info["architecture"] == "lines"
    assert info["preprocessing"] == {"fill": 1.0, "centring": "centre of mass", "invert": False}
    assert info["parameters"] == 130 and [r["layer"] for r in info["layers"]][0] == "Flatten()"
    assert info["metrics"] == {"test_accuracy": 1.0}


@pytest.mark.parametrize("vertical, label", [(True, "vertical"), (False, "horizontal")])
def test_predict_a_stroke(lines_server, vertical, label):
    img = stroke_image(vertical=vertical, at=0.15)
    status, _, ans = request(lines_server, "POST", "/predict", {"pixels": img.tolist()})
    assert status == 200 and not ans["empty"] and ans["polarity"] == "dark-ink"
    assert ans["top"][0]["label"] == label and ans["top"][0]["probability"] > 0.99
    assert len(ans["top"]) == 2 and sum(ans["probabilities"]) == pytest.approx(1.0)
    seen = np.array(ans["input"])
    assert seen.shape == (8, 8) and seen.max() == pytest.approx(1.0)
    middle = seen[:, 3:5] if vertical else seen[3:5, :]
    assert middle.sum() > 0.9 * seen.sum()  # centred, wherever it was drawn


def test_predict_on_a_blank_page_says_empty(lines_server):
    status, _, ans = request(lines_server, "POST", "/predict", {"pixels": np.ones((9, 9)).tolist()})
    assert status == 200 and ans["empty"] and ans["top"] == [] and not np.any(ans["input"])


def test_top_five_of_ten_classes_and_the_inverted_input(digits_file):
    with serving(digits_file) as server:
        img = 1.0 - stroke_image(vertical=True)  # light ink on black, as MNIST files are
        status, _, ans = request(server, "POST", "/predict", {"pixels": img.tolist()})
        assert status == 200 and ans["polarity"] == "light-ink" and ans["inverted"]
        probs = [t["probability"] for t in ans["top"]]
        assert len(probs) == 5 and probs == sorted(probs, reverse=True)
        assert probs[0] == max(ans["probabilities"]) and len(ans["probabilities"]) == 10
        seen = np.array(ans["input"])
        assert seen.shape == (28, 28) and seen[0, 0] == 1.0  # inverted: white background
        assert ans["top"][0]["label"].startswith("class ")


def test_the_answer_is_what_the_model_gives_for_the_prepared_input(digits_file):
    app = DrawingApp.from_file(digits_file)
    img = stroke_image(vertical=False)
    ans = app.predict(img.tolist())
    from barenet.serve import prepare

    logits = app.model(prepare(img, app.spec).x)[0].astype(np.float64)
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(ans["probabilities"], p / p.sum(), rtol=1e-5)


GOOD = {"pixels": stroke_image(size=16).tolist()}
JSON = {"Content-Type": "application/json"}
BAD_REQUESTS = [
    # (case, method, path, headers, raw body, expected status)
    ("not JSON", "POST", "/predict", JSON, b"pixels=1,2,3", 400),
    ("JSON but not an object", "POST", "/predict", JSON, b"[[1, 1], [1, 1]]", 400),
    ("no pixels field", "POST", "/predict", JSON, b'{"pixel": []}', 400),
    ("NaN literal", "POST", "/predict", JSON, b'{"pixels": [[NaN, 1, 1, 1]]}', 400),
    ("Infinity literal", "POST", "/predict", JSON, b'{"pixels": [[-Infinity]]}', 400),
    ("not UTF-8", "POST", "/predict", JSON, b'{"pixels": "\xff\xfe"}', 400),
    ("nested too deeply", "POST", "/predict", JSON, b"[" * 100_000 + b"]" * 100_000, 400),
    ("bad Content-Length", "POST", "/predict", {**JSON, "Content-Length": "ten"}, None, 400),
    (
        "overflowing number",
        "POST",
        "/predict",
        JSON,
        b'{"pixels": [[1e999, 1, 1, 1]' + b", [1, 1, 1, 1]" * 3 + b"]}",
        422,
    ),
    (
        "wrong size 3x3",
        "POST",
        "/predict",
        JSON,
        json.dumps({"pixels": [[1] * 3] * 3}).encode(),
        422,
    ),
    (
        "too big 1025x4",
        "POST",
        "/predict",
        JSON,
        json.dumps({"pixels": [[1] * 4] * 1025}).encode(),
        422,
    ),
    ("one row only", "POST", "/predict", JSON, json.dumps({"pixels": [1.0] * 64}).encode(), 422),
    ("ragged rows", "POST", "/predict", JSON, b'{"pixels": [[1, 1, 1, 1], [1, 1]]}', 422),
    ("strings", "POST", "/predict", JSON, json.dumps({"pixels": [["1"] * 4] * 4}).encode(), 422),
    (
        "out of range 0..255",
        "POST",
        "/predict",
        JSON,
        json.dumps({"pixels": [[255] * 8] * 8}).encode(),
        422,
    ),
    (
        "bad polarity",
        "POST",
        "/predict",
        JSON,
        json.dumps({**GOOD, "polarity": "up"}).encode(),
        422,
    ),
    ("unknown field", "POST", "/predict", JSON, json.dumps({**GOOD, "label": 3}).encode(), 400),
    (
        "text/plain",
        "POST",
        "/predict",
        {"Content-Type": "text/plain"},
        json.dumps(GOOD).encode(),
        415,
    ),
    (
        "form content type",
        "POST",
        "/predict",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"a=1",
        415,
    ),
    ("no Content-Type", "POST", "/predict", {}, json.dumps(GOOD).encode(), 415),
    ("too large", "POST", "/predict", {**JSON, "Content-Length": str(MAX_BODY + 1)}, None, 413),
    ("chunked body", "POST", "/predict", {**JSON, "Transfer-Encoding": "chunked"}, None, 411),
    ("GET /predict", "GET", "/predict", {}, None, 405),
    ("POST /", "POST", "/", JSON, b"{}", 405),
    ("DELETE /model", "DELETE", "/model", {}, None, 405),
    ("PUT /page.js", "PUT", "/page.js", {}, b"x", 405),
    ("unknown path", "GET", "/admin", {}, None, 404),
    ("traversal ../", "GET", "/../../../etc/passwd", {}, None, 404),
    ("traversal encoded", "GET", "/%2e%2e/%2e%2e/etc/passwd", {}, None, 404),
    ("the package's source", "GET", "/page/../server.py", {}, None, 404),
    ("the page's folder", "GET", "/page/index.html", {}, None, 404),
    ("double slash", "GET", "//etc/passwd", {}, None, 404),
    ("double slash to the page", "GET", "//example.com/", {}, None, 404),
    ("foreign Host", "GET", "/model", {"Host": "attacker.example:8000"}, None, 403),
]


@pytest.mark.parametrize(
    "case, method, path, headers, body, expected", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_request_gets_a_4xx_json_message(
    lines_server, case, method, path, headers, body, expected
):
    status, hdrs, answer = request(lines_server, method, path, headers=headers, raw_body=body)
    assert status == expected, answer
    assert hdrs["Content-Type"] == "application/json" and answer["error"]
    if expected == 405:
        assert hdrs["Allow"] in ("POST", "GET, HEAD")
    # and the server is still there
    assert request(lines_server, "POST", "/predict", GOOD)[0] == 200


def test_missing_content_length_gets_411(lines_server):
    answer = raw_exchange(
        lines_server,
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n{}",
    )
    assert answer.startswith(b"HTTP/1.1 411") and b'"error"' in answer


def test_body_shorter_than_announced_gets_400(lines_server):
    answer = raw_exchange(
        lines_server,
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 500\r\n\r\n{"pixels": [[1',
    )
    assert answer.startswith(b"HTTP/1.1 400") and b"ended after" in answer


def test_garbage_request_line_gets_json_400(lines_server):
    answer = raw_exchange(lines_server, b"NONSENSE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b'"error"' in answer
    assert request(lines_server, "GET", "/model")[0] == 200


def test_concurrent_requests_get_the_same_answers(lines_server):
    bodies = [{"pixels": stroke_image(size=40, vertical=k % 2 == 0).tolist()} for k in range(12)]
    results = [None] * len(bodies)

    def work(k):
        results[k] = request(lines_server, "POST", "/predict", bodies[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    labels = [r[2]["top"][0]["label"] for r in results]
    assert labels == ["vertical", "horizontal"] * 6


def test_binds_to_loopback_by_default_and_refuses_bad_ports(lines_file):
    from barenet.serve import DrawingServer

    app = DrawingApp.from_file(lines_file)
    server = DrawingServer(app, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1" and server.loopback
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.server_close()
    with pytest.raises(ValueError, match="port must be in 0..65535"):
        DrawingServer(app, port=70000)


def test_models_the_page_cannot_serve_are_refused(tmp_path):
    import barenet as bn

    reg = tmp_path / "sine.safetensors"
    bn.save(bn.Sequential(bn.Linear(1, 1)), reg, {"task": "regression", "input_shape": [1]})
    with pytest.raises(ValueError, match="needs a classifier"):
        DrawingApp.from_file(reg)
    flat = tmp_path / "flat.safetensors"
    bn.save(bn.Sequential(bn.Linear(64, 3)), flat, {"input_shape": [64]})
    with pytest.raises(ValueError, match="must take images"):
        DrawingApp.from_file(flat)
    names = tmp_path / "names.safetensors"
    model = bn.Sequential(bn.Flatten(), bn.Linear(64, 3))
    bn.save(model, names, {"input_shape": [1, 8, 8], "class_names": ["a", "b"]})
    with pytest.raises(ValueError, match="2 class names recorded for 3 outputs"):
        DrawingApp.from_file(names)


def test_a_softmax_output_is_not_softmaxed_twice(tmp_path):
    import barenet as bn

    model = bn.Sequential(bn.Flatten(), bn.Linear(64, 3), bn.Softmax())
    path = tmp_path / "soft.safetensors"
    bn.save(model, path, {"input_shape": [1, 8, 8]})
    app = DrawingApp.from_file(path)
    img = stroke_image(size=32)
    from barenet.serve import prepare

    expected = app.model(prepare(img, app.spec).x)[0]
    np.testing.assert_allclose(app.predict(img.tolist())["probabilities"], expected, rtol=1e-6)
    assert app.class_names == ["0", "1", "2"]
