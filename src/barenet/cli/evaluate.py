"""``barenet evaluate MODEL_FILE --data DATASET``: loss, accuracy, per-class figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import (
    add_data_args,
    add_device_arg,
    emit_json,
    int_arg,
    model_on_device,
    out_dir_arg,
    out_file_arg,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a saved model on a dataset's test split",
        description="Report loss, accuracy and per-class precision/recall/F1 of a model file "
        "on the test split of DATASET (default: the dataset it was trained on).",
    )
    p.add_argument("model_file", metavar="MODEL_FILE", help="a model file written by barenet")
    add_data_args(p, required=False)
    p.add_argument(
        "--limit", type=int_arg(1), default=None, metavar="N", help="first N test samples"
    )
    p.add_argument("--batch-size", type=int_arg(1), default=500, help="samples per forward pass")
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    p.add_argument(
        "--out",
        type=out_dir_arg,
        metavar="DIR",
        help="write confusion_matrix.png and report.json here",
    )
    p.add_argument(
        "--plot",
        type=_png_arg,
        metavar="PATH",
        help="write the confusion-matrix PNG to PATH (.png is added when PATH has no suffix)",
    )
    add_device_arg(p)
    p.set_defaults(func=run)


def _png_arg(text: str) -> str:
    path = Path(out_file_arg(text))
    if not path.suffix:
        path = path.with_suffix(".png")
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r:.80}: the confusion matrix is a PNG file")
    return out_file_arg(str(path))


def load_for_eval(args):
    """(model, metadata, DatasetSplit) for a model file and the data arguments."""
    from ..io import load_file
    from ..train import load_data

    model, meta = load_file(args.model_file)
    cfg = dict(meta.get("config") or {})
    data = args.data or meta.get("dataset") or cfg.get("data")
    if not data:
        raise ValueError(f"{args.model_file}: no dataset recorded; pass --data")
    shape = tuple(meta.get("input_shape") or ())
    size = list(shape[1:]) if data == "folder" and len(shape) == 3 else None
    dcfg = {
        "data": data,
        "data_dir": args.data_dir if args.data_dir or args.data else cfg.get("data_dir"),
        "download": bool(getattr(args, "download", False)),
        "invert": bool((meta.get("normalisation") or {}).get("invert")),
        "seed": cfg.get("seed", 0),
        "test_size": cfg.get("test_size", 0.2),
        "limit_test": args.limit,
        "size": size,
    }
    d = load_data(dcfg)
    if shape and tuple(d.input_shape) != shape:
        raise ValueError(
            f"{args.model_file}: the model takes input {shape}, but {data} has {d.input_shape}"
        )
    return model, meta, d


def run(args: argparse.Namespace) -> int:
    from ..losses import MSELoss, SoftmaxCrossEntropy
    from ..train import classification_report, evaluate, predict

    model, meta, d = load_for_eval(args)
    model_on_device(model, args.device)
    classify = d.task == "classification"
    loss_fn = SoftmaxCrossEntropy() if classify else MSELoss()
    res = evaluate(model, loss_fn, d.x_test, d.y_test, batch_size=args.batch_size, task=d.task)
    out = {"model_file": str(args.model_file), "data": d.name, "n": len(d.x_test), **res}
    if classify:
        names = meta.get("class_names") or d.class_names
        rep = classification_report(d.y_test, predict(model, d.x_test, args.batch_size), names)
        out.update(macro_f1=rep["macro_f1"], per_class=rep["per_class"])
        out["confusion_matrix"] = rep["confusion_matrix"]
        plot = args.plot or (Path(args.out) / "confusion_matrix.png" if args.out else None)
        if plot:
            from ..train.plots import plot_confusion_matrix

            written = plot_confusion_matrix(
                rep["confusion_matrix"], names, plot, Path(args.model_file).stem
            )
            out["plot"] = str(written)
    if args.out:
        from ..io import atomic_write_bytes

        atomic_write_bytes(Path(args.out) / "report.json", [json.dumps(out, indent=1).encode()])
    if args.json:
        emit_json(out)
        return 0
    print(f"{args.model_file} on {d.name} ({len(d.x_test)} test samples)")
    if classify:
        print(
            f"loss {res['loss']:.4f}  accuracy {100 * res['accuracy']:.2f} %  "
            f"macro F1 {out['macro_f1']:.4f}"
        )
        w = max(8, *(len(k) for k in out["per_class"]))
        print(f"{'class':<{w}}  precision  recall     F1  support")
        for k, v in out["per_class"].items():
            print(
                f"{k:<{w}}  {v['precision']:9.4f}  {v['recall']:6.4f}  {v['f1']:.4f}  "
                f"{v['support']:7d}"
            )
        if "plot" in out:
            print(f"confusion matrix: {out['plot']}", file=sys.stderr)
    else:
        print(f"loss {res['loss']:.6f}  MSE {res['mse']:.6f}")
    return 0
