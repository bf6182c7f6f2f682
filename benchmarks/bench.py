"""barenet against PyTorch CPU: training and inference throughput, peak memory, GFLOP/s.

    python benchmarks/bench.py [--quick] [--json PATH] [--threads 2] [--models mlp,cnn-deep]

Both frameworks run the same three models with the same weights, batch and thread
count in one process, interleaved repeat by repeat (barenet, then PyTorch), so a
slow phase of the machine hits both; each repeat gives a ratio barenet/PyTorch and
the table reports the medians. Each timed block runs the same number of steps for
both, at least 20 (training) or 3 (inference) and enough for the slower framework's
block to last a quarter of a second, so that a cheap model is measured in its steady
state rather than in its threads' wake-up. Training = forward + loss + backward + SGD step;
inference = eval mode, batch 1000 (PyTorch under ``torch.inference_mode``).

Both run with idle OpenBLAS threads asleep (``OPENBLAS_THREAD_TIMEOUT=4``) and freed
memory kept in the process (``barenet.core.malloc``), as barenet's training sets up.

Peak memory of a training step is measured the same way for both frameworks: each
runs in a fresh subprocess (glibc's mmap threshold fixed at 128 KiB, so freed buffers
leave the resident set), which builds the model, data and optimizer, reads its
resident set (``/proc/self/statm``), runs two warm-up steps and three more steps.
The peak reported is the high-water mark of the resident set over those steps
(``VmHWM``, reset through ``/proc/self/clear_refs`` just before them) minus the
resident set measured right after building, before the first step: it counts what
a framework keeps between steps (caches, workspaces, graph) plus the step's
transient buffers; the JSON also keeps both parts apart. For
barenet the subprocess also reports the ``tracemalloc`` peak of one step (NumPy
reports its buffers to tracemalloc; PyTorch's allocator does not, hence RSS for both).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and steps (a smoke run)")
    p.add_argument(
        "--json",
        default=None,
        help="where to write the results (default: benchmarks/results/latest.json)",
    )
    p.add_argument("--threads", type=int, default=2, help="BLAS / intra-op threads (default 2)")
    p.add_argument("--models", default="mlp,cnn-small,cnn-deep", help="comma-separated list")
    p.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    p.add_argument("--_mem", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


ARGS = _parse()
# BLAS threads must be fixed before NumPy (and its OpenBLAS) is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)
# What `import barenet` sets when it comes before NumPy (see barenet/__init__.py): idle
# OpenBLAS threads sleep instead of spinning through the other framework's turn.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

import barenet as bn  # noqa: E402
from barenet import optim  # noqa: E402
from barenet.runtime import keep_freed_memory  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn as tnn  # noqa: E402
except ImportError:  # the benchmark still measures barenet alone
    torch = None

BATCH = {"mlp": 64, "cnn-small": 64, "cnn-deep": 100}
INFER_BATCH = 1000
LR = 0.01


# -- the three models, as lists of (kind, args) so both frameworks build the same net ----------
def spec(name: str) -> list[tuple]:
    if name == "mlp":
        return [
            ("flatten",),
            ("linear", 784, 256),
            ("leaky", 0.01),
            ("linear", 256, 128),
            ("leaky", 0.01),
            ("linear", 128, 10),
        ]
    if name == "cnn-small":
        return [
            ("conv", 1, 32, 3, 1),
            ("relu",),
            ("pool", 2),
            ("conv", 32, 64, 3, 1),
            ("relu",),
            ("pool", 2),
            ("flatten",),
            ("linear", 3136, 128),
            ("relu",),
            ("linear", 128, 10),
        ]
    if name == "cnn-deep":
        layers, cin = [], 1
        for (c1, p1), (c2, p2) in (((16, 0), (16, 0)), ((32, 0), (32, 0)), ((64, 1), (64, 1))):
            layers += [
                ("conv", cin, c1, 3, p1),
                ("relu",),
                ("conv", c1, c2, 3, p2),
                ("relu",),
                ("pool", 2),
            ]
            cin = c2
        return layers + [
            ("flatten",),
            ("linear", 256, 50),
            ("relu",),
            ("dropout", 0.5),
            ("linear", 50, 10),
            ("dropout", 0.5),
        ]
    raise ValueError(f"bench: unknown model {name!r}")


def build_barenet(name: str) -> bn.Sequential:
    make = {
        "conv": lambda ci, co, k, p: bn.Conv2d(ci, co, k, padding=p),
        "linear": bn.Linear,
        "relu": bn.ReLU,
        "leaky": bn.LeakyReLU,
        "pool": bn.MaxPool2d,
        "flatten": bn.Flatten,
        "dropout": bn.Dropout,
    }
    return bn.Sequential(*[make[k](*a) for k, *a in spec(name)])


def build_torch(name: str, like: bn.Sequential):
    make = {
        "conv": lambda ci, co, k, p: tnn.Conv2d(ci, co, k, padding=p),
        "linear": tnn.Linear,
        "relu": tnn.ReLU,
        "leaky": tnn.LeakyReLU,
        "pool": tnn.MaxPool2d,
        "flatten": tnn.Flatten,
        "dropout": tnn.Dropout,
    }
    model = tnn.Sequential(*[make[k](*a) for k, *a in spec(name)])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in like.state_dict().items()})
    return model


def data(name: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 28, 28), dtype=np.float32)
    return x, rng.integers(0, 10, n).astype(np.int64)


def flops_per_image(name: str) -> float:
    """Multiply-adds x2 of forward + backward GEMMs: forward, dW, and dx except the first layer."""
    total, shape, first = 0.0, (1, 28, 28), True
    for kind, *a in spec(name):
        if kind == "conv":
            ci, co, k, p = a
            oh, ow = shape[1] + 2 * p - k + 1, shape[2] + 2 * p - k + 1
            fwd = 2.0 * co * ci * k * k * oh * ow
            shape = (co, oh, ow)
        elif kind == "linear":
            fwd = 2.0 * a[0] * a[1]
            shape = (a[1],)
        elif kind == "pool":
            shape = (shape[0], shape[1] // 2, shape[2] // 2)
            continue
        else:
            continue
        total += fwd * (2 if first else 3)
        first = False
    return total


# -- steps ---------------------------------------------------------------------------------------
class BarenetRunner:
    def __init__(self, name):
        bn.seed(0)
        self.model = build_barenet(name)
        self.model.needs_input_grad = False  # as in fit and in PyTorch: the input is data
        self.loss = bn.SoftmaxCrossEntropy()
        self.opt = optim.SGD(self.model.parameters(), lr=LR)

    def train_step(self, x, y):
        self.model.train()
        self.opt.zero_grad()
        self.loss(self.model(x), y)
        self.model.backward(self.loss.backward())
        self.opt.step()

    def infer(self, x):
        self.model.eval()
        return self.model(x)


class TorchRunner:
    def __init__(self, name, like):
        torch.manual_seed(0)
        self.model = build_torch(name, like)
        self.loss = tnn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)

    def train_step(self, x, y):
        self.model.train()
        self.opt.zero_grad()
        self.loss(self.model(x), y).backward()
        self.opt.step()

    def infer(self, x):
        self.model.eval()
        with torch.inference_mode():
            return self.model(x)


def timed(fn, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return time.perf_counter() - t0


def block_steps(runners: dict, call: str, args_at: int, at_least: int, seconds: float) -> int:
    """Steps per timed block: at least ``at_least``, and enough that a block of the slower
    framework's steps lasts ``seconds`` (a cheap step timed 20 at a time measures the
    wake-up of idle threads more than the step). Both frameworks get the same count."""
    slowest = 0.0
    for entry in runners.values():
        r, a = entry[0], entry[args_at]
        fn = getattr(r, call)
        slowest = max(slowest, min(timed(lambda fn=fn, a=a: fn(*a), 1) for _ in range(3)))
    return max(at_least, math.ceil(seconds / max(slowest, 1e-9)))


def measure_model(
    name: str, repeats: int, steps: int, infer_steps: int, block_seconds: float
) -> dict:
    b = BATCH[name]
    x, y = data(name, b)
    xi, _ = data(name, INFER_BATCH, seed=1)
    bnr = BarenetRunner(name)
    runners = {"barenet": (bnr, (x, y), (xi,))}
    if torch is not None:
        tr = TorchRunner(name, bnr.model)
        runners["torch"] = (tr, (torch.from_numpy(x), torch.from_numpy(y)), (torch.from_numpy(xi),))
    for r, tr_args, inf_args in runners.values():  # warm-up: workspaces, caches, kernels
        for _ in range(3):
            r.train_step(*tr_args)
        r.infer(*inf_args)
    steps = block_steps(runners, "train_step", 1, steps, block_seconds)
    infer_steps = block_steps(runners, "infer", 2, infer_steps, block_seconds)
    train = {k: [] for k in runners}
    infer = {k: [] for k in runners}
    for _ in range(repeats):
        for k, (r, tr_args, inf_args) in runners.items():
            train[k].append(b * steps / timed(lambda r=r, a=tr_args: r.train_step(*a), steps))
            infer[k].append(
                INFER_BATCH * infer_steps / timed(lambda r=r, a=inf_args: r.infer(*a), infer_steps)
            )
    out = {
        "batch": b,
        "flops_per_image": flops_per_image(name),
        "train_steps_per_repeat": steps,
        "infer_steps_per_repeat": infer_steps,
    }
    for k in runners:
        out[k] = {
            "train_ips": statistics.median(train[k]),
            "infer_ips": statistics.median(infer[k]),
        }
    if "torch" in runners:
        out["train_ratio"] = statistics.median(
            [a / t for a, t in zip(train["barenet"], train["torch"])]
        )
        out["infer_ratio"] = statistics.median(
            [a / t for a, t in zip(infer["barenet"], infer["torch"])]
        )
    return out


def gemm_gflops(n: int = 2048, reps: int = 5) -> float:
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    bm = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, bm, out=out)
    best = min(timed(lambda: np.matmul(a, bm, out=out), 1) for _ in range(reps))
    return 2.0 * n**3 / best / 1e9


# -- memory (run in a fresh subprocess per framework and model) ------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(framework: str, name: str) -> dict:
    import resource
    import tracemalloc

    x, y = data(name, BATCH[name])
    if framework == "barenet":
        r = BarenetRunner(name)
        args = (x, y)
    else:
        r = TorchRunner(name, build_barenet(name))
        args = (torch.from_numpy(x), torch.from_numpy(y))
    out = {}
    cold = _rss_bytes()
    _reset_peak()
    r.train_step(*args)
    out["first_step_rss_peak_mb"] = (_peak_rss_bytes(resource) - cold) / 2**20
    r.train_step(*args)
    base = _rss_bytes()
    out["persistent_after_step_mb"] = (base - cold) / 2**20
    if framework == "barenet":
        tracemalloc.start()
        r.train_step(*args)
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    out["rss_method"] = _reset_peak()
    for _ in range(3):
        r.train_step(*args)
    hwm = _peak_rss_bytes(resource)
    out["step_transient_mb"] = (hwm - base) / 2**20
    out["rss_peak_mb"] = (hwm - cold) / 2**20  # what a training step holds at its peak
    return out


def _reset_peak() -> str:
    """Reset the resident high-water mark so that earlier peaks (imports) do not count."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM after clear_refs"
    except OSError:
        return "ru_maxrss (high-water mark not resettable)"


