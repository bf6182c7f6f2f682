"""barenet against PyTorch CPU: training and inference throughput, peak memory, GFLOP/s.

    python benchmarks/bench.py [--quick] [--json PATH] [--threads 2] [--models mlp,cnn-deep]
                               [--no-memory] [--no-own-loop] [--device cuda [--cpu-baseline]]

``--device cuda`` runs both on the GPU instead (barenet through CuPy, PyTorch through
CUDA and cuDNN, TF32 off in both so that float32 means float32), same models, weights,
batches and dtype, interleaved the same way; every timed block ends by waiting for the
GPU. Data sits on the GPU before timing, except barenet's labels, which stay NumPy
arrays as ``fit`` gives them (checked on the host, copied over). Memory, own-loop and
GEMM-peak figures are CPU measurements and are left out there; ``--cpu-baseline`` adds
barenet's own training speed on this machine's CPU (``--threads`` threads), measured
after the GPU rows, and the GPU/CPU ratio.

Both frameworks run the same three models (``barenet.models.build_model``; the PyTorch
twin from ``barenet.testing.torch_twin``) with the same weights, batch and thread
count in one process, interleaved repeat by repeat (barenet, then PyTorch), so a
slow phase of the machine hits both; each repeat gives a ratio barenet/PyTorch and
the table reports the medians. Each timed block runs the same number of steps for
both, at least 20 (training) or 3 (inference) and enough for the slower framework's
block to last a quarter of a second, so that a cheap model is measured in its steady
state rather than in its threads' wake-up. Training = forward + loss + backward + SGD step;
inference = eval mode, batch 1000 (PyTorch under ``torch.inference_mode``).

Both run with idle OpenBLAS threads asleep (``OPENBLAS_THREAD_TIMEOUT=4``) and freed
memory kept in the process, as ``import barenet`` sets up (``barenet.runtime``). The
training rows step the way ``fit`` does (no input gradient for the data).

The "own loop" rows train each model in a fresh process that imports NumPy first, then
barenet, then PyTorch, with none of the settings above made by hand, and runs the
README's loop (``loss_fn(model(x), y)``, ``model.backward(loss_fn.backward())``,
``opt.step()``, ``opt.zero_grad()``), against PyTorch in that same process: what a
user's own script gets.

FLOPs per image come from the model (``Module.flops`` of each layer, on the shape it
receives): each layer's forward, plus its weight and input gradients in training,
except the first weighted layer's input gradient.

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
import importlib
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
    p.add_argument("--no-own-loop", action="store_true", help="skip the own-loop subprocesses")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N")
    p.add_argument(
        "--cpu-baseline",
        action="store_true",
        help="with --device cuda: also time barenet's training on the CPU",
    )
    p.add_argument("--_mem", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    p.add_argument("--_own_loop", metavar="MODEL", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# NumPy, barenet and PyTorch are imported by _load(), once the thread count is in the
# environment (the BLAS reads it when it loads).
np = bn = optim = torch = tnn = None


def _load(numpy_first: bool = False) -> None:
    """Import the frameworks: barenet first (as its own scripts do: its settings then
    precede NumPy), or NumPy first (as a user's script may)."""
    global np, bn, optim, torch, tnn
    order = ("numpy", "barenet") if numpy_first else ("barenet", "numpy")
    loaded = {name: importlib.import_module(name) for name in order}
    np, bn = loaded["numpy"], loaded["barenet"]
    optim = importlib.import_module("barenet.optim")
    try:
        import torch as torch_
        import torch.nn as tnn_
    except ImportError:  # the benchmark still measures barenet alone
        return
    torch, tnn = torch_, tnn_


DEVICE = "cpu"


def sync() -> None:
    """Wait for the GPU's queued work (nothing to wait for on the CPU)."""
    if DEVICE != "cpu":
        import cupy

        cupy.cuda.Device().synchronize()
        if torch is not None:
            torch.cuda.synchronize()


BATCH = {"mlp": 64, "cnn-small": 64, "cnn-deep": 100}
INFER_BATCH = 1000
LR = 0.01


INPUT_SHAPE = (1, 28, 28)
MODEL_ARGS = {"mlp": {"activation": "leaky_relu"}, "cnn-small": {}, "cnn-deep": {}}


def build_barenet(name: str):
    from barenet.models import build_model

    return build_model(name, INPUT_SHAPE, 10, **MODEL_ARGS.get(name, {}))


def build_torch(like):
    from barenet.testing import torch_twin

    return torch_twin(like, torch.float32)


def data(name: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 28, 28), dtype=np.float32)
    return x, rng.integers(0, 10, n).astype(np.int64)


