"""``barenet serve`` under load: requests/s, latency and errors by number of clients.

    python benchmarks/serve_load.py [--clients 1,16,64,256] [--requests 25]
        [--model FILE] [--keep-alive] [--json out.json]

Starts ``barenet serve`` on a free port in a child process (the ``barenet`` this
interpreter imports, or the one first on ``PYTHONPATH``), then for each number of
clients starts that many threads at once, each sending ``--requests`` predictions
(``POST /predict``, a 28x28 drawing, a fresh connection per request unless
``--keep-alive``), and prints requests/s, p50 and p99 latency, the answers that
differ from the one a single client gets (wrong), the ``503`` refusals (each with a
``Retry-After``) and the connection errors (resets, refusals, time-outs). Without
``--model`` it serves an untrained cnn-small for 1x28x28 input and 10 classes: the
weights do not change what a request costs.

The clients run in this process beside the server's, so on a small machine the
figures measure both: compare them only with figures taken in the same sitting, and
keep the load average (printed) in mind. Targets: no connection error and no wrong
answer at 64 clients with p99 <= 1.5 s on 2 cores; at 256 clients every request gets
its answer or a 503.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _model_file(folder: Path) -> Path:
    import barenet as bn
    from barenet.models import build_model

    bn.seed(3)
    meta = {
        "class_names": [str(k) for k in range(10)],
        "input_shape": [1, 28, 28],
        "task": "classification",
        "dataset": "mnist",
        "normalisation": {"range": [0.0, 1.0], "invert": True},
        "config": {"model": "cnn-small"},
    }
    path = folder / "cnn-small.safetensors"
    bn.save(build_model("cnn-small", (1, 28, 28), 10), path, meta)
    return path


def _bodies(n: int = 16) -> list[bytes]:
    """``n`` different 28x28 drawings (one dark stroke each, on white) as JSON."""
    g = np.random.default_rng(0)
    out = []
    for k in range(n):
        img = np.ones((28, 28))
        a, b = sorted(g.integers(3, 25, 2) + [0, 3])
        pos = int(g.integers(4, 22))
        if k % 2:
            img[a:b, pos : pos + 3] = 0.0
        else:
            img[pos : pos + 3, a:b] = 0.0
        out.append(json.dumps({"pixels": np.round(img, 3).tolist()}).encode())
    return out


def _start(model: Path) -> tuple[subprocess.Popen, str, int]:
    code = "import sys\nfrom barenet.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", str(model), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
    )  # fmt: skip
    line = proc.stdout.readline()
    if " at http://" not in line:
        proc.kill()
        raise SystemExit(f"serve did not start: {line}{proc.stderr.read()}")
    url = line.split(" at ", 1)[1].split()[0]
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    return proc, host, int(port)


class _Client(threading.Thread):
    def __init__(self, host, port, bodies, start, count, keep_alive, go, timeout):
        super().__init__(daemon=True)
        self.args = host, port, timeout
        self.bodies, self.start_at, self.count = bodies, start, count
        self.keep_alive, self.go = keep_alive, go
        self.results: list[tuple[str, float, int, bytes]] = []  # kind, seconds, body index

    def run(self) -> None:
        host, port, timeout = self.args
        conn = None
        self.go.wait()
        for i in range(self.count):
            k = (self.start_at + i) % len(self.bodies)
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
                headers = {"Content-Type": "application/json"}
                if not self.keep_alive:
                    headers["Connection"] = "close"
                conn.request("POST", "/predict", body=self.bodies[k], headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status == 503:
                    kind = "503" if resp.getheader("Retry-After") else "503 without Retry-After"
                else:
                    kind = "ok" if resp.status == 200 else f"HTTP {resp.status}"
                if resp.will_close or not self.keep_alive:
                    conn.close()
                    conn = None
            except (ConnectionError, OSError, http.client.HTTPException) as exc:
                kind, data = type(exc).__name__, b""
                if conn is not None:
                    conn.close()
                    conn = None
            self.results.append((kind, time.perf_counter() - t0, k, data))
        if conn is not None:
            conn.close()


def _answer(data: bytes):
    ans = json.loads(data)
    return [t["label"] for t in ans["top"]], np.asarray(ans["probabilities"])


def run_level(host, port, bodies, expected, clients, requests, keep_alive, timeout) -> dict:
    go = threading.Event()
    threads = [
        _Client(host, port, bodies, c, requests, keep_alive, go, timeout) for c in range(clients)
    ]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    kinds: dict[str, int] = {}
    lat, wrong = [], 0
    for t in threads:
        for kind, sec, k, data in t.results:
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "ok":
                lat.append(sec)
                labels, p = _answer(data)
                if labels != expected[k][0] or not np.allclose(p, expected[k][1], rtol=1e-6):
                    wrong += 1
    total = clients * requests
    errors = total - kinds.get("ok", 0) - kinds.get("503", 0)
    return {
        "clients": clients,
        "requests": total,
        "answered": kinds.get("ok", 0),
        "wrong": wrong,
        "503": kinds.get("503", 0),
        "errors": errors,
        "error_kinds": {k: v for k, v in kinds.items() if k not in ("ok", "503")},
        "rps": kinds.get("ok", 0) / wall,
        "p50_ms": 1000 * float(np.percentile(lat, 50)) if lat else None,
        "p99_ms": 1000 * float(np.percentile(lat, 99)) if lat else None,
        "wall_s": wall,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", default="1,16,64,256", help="comma-separated client counts")
    p.add_argument("--requests", type=int, default=25, help="requests per client")
    p.add_argument("--model", type=Path, help="a model file (default: an untrained cnn-small)")
    p.add_argument("--keep-alive", action="store_true", help="one connection per client")
    p.add_argument("--timeout", type=float, default=30.0, help="client time-out, seconds")
    p.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = p.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",") if c.strip()]

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        model = args.model or _model_file(Path(tmp))
        proc, host, port = _start(model)
        try:
            bodies = _bodies()
            expected = []
            for body in bodies:  # the serial answers, one client
                conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
                conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
                expected.append(_answer(conn.getresponse().read()))
                conn.close()
            import barenet

            print(f"barenet serve from {Path(barenet.__file__).parent} at {host}:{port}; "
                  f"{args.requests} requests per client, "
                  f"{'keep-alive' if args.keep_alive else 'a connection per request'}; "
                  f"{os.cpu_count()} CPUs")  # fmt: skip
            print(f"{'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'answered':>8} "
                  f"{'wrong':>5} {'503':>5} {'errors':>6}  load average")  # fmt: skip
            rows = []
            for n in levels:
                r = run_level(host, port, bodies, expected, n, args.requests, args.keep_alive,
                              args.timeout)  # fmt: skip
                r["loadavg"] = open("/proc/loadavg", encoding="utf-8").read().split()[:3] \
                    if os.path.exists("/proc/loadavg") else None  # fmt: skip
                rows.append(r)
                kinds = ", ".join(f"{k} {v}" for k, v in r["error_kinds"].items())
                p50 = f"{r['p50_ms']:.0f}" if r["p50_ms"] is not None else "-"
                p99 = f"{r['p99_ms']:.0f}" if r["p99_ms"] is not None else "-"
                print(f"{n:>7} {r['rps']:>7.1f} {p50:>7} {p99:>7} {r['answered']:>8} "
                      f"{r['wrong']:>5} {r['503']:>5} {r['errors']:>6}  "
                      f"{' '.join(r['loadavg'] or [])}{'  (' + kinds + ')' if kinds else ''}",
                      flush=True)  # fmt: skip
        finally:
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
