"""The figures of a GPU check in a few lines: ``python benchmarks/gpu_summary.py OUT``.

Reads what ``benchmarks/gpu_check.sh`` wrote under OUT (``gpu_tests.xml``,
``parity.json``, ``bench_cuda.json``, ``train_cuda.json``; any may be missing) and prints
the test counts, the worst parity error of each family, barenet against PyTorch CUDA per
model, the issue's two targets for ``cnn-deep`` training (>= 20x barenet's own CPU speed,
>= 0.3x PyTorch CUDA) with whether each is met, and the timed training run.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

TARGET_OVER_CPU = 20.0
TARGET_OVER_TORCH = 0.3


def _load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def summarise(out: Path) -> list[str]:
    lines = []
    try:
        suite = ET.parse(out / "gpu_tests.xml").getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        a = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        passed = a["tests"] - a["failures"] - a["errors"] - a["skipped"]
        lines.append(
            f"gpu tests: {passed} passed, {a['failures']} failed, {a['errors']} errors, "
            f"{a['skipped']} skipped"
        )
    except (OSError, ET.ParseError, AttributeError):
        lines.append("gpu tests: no junit file")
    parity = _load(out / "parity.json") or {}
    for family, v in parity.items():
        lines.append(f"  worst {family}: {v['worst']:.2e} ({v['where']})")
    bench = _load(out / "bench_cuda.json")
    if bench:
        info = bench["info"]
        lines.append(f"bench on {info.get('gpu')} ({info.get('device')}), TF32 off")
        for name, r in bench["models"].items():
            b, t = r["barenet"], r.get("torch", {})
            lines.append(
                f"  {name}: train {b['train_ips']:.0f} vs {t.get('train_ips', float('nan')):.0f}"
                f" img/s (x{r.get('train_ratio', float('nan')):.2f}), infer "
                f"{b['infer_ips']:.0f} vs {t.get('infer_ips', float('nan')):.0f} "
                f"(x{r.get('infer_ratio', float('nan')):.2f})"
                + (f", GPU/CPU x{r['gpu_over_cpu']:.1f}" if "gpu_over_cpu" in r else "")
            )
        deep = bench["models"].get("cnn-deep")
        if deep:
            for what, value, target in (
                ("cnn-deep training / barenet CPU", deep.get("gpu_over_cpu"), TARGET_OVER_CPU),
                ("cnn-deep training / PyTorch CUDA", deep.get("train_ratio"), TARGET_OVER_TORCH),
            ):
                if value is None:
                    lines.append(f"target {what} >= {target:g}: not measured")
                else:
                    met = "met" if value >= target else "NOT met"
                    lines.append(f"target {what} >= {target:g}: {value:.2f} ({met})")
    else:
        lines.append("bench: no results")
    train = _load(out / "train_cuda.json")
    if train:
        for e in train["epochs"]:
            lines.append(
                f"train cnn-deep epoch {e['epoch']}: {e['time_s']:.1f} s, "
                f"{e['images_per_s']:.0f} img/s, train acc {e['train_acc']:.4f}"
            )
        lines.append(f"  test accuracy {train['test']['accuracy']:.4f} on {train['device']}")
    else:
        lines.append("train: no results")
    return lines


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python benchmarks/gpu_summary.py OUT", file=sys.stderr)
        return 2
    print("\n".join(summarise(Path(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