def flops_per_image(model) -> float:
    """FLOPs of one training step per image: each layer's forward (``Module.flops``) and
    its two gradients (weights, input) of the same cost, except the first weighted
    layer's input gradient (the input is data)."""
    from barenet.core.hooks import probe

    total, first = 0.0, True
    for row in probe(model, INPUT_SHAPE):
        fwd = row.module.flops(row.in_shape)
        if fwd:
            total += fwd * (2 if first else 3)
            first = False
    return total


# -- steps ---------------------------------------------------------------------------------------
class BarenetRunner:
    def __init__(self, name, device: str = "cpu"):
        bn.seed(0)
        self.model = build_barenet(name)
        self.model.needs_input_grad = False  # as in fit and in PyTorch: the input is data
        self.loss = bn.SoftmaxCrossEntropy()
        self.opt = optim.SGD(self.model.parameters(), lr=LR)
        self.on_gpu = device != "cpu"
        if self.on_gpu:
            self.model.to(device)

    def train_step(self, x, y):
        self.model.train()
        self.opt.zero_grad()
        if self.on_gpu:  # as fit steps: the loss stays on the GPU, nothing waits for it
            self.loss.value(self.model(x), y, check_finite=False)
        else:
            self.loss(self.model(x), y)
        self.model.backward(self.loss.backward())
        self.opt.step()

    def infer(self, x):
        self.model.eval()
        return self.model(x)


class TorchRunner:
    def __init__(self, like, device: str = "cpu"):
        torch.manual_seed(0)
        self.model = build_torch(like).to(device)
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
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    sync()
    return time.perf_counter() - t0


def block_steps(fns: list, at_least: int, seconds: float) -> int:
    """Steps per timed block: at least ``at_least``, and enough that a block of the slower
    framework's steps (``fns``: one step each) lasts ``seconds`` (a cheap step timed 20
    at a time measures the wake-up of idle threads more than the step). Both frameworks
    get the same count."""
    slowest = max(min(timed(fn, 1) for _ in range(3)) for fn in fns)
    return max(at_least, math.ceil(seconds / max(slowest, 1e-9)))


def measure_model(
    name: str, repeats: int, steps: int, infer_steps: int, block_seconds: float
) -> dict:
    b = BATCH[name]
    x, y = data(name, b)
    xi, _ = data(name, INFER_BATCH, seed=1)
    bnr = BarenetRunner(name)
    tr = None if torch is None else TorchRunner(bnr.model, DEVICE)  # twin of the CPU weights
    if DEVICE == "cpu":
        runners = {"barenet": (bnr, (x, y), (xi,))}
    else:
        from barenet.core.device import to_device

        bnr.model.to(DEVICE)
        bnr.on_gpu = True
        runners = {"barenet": (bnr, (to_device(x, DEVICE), y), (to_device(xi, DEVICE),))}
    if tr is not None:
        dev = "cpu" if DEVICE == "cpu" else DEVICE
        tx, ty, ti = (torch.from_numpy(a).to(dev) for a in (x, y, xi))
        runners["torch"] = (tr, (tx, ty), (ti,))
    for r, tr_args, inf_args in runners.values():  # warm-up: workspaces, caches, kernels
        for _ in range(3):
            r.train_step(*tr_args)
        r.infer(*inf_args)
    train_fns = [lambda r=r, a=a: r.train_step(*a) for r, a, _ in runners.values()]
    infer_fns = [lambda r=r, a=a: r.infer(*a) for r, _, a in runners.values()]
    steps = block_steps(train_fns, steps, block_seconds)
    infer_steps = block_steps(infer_fns, infer_steps, block_seconds)
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
        "flops_per_image": flops_per_image(bnr.model),
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


