"""``barenet evaluate MODEL_FILE [MODEL_FILE ...] --data DATASET``: loss, accuracy,
per-class figures. Several model files are evaluated one by one and as an ensemble
(their class probabilities averaged); the ensemble gets the per-class table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..io import atomic_write_bytes
from ..losses import MSELoss, SoftmaxCrossEntropy
from ..train import classification_report, evaluate, load_data, predict
from ..train.config import TrainConfig
from ..train.plots import plot_confusion_matrix
from ._common import (
    DATA_SETTINGS,
    add_setting_args,
    emit_json,
    int_arg,
    load_models,
    model_on_device,
    out_dir_arg,
    out_file_arg,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a saved model on a dataset's test split",
        description="Report loss, accuracy and per-class precision/recall/F1 of a model file "
        "on the test split of DATASET (default: the dataset it was trained on). With several "
        "model files, each member's loss and accuracy and those of their ensemble (the "
        "average of their class probabilities); the members must agree on class names and "
        "input shape.",
    )
    p.add_argument(
        "model_files",
        nargs="+",
        metavar="MODEL_FILE",
        help="a model file, or several to evaluate as an ensemble",
    )
    add_setting_args(
        p,
        [*DATA_SETTINGS, "limit_test", "device"],
        notes={"data": "default: the one the model was trained on"},
        aliases={"limit_test": ("--limit",)},
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
    p.set_defaults(func=run)


def _png_arg(text: str) -> str:
    path = Path(out_file_arg(text))
    if not path.suffix:
        path = path.with_suffix(".png")
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r:.80}: the confusion matrix is a PNG file")
    return out_file_arg(str(path))


def load_for_eval(args):
    """(model, metadata, DatasetSplit) for the model file(s) and the data arguments; for
    several files the model is their :class:`~barenet.Ensemble` and the metadata the
    first file's."""
    files = list(args.model_files)
    model, meta = load_models(files)
    if len(files) > 1:
        _warn_if_splits_differ(files, [m.metadata for m in model.members], args.data)
    return model, meta, _data_for(files[0], meta, args)


# Datasets whose test split is fixed by the files; the others are split by the seed.
_FIXED_TEST_SETS = ("mnist", "fashion-mnist")


def _warn_if_splits_differ(files, metas, data_arg) -> None:
    data = data_arg or metas[0].get("dataset")
    if data in _FIXED_TEST_SETS:
        return
    default = TrainConfig.defaults()
    splits = {
        (c.get("seed", default["seed"]), c.get("test_size", default["test_size"]))
        for c in ((m.get("config") or {}) for m in metas)
    }
    if len(splits) > 1:
        print(
            f"warning: {', '.join(map(str, files))} were trained on different seeded splits "
            f"of {data}; the test split of {files[0]} holds training samples of the others",
            file=sys.stderr,
        )


# Data settings that shape training, not the test split: left to the flags.
_TRAINING_ONLY = ("limit_train", "limit_test", "val_fraction", "augment", "download")


def _data_for(model_file, meta: dict, args):
    """The test data for a model file's metadata and the data arguments: the run's
    recorded data settings (its seed and test split), the flags given on top."""
    cfg = dict(meta.get("config") or {})
    data = args.data or meta.get("dataset") or cfg.get("data")
    if not data:
        raise ValueError(f"{model_file}: no dataset recorded; pass --data")
    settings = TrainConfig.settings()
    recorded = {
        k: v
        for k, v in cfg.items()
        if k in settings and settings[k].section == "data" and k not in _TRAINING_ONLY
    }
    shape = tuple(meta.get("input_shape") or ())
    size = list(shape[1:]) if data == "folder" and len(shape) == 3 else None
    dcfg = {
        **recorded,
        "data": data,
        "data_dir": args.data_dir if args.data_dir or args.data else cfg.get("data_dir"),
        "download": bool(args.download),
        "invert": bool((meta.get("normalisation") or {}).get("invert")),
        "seed": cfg.get("seed", TrainConfig.defaults()["seed"]),
        "limit_test": args.limit_test,
        "size": size,
    }
    d = load_data(dcfg)
    if shape and tuple(d.input_shape) != shape:
        raise ValueError(
            f"{model_file}: the model takes input {shape}, but {data} has {d.input_shape}"
        )
    return d


def run(args: argparse.Namespace) -> int:
    model, meta, d = load_for_eval(args)
    model_on_device(model, args.device)
    classify = d.task == "classification"
    loss_fn = SoftmaxCrossEntropy() if classify else MSELoss()
    members = []
    if len(args.model_files) > 1:
        for path, m in zip(args.model_files, model.members):
            r = evaluate(m, loss_fn, d.x_test, d.y_test, batch_size=args.batch_size, task=d.task)
            members.append({"model_file": str(path), **r})
    res = evaluate(model, loss_fn, d.x_test, d.y_test, batch_size=args.batch_size, task=d.task)
    name = str(args.model_files[0]) if not members else "ensemble"
    out = {"model_file": name, "data": d.name, "n": len(d.x_test), **res}
    if members:
        out["model_files"] = [str(f) for f in args.model_files]
        out["members"] = members
    if classify:
        names = meta.get("class_names") or d.class_names
        rep = classification_report(d.y_test, predict(model, d.x_test, args.batch_size), names)
        out.update(macro_f1=rep["macro_f1"], per_class=rep["per_class"])
        out["confusion_matrix"] = rep["confusion_matrix"]
        plot = args.plot or (Path(args.out) / "confusion_matrix.png" if args.out else None)
        if plot:
            title = Path(name).stem if not members else f"ensemble of {len(members)}"
            written = plot_confusion_matrix(rep["confusion_matrix"], names, plot, title)
            out["plot"] = str(written)
    if args.out:
        atomic_write_bytes(Path(args.out) / "report.json", [json.dumps(out, indent=1).encode()])
    if args.json:
        emit_json(out)
        return 0
    if members:
        print(
            f"{len(members)} models and their ensemble on {d.name} ({len(d.x_test)} test samples)"
        )
        w = max(len(mem["model_file"]) for mem in members)
        for mem in members:
            acc = 100 * mem["accuracy"]
            print(f"{mem['model_file']:<{w}}  loss {mem['loss']:.4f}  accuracy {acc:.2f} %")
        print("ensemble (averaged probabilities):")
    else:
        print(f"{name} on {d.name} ({len(d.x_test)} test samples)")
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
