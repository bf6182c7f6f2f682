"""``barenet export MODEL_FILE --format onnx --out FILE``: a model file as an ONNX graph."""

from __future__ import annotations

import argparse

import numpy as np

from ..export import IR_VERSION, OPSET, export_onnx
from ..io import load_file
from ._common import out_file_arg, shape_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model file to ONNX (needs barenet[onnx])",
        description="Writes a float32 ONNX graph (opset 17, dynamic batch dimension) with the "
        "model's class names and normalisation in its metadata. --check runs it in "
        "onnxruntime beside barenet on random inputs and prints the largest difference.",
    )
    p.add_argument("model_file", metavar="MODEL_FILE", help="a model file written by barenet")
    p.add_argument("--format", choices=["onnx"], default="onnx", help="only onnx so far")
    p.add_argument(
        "--out", required=True, type=out_file_arg, metavar="FILE", help="the .onnx file to write"
    )
    p.add_argument(
        "--input-shape",
        type=shape_arg,
        default=None,
        metavar="C,H,W",
        help="one sample's shape (default: the model file's)",
    )
    p.add_argument(
        "--check", action="store_true", help="compare onnxruntime's outputs with barenet's"
    )
    p.set_defaults(func=run)


def compare_with_onnxruntime(model, path, shape, batch_sizes=(1, 7), seed: int = 0) -> float:
    """Worst relative difference max|ort - barenet| / max|barenet| over random inputs
    in [0, 1) of each batch size (barenet in eval mode, float32)."""
    try:
        import onnxruntime as ort  # optional engine: barenet[onnx]
    except ImportError:
        raise ImportError("--check needs onnxruntime: pip install barenet[onnx]") from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    worst = 0.0
    try:
        for n in batch_sizes:
            x = rng.random((n, *shape), dtype=np.float32)
            ours = np.asarray(model(x), dtype=np.float64)
            theirs = session.run(None, {"input": x})[0].astype(np.float64)
            if theirs.shape != ours.shape:
                raise ValueError(f"onnxruntime gives {theirs.shape}, barenet {ours.shape}")
            worst = max(worst, float(np.abs(theirs - ours).max() / max(np.abs(ours).max(), 1e-30)))
    finally:
        model.train(was_training)
    return worst


def run(args: argparse.Namespace) -> int:
    model, meta = load_file(args.model_file)
    shape = args.input_shape or tuple(meta.get("input_shape") or ())
    if not shape:
        raise ValueError(f"{args.model_file}: no input shape recorded; pass --input-shape C,H,W")
    path = export_onnx(model, args.out, input_shape=shape, metadata=meta)
    size = path.stat().st_size
    print(
        f"wrote {path} ({size / 1024:.1f} KiB, opset {OPSET}, IR {IR_VERSION}): "
        f"input (batch, {', '.join(map(str, shape))}) float32"
    )
    if args.check:
        worst = compare_with_onnxruntime(model, path, shape)
        print(f"onnxruntime vs barenet, batches 1 and 7: worst relative difference {worst:.2e}")
    return 0