# -- own loop (run in a fresh subprocess per model, NumPy imported first) ---------------------
def own_loop_child(name: str, repeats: int, steps: int, block_seconds: float) -> dict:
    """The README's training loop, written as a user would, against PyTorch's step."""
    b = BATCH[name]
    x, y = data(name, b)
    bn.seed(0)
    model = build_barenet(name)
    loss_fn = bn.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=LR)

    def step():
        loss_fn(model(x), y)  # forward, then the loss
        model.backward(loss_fn.backward())  # fills every .grad, returns dL/dx
        opt.step()
        opt.zero_grad()

    fns = {"barenet": step}
    if torch is not None:
        tr = TorchRunner(model)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch"] = lambda: tr.train_step(xt, yt)
    for fn in fns.values():
        for _ in range(3):
            fn()
    steps = block_steps(list(fns.values()), steps, block_seconds)
    ips = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            ips[k].append(b * steps / timed(fn, steps))
    out = {"batch": b, "steps_per_repeat": steps}
    out.update({k: {"train_ips": statistics.median(v)} for k, v in ips.items()})
    if "torch" in fns:
        out["train_ratio"] = statistics.median(
            [a / t for a, t in zip(ips["barenet"], ips["torch"])]
        )
    return out


def measure_own_loop(name: str, threads: int, quick: bool) -> dict:
    cmd = [sys.executable, __file__, "--threads", str(threads), "--_own_loop", name]
    # none of the settings barenet makes (or this script made) before NumPy loaded
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MALLOC_", "BARENET_", "OPENBLAS_THREAD_TIMEOUT"))
    }
    res = subprocess.run(cmd + ["--quick"] * quick, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"own-loop run of {name} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


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
        r = TorchRunner(build_barenet(name))
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


def main(argv=None) -> int:
    global DEVICE
    args = _parse(argv)
    DEVICE = args.device
    # BLAS threads must be fixed before NumPy (and its OpenBLAS) is first imported.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    _load(numpy_first=args._own_loop is not None)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if DEVICE != "cpu":
        try:
            gpu_info = _gpu_setup()
        except ImportError as exc:  # no CuPy or no GPU: one line, the way to install
            raise SystemExit(f"bench: {exc}") from None
    repeats, steps, infer_steps, block = (3, 5, 1, 0.05) if args.quick else (9, 20, 3, 0.25)
    if args._mem:
        print(json.dumps(memory_child(*args._mem)))
        return 0
    if args._own_loop:
        print(json.dumps(own_loop_child(args._own_loop, repeats, steps, block)))
        return 0
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [n for n in names if n not in BATCH]
    if unknown:
        raise SystemExit(f"bench: unknown model(s) {unknown}; choose from {sorted(BATCH)}")
    info = {
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "threads": args.threads,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "blas": blas_info(),
        "machine": platform.processor() or platform.machine(),
        "repeats": repeats,
        "min_train_steps_per_repeat": steps,
        "min_block_seconds": block,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "OPENBLAS_THREAD_TIMEOUT": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
        "keep_freed_memory": bn.runtime.keep_freed_memory(),
    }
    info["loadavg_at_start"] = os.getloadavg()[0]
    on_gpu = DEVICE != "cpu"
    if on_gpu:
        info.update(gpu_info)
    gemm = None if on_gpu else gemm_gflops()
    info["gemm_gflops_float32"] = gemm
    results = {}
    for name in names:
        res = measure_model(name, repeats, steps, infer_steps, block)
        res["barenet"]["train_gflops"] = res["barenet"]["train_ips"] * res["flops_per_image"] / 1e9
        res["barenet"]["gemm_fraction"] = gemm and res["barenet"]["train_gflops"] / gemm
        if torch is not None:
            t = res["torch"]
            t["train_gflops"] = t["train_ips"] * res["flops_per_image"] / 1e9
            t["gemm_fraction"] = gemm and t["train_gflops"] / gemm
        if on_gpu:
            results[name] = res
            continue
        if not args.no_own_loop:
            res["own_loop"] = measure_own_loop(name, args.threads, args.quick)
        if not args.no_memory:
            res["memory_mb"] = {"barenet": measure_memory("barenet", name, args.threads)}
            if torch is not None:
                res["memory_mb"]["torch"] = measure_memory("torch", name, args.threads)
        results[name] = res
    if on_gpu and args.cpu_baseline:
        for name in names:
            res = results[name]
            res["barenet_cpu"] = measure_cpu_baseline(name, repeats, steps, block)
            res["gpu_over_cpu"] = res["barenet"]["train_ips"] / res["barenet_cpu"]["train_ips"]
    info["loadavg_at_end"] = os.getloadavg()[0]
    report = {"info": info, "models": results}
    print(format_table(report))
    path = args.json or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results", "latest.json"
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, path)
    print(f"\nwrote {path}")
    return 0