def _peak_rss_bytes(resource) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_memory(framework: str, name: str, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--threads", str(threads), "--_mem", framework, name]
    # A fixed mmap threshold makes glibc return every large buffer to the system when it is
    # freed, so the resident set before a step holds only what persists between steps.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def blas_info() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for d in threadpool_info()
        ]
    except ImportError:
        return [{"note": "threadpoolctl not installed; BLAS threads set by environment"}]


def main() -> int:
    if ARGS._mem:
        print(json.dumps(memory_child(*ARGS._mem)))
        return 0
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    # As barenet's fit and command line do; it applies to both frameworks' allocations.
    info_malloc = keep_freed_memory()
    repeats, steps, infer_steps, block = (3, 5, 1, 0.05) if ARGS.quick else (9, 20, 3, 0.25)
    names = [m.strip() for m in ARGS.models.split(",") if m.strip()]
    info = {
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "threads": ARGS.threads,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "blas": blas_info(),
        "machine": platform.processor() or platform.machine(),
        "repeats": repeats,
        "min_train_steps_per_repeat": steps,
        "min_block_seconds": block,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "OPENBLAS_THREAD_TIMEOUT": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
        "keep_freed_memory": info_malloc,
    }
    info["loadavg_at_start"] = os.getloadavg()[0]
    gemm = gemm_gflops()
    info["gemm_gflops_float32"] = gemm
    results = {}
    for name in names:
        res = measure_model(name, repeats, steps, infer_steps, block)
        res["barenet"]["train_gflops"] = res["barenet"]["train_ips"] * res["flops_per_image"] / 1e9
        res["barenet"]["gemm_fraction"] = res["barenet"]["train_gflops"] / gemm
        if torch is not None:
            t = res["torch"]
            t["train_gflops"] = t["train_ips"] * res["flops_per_image"] / 1e9
            t["gemm_fraction"] = t["train_gflops"] / gemm
        if not ARGS.no_memory:
            res["memory_mb"] = {"barenet": measure_memory("barenet", name, ARGS.threads)}
            if torch is not None:
                res["memory_mb"]["torch"] = measure_memory("torch", name, ARGS.threads)
        results[name] = res
    info["loadavg_at_end"] = os.getloadavg()[0]
    report = {"info": info, "models": results}
    print(format_table(report))
    path = ARGS.json or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results", "latest.json"
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, path)
    print(f"\nwrote {path}")
    return 0


