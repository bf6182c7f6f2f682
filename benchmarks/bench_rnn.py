"""barenet's LSTM and GRU against torch.nn.LSTM / GRU on the CPU: training and inference.

    python benchmarks/bench_rnn.py [--threads 2] [--repeats 7] [--quick] [--json PATH]
                                   [--hidden 256] [--batch 64] [--steps 64] [--layers 1]

Both frameworks run the same layer (input = hidden = 256, one layer, batch 64, 64 steps,
float32, seq-first) with the same weights and the same thread count in one process,
interleaved repeat by repeat (barenet, then PyTorch), so that a slow phase of the
machine hits both; each repeat gives a ratio (barenet's throughput / PyTorch's) and the
table reports the medians, and the load average before and after (other work on the
machine moves both, PyTorch's threads more than barenet's).

Training = forward, backward of the fixed random gradient of the outputs (the gradient
of Σ y ⊙ R), an SGD step, zero_grad; inference = eval mode (PyTorch under
``torch.inference_mode``). Throughput is in sequences per second (batch / time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="BLAS / intra-op threads (default 2)")
    p.add_argument("--repeats", type=int, default=7, help="interleaved repeats (default 7)")
    p.add_argument("--quick", action="store_true", help="3 repeats of short blocks (a smoke run)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--cells", default="LSTM,GRU", help="comma-separated: LSTM, GRU, RNN")
    p.add_argument("--json", default=None, help="also write the results here")
    return p.parse_args(argv)


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def _time(fn, min_s: float) -> float:
    """Seconds per call of ``fn``, over enough calls to last ``min_s`` (at least 3)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < min_s:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def run(args) -> dict:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    import barenet as bn

    torch = None
    try:
        import torch as torch_

        torch = torch_
        torch.set_num_threads(args.threads)
    except ImportError:
        print("torch is not installed: barenet alone", file=sys.stderr)
    repeats, min_s = (3, 0.2) if args.quick else (args.repeats, 1.0)
    t, n, h = args.steps, args.batch, args.hidden
    rng = np.random.default_rng(0)
    x = rng.standard_normal((t, n, h)).astype(np.float32)
    r = rng.standard_normal((t, n, h)).astype(np.float32)
    results = {"load_before": _loadavg(), "config": vars(args).copy(), "rows": {}}
    for cell in [c.strip().upper() for c in args.cells.split(",") if c.strip()]:
        results["rows"][cell] = _measure(cell, args, bn, torch, x, r, repeats, min_s)
    results["load_after"] = _loadavg()
    return results


def _steps(cell, args, bn, torch, x, r):
    """(barenet's training step, its inference, PyTorch's two, or Nones) for ``cell``."""
    h = args.hidden
    ours = getattr(bn, cell)(h, h, num_layers=args.layers)
    opt = bn.optim.SGD(ours.parameters(), lr=1e-3)

    def our_train():
        ours.train()
        ours(x)
        ours.backward(r)
        opt.step()
        opt.zero_grad()

    def our_infer():
        ours.eval()
        ours(x)

    if torch is None:
        return our_train, our_infer, None, None
    theirs = getattr(torch.nn, cell)(h, h, num_layers=args.layers)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    topt = torch.optim.SGD(theirs.parameters(), lr=1e-3)
    xt, rt = torch.from_numpy(x), torch.from_numpy(r)

    def their_train():
        theirs.train()
        y, _ = theirs(xt)
        y.backward(rt)
        topt.step()
        topt.zero_grad()

    def their_infer():
        theirs.eval()
        with torch.inference_mode():
            theirs(xt)

    return our_train, our_infer, their_train, their_infer


def _measure(cell, args, bn, torch, x, r, repeats: int, min_s: float) -> dict:
    our_train, our_infer, their_train, their_infer = _steps(cell, args, bn, torch, x, r)
    timings = {"train": ([], []), "infer": ([], [])}
    for _ in range(repeats):
        for kind, mine, other in (
            ("train", our_train, their_train),
            ("infer", our_infer, their_infer),
        ):
            timings[kind][0].append(_time(mine, min_s))
            if other is not None:
                timings[kind][1].append(_time(other, min_s))
    row = {}
    n = args.batch
    for kind, (a, b) in timings.items():
        row[f"{kind}_barenet"] = n / statistics.median(a)
        if b:
            row[f"{kind}_torch"] = n / statistics.median(b)
            row[f"{kind}_ratio"] = statistics.median(tb / ta for ta, tb in zip(a, b))
    return row


def _table(res: dict) -> str:
    cfg = res["config"]
    lines = [
        f"{cfg['layers']}-layer cells, input = hidden = {cfg['hidden']}, batch {cfg['batch']}, "
        f"{cfg['steps']} steps, float32, {cfg['threads']} threads; sequences/s, "
        "barenet vs PyTorch (ratio: median of the per-repeat ratios)",
        f"load average before: {res['load_before']}, after: {res['load_after']}",
        "",
        "| cell | training | ratio | inference | ratio |",
        "|---|---|---|---|---|",
    ]
    for cell, row in res["rows"].items():
        cols = [cell]
        for kind in ("train", "infer"):
            if f"{kind}_torch" in row:
                cols += [
                    f"{row[f'{kind}_barenet']:,.0f} vs {row[f'{kind}_torch']:,.0f}",
                    f"{row[f'{kind}_ratio']:.2f}",
                ]
            else:
                cols += [f"{row[f'{kind}_barenet']:,.0f}", "-"]
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = _parse(argv)
    res = run(args)
    print(_table(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