def _gpu_setup() -> dict:
    """Check the GPU, turn TF32 off in PyTorch (CuPy's float32 GEMMs do not use it
    either) and describe the card."""
    from barenet.core.device import parse_device, require_cupy

    global DEVICE
    dev = DEVICE = parse_device(DEVICE)
    cupy = require_cupy()
    index = int(dev.split(":")[1])
    cupy.cuda.Device(index).use()
    props = cupy.cuda.runtime.getDeviceProperties(index)
    out = {
        "device": dev,
        "gpu": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
        "cupy": cupy.__version__,
        "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
    }
    if torch is not None:
        if not torch.cuda.is_available():
            raise SystemExit("bench: --device cuda needs PyTorch with CUDA for the comparison")
        torch.cuda.set_device(index)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        out["torch_gpu"] = torch.cuda.get_device_name(index)
        out["cudnn"] = torch.backends.cudnn.version()
        out["tf32"] = False
    return out


def measure_cpu_baseline(name: str, repeats: int, steps: int, block_seconds: float) -> dict:
    """barenet's own training speed on the CPU (the step above, on NumPy arrays)."""
    global DEVICE
    kept, DEVICE = DEVICE, "cpu"
    try:
        b = BATCH[name]
        x, y = data(name, b)
        r = BarenetRunner(name)
        for _ in range(2):
            r.train_step(x, y)
        n = block_steps([lambda: r.train_step(x, y)], max(2, steps // 4), block_seconds)
        ips = [b * n / timed(lambda: r.train_step(x, y), n) for _ in range(max(1, repeats // 3))]
        return {"train_ips": statistics.median(ips), "steps_per_repeat": n}
    finally:
        DEVICE = kept


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
    peak = info["gemm_gflops_float32"]
    where = (
        f"float32 GEMM peak {peak:.1f} GFLOP/s"
        if peak
        else f"on {info.get('gpu')} ({info.get('device')}), cupy {info.get('cupy')}, "
        f"cuDNN {info.get('cudnn')}, TF32 off"
    )
    lines = note + [
        f"numpy {info['numpy']} [{blas}]   torch {info['torch']} "
        f"({info['torch_threads']} threads)   {where}",
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
            f"{bnr['train_gflops']:>4.1f} ({fmt(bnr['gemm_fraction'], '.0%'):>3}) "
            f"{fmt(t.get('train_gflops'), '.1f'):>5} ({fmt(t.get('gemm_fraction'), '.0%'):>3}) | "
            f"{mem_s:>16}"
        )
        if "barenet_cpu" in r:
            lines.append(
                f"{'  barenet on this CPU, training':<34} | "
                f"{fmt(r['barenet_cpu']['train_ips']):>11} {'':>11} "
                f"GPU/CPU {r['gpu_over_cpu']:.1f}x"
            )
        own = r.get("own_loop")
        if own:
            lines.append(
                f"{'  own loop, NumPy imported first':<34} | "
                f"{fmt(own['barenet']['train_ips']):>11} "
                f"{fmt(own.get('torch', {}).get('train_ips')):>11} "
                f"{fmt(own.get('train_ratio'), '.2f'):>6} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