def format_table(report: dict) -> str:
    info = report["info"]
    blas = ", ".join(
        f"{d.get('internal_api')} {d.get('version')} ({d.get('architecture')}, "
        f"{d.get('num_threads')} threads)"
        for d in info["blas"]
    )
    busy = max(info.get("loadavg_at_start", 0), info.get("loadavg_at_end", 0))
    note = []
    if busy > os.cpu_count():
        note = [
            f"note: load average {busy:.1f} on {os.cpu_count()} cores: other processes share "
            "the CPU, so timings (and, less so, ratios) are not representative",
            "",
        ]
    lines = note + [
        f"numpy {info['numpy']} [{blas}]   torch {info['torch']} "
        f"({info['torch_threads']} threads)   float32 GEMM peak {info['gemm_gflops_float32']:.1f} "
        "GFLOP/s",
        "",
        f"{'model':<10} {'batch':>5} | {'train img/s':>23} {'ratio':>6} | {'infer img/s':>23} "
        f"{'ratio':>6} | {'GFLOP/s (of peak)':>22} | {'peak MB bn/torch':>16}",
        f"{'':<10} {'':>5} | {'barenet':>11} {'torch':>11} {'':>6} | {'barenet':>11} "
        f"{'torch':>11} {'':>6} | {'barenet':>10} {'torch':>11} |",
    ]
    for name, r in report["models"].items():
        bnr, t = r["barenet"], r.get("torch", {})
        mem = r.get("memory_mb", {})
        mem_s = "-"
        if mem:
            tm = mem.get("torch", {}).get("rss_peak_mb")
            mem_s = f"{mem['barenet']['rss_peak_mb']:.1f}/" + ("-" if tm is None else f"{tm:.1f}")

        def fmt(v, spec=".0f"):
            return "-" if v is None else format(v, spec)

        lines.append(
            f"{name:<10} {r['batch']:>5} | {fmt(bnr['train_ips']):>11} "
            f"{fmt(t.get('train_ips')):>11} "
            f"{fmt(r.get('train_ratio'), '.2f'):>6} | {fmt(bnr['infer_ips']):>11} "
            f"{fmt(t.get('infer_ips')):>11} {fmt(r.get('infer_ratio'), '.2f'):>6} | "
            f"{bnr['train_gflops']:>4.1f} ({bnr['gemm_fraction']:>3.0%}) "
            f"{fmt(t.get('train_gflops'), '.1f'):>5} ({fmt(t.get('gemm_fraction'), '.0%'):>3}) | "
            f"{mem_s:>16}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
