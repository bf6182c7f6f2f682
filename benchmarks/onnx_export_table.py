"""The ONNX export table: every layer case and zoo model, ONNX's full check, and the
worst relative difference between onnxruntime and barenet (eval mode, float32).

    python benchmarks/onnx_export_table.py [MODEL_FILE ...] [--json OUT]

Cases come from ``barenet.testing.LAYER_CASES`` where that table exists, plus the
export cases of ``tests/export/cases.py`` (containers, asymmetric "same" padding);
zoo models are built for 1x8x8, 1x28x28 and 3x12x10 inputs with random BatchNorm
statistics; model files given on the command line (trained runs) are added as they are.
The difference is max|ort - barenet| / max|barenet| over normal random inputs with
batch sizes 1 and 7, the figure the tests hold under 1e-4.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import barenet as bn
from barenet.models import MODELS, build_model

ROOT = Path(__file__).resolve().parents[1]
ZOO_SHAPES = [(1, 8, 8), (1, 28, 28), (3, 12, 10)]


def _cases_module():
    spec = importlib.util.spec_from_file_location("export_cases", ROOT / "tests/export/cases.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def measure(
    model: bn.Module, shape, folder: Path, seed: int = 0, indices=None
) -> tuple[str, float]:
    """(checker verdict, worst relative difference) for one model; ``indices`` (low,
    high): it reads int64 tokens from that range. A recurrent layer is compared on its
    outputs y (the first array of its (y, state))."""
    import onnx
    import onnxruntime as ort

    path = bn.export_onnx(model, folder / "m.onnx", input_shape=shape)
    try:
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        verdict = "pass"
    except onnx.checker.ValidationError as exc:
        verdict = f"FAIL: {str(exc).splitlines()[0]}"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model.eval()
    rng = np.random.default_rng(seed)
    worst = 0.0
    for n in (1, 7):
        if indices is None:
            x = rng.normal(size=(n, *shape)).astype(np.float32)
        else:
            x = rng.integers(*indices, (n, *shape))
        out = model(x)
        ours = np.asarray(out[0] if isinstance(out, tuple) else out, np.float64)
        theirs = session.run(None, {"input": x})[0].astype(np.float64)
        worst = max(worst, float(np.abs(theirs - ours).max() / max(np.abs(ours).max(), 1e-30)))
    return verdict, worst


def main() -> None:
    import onnx
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_files", nargs="*", metavar="MODEL_FILE")
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    args = ap.parse_args()
    cases = _cases_module()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in cases.layer_cases():
            bn.seed(0)
            model = cases.randomise_statistics(case.make())
            high = getattr(case, "index_high", None)
            indices = None if high is None else (case.index_low, high)
            verdict, worst = measure(model, case.input_shape[1:], folder, indices=indices)
            rows.append(
                ("layer", case.id, case.layer_type.__name__, case.input_shape[1:], verdict, worst)
            )
        for name in MODELS:
            for shape in ZOO_SHAPES:
                bn.seed(0)
                model = cases.randomise_statistics(build_model(name, shape, 10))
                verdict, worst = measure(model, shape, folder)
                rows.append(("zoo", name, "Sequential", shape, verdict, worst))
        for f in args.model_files:
            model, meta = bn.io.load_file(f)
            shape = tuple(meta["input_shape"])
            verdict, worst = measure(model, shape, folder)
            rows.append(("trained", f, meta.get("dataset", "?"), shape, verdict, worst))
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, opset 17, IR 8\n")
    print("| kind | case | layer / data | sample shape | checker | worst rel. diff |")
    print("|---|---|---|---|---|---|")
    for kind, case, what, shape, verdict, worst in rows:
        dims = "x".join(map(str, shape))
        print(f"| {kind} | {case} | {what} | {dims} | {verdict} | {worst:.1e} |")
    worst_all = max(r[5] for r in rows)
    fails = sum(r[4] != "pass" for r in rows)
    print(f"\n{len(rows)} rows, {fails} checker failures, worst difference {worst_all:.1e}")
    if args.json:
        keys = ("kind", "case", "what", "shape", "checker", "worst_rel_diff")
        Path(args.json).write_text(json.dumps([dict(zip(keys, r)) for r in rows], indent=1))


if __name__ == "__main__":
    main()
