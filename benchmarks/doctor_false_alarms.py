"""How often the layer doctor calls a correct gradient wrong, and what a check costs.

    python benchmarks/doctor_false_alarms.py [--cases 1000] [--seed 0] [--twin]

Draws ``--cases`` random correct layers (``barenet.doctor.random_cases``: the cases of
``barenet.testing.LAYER_CASES`` on random inputs, convolutions and poolings of random
kernel, stride, padding and batch size from 1, Linear, BatchNorm in 1-D and 2-D,
activations, dropout, cross-entropy with and without soft targets or smoothing, small
conv-ReLU-maxpool-linear models; barenet layers and ``barenet.reference`` function pairs;
both kernel modes) and checks each; a false alarm is a case where any tensor is not
``ok``. ``--twin`` also compares barenet's layers with their PyTorch twins. Then the
doctor's own cost on a Conv2d(3→4, 3x3, stride 2, padding 1) of input 2x3x9x9, as a
layer and as the reference function pair, against one forward and backward of it
measured in the same run.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time
import warnings

import numpy as np

import barenet as bn
from barenet import reference as R
from barenet.doctor import check_layer
from barenet.doctor.random_cases import build, random_case


def false_alarms(n: int, seed: int, twin) -> int:
    rng = np.random.default_rng(seed)
    kinds = collections.Counter()
    alarms = []
    t0 = time.perf_counter()
    for _ in range(n):
        case = random_case(rng)
        kind = case.label.split(" ")[0].split("(")[0]
        kinds["LAYER_CASES" if kind.startswith("table:") else kind] += 1
        with bn.kernels(case.mode):
            report = check_layer(build(case), case.input_shape, twin, seed=case.seed,
                                 **case.kwargs)  # fmt: skip
        if not report.ok:
            alarms.append(f"{case.label} ({case.mode}, seed {case.seed}): {report.diagnoses}")
    wall = time.perf_counter() - t0
    print(f"{n} random correct cases (seed {seed}, twins {'on' if twin is None else 'off'}): "
          f"{len(alarms)} false alarms ({len(alarms) / n:.2%}), {wall:.0f} s")  # fmt: skip
    print("  drawn: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    for a in alarms:
        print("  FALSE ALARM " + a)
    return len(alarms)


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cost(repeats: int = 5) -> None:
    bn.set_default_dtype(np.float64)
    layer = bn.Conv2d(3, 4, 3, stride=2, padding=1)
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9))
    dy = np.ones((2, 4, 5, 5))

    def step():
        layer(x)
        layer.backward(dy)

    one = _median(step, 50)
    params = {"w": (4, 3, 3, 3), "b": (4,)}
    args = {"stride": (2, 2), "padding": (1, 1, 1, 1)}
    runs = {
        "Conv2d layer": lambda: check_layer(layer, x.shape, twin=False),
        "conv2d reference functions": lambda: check_layer(
            (R.conv2d_forward, R.conv2d_backward), x.shape, twin=False, params=params, args=args
        ),
    }
    print(f"one forward + backward of the Conv2d layer: {one * 1e3:.2f} ms")
    n = x.size + 4 * 3 * 3 * 3 + 4  # elements perturbed
    for name, fn in runs.items():
        t = _median(fn, repeats)
        print(f"check of a {name} on 2x3x9x9 ({n} elements, {2 * n} forwards): {t:.2f} s "
              f"= {t / one:.0f} x one forward + backward")  # fmt: skip
    bn.set_default_dtype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--twin", action="store_true", help="also compare with PyTorch twins")
    args = ap.parse_args()
    # PyTorch's twin of a "same"-padded even kernel says it pads a copy: not a finding.
    warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    false_alarms(args.cases, args.seed, None if args.twin else False)
    cost()
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
