"""``barenet train MODEL --data DATASET --out DIR``: one run of ``run_training``.

``mpiexec -n N barenet train ...`` (or ``python -m mpi4py -m barenet train ...``)
trains the one model data-parallel over N processes (see :mod:`barenet.distributed`):
``--batch-size`` is the global batch, only rank 0 writes and prints, ``--resume``
continues as in one process, an error on any rank ends them all with its message."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._common import (
    add_data_args,
    add_device_arg,
    augment_arg,
    float_arg,
    int_arg,
    json_object_arg,
    out_dir_arg,
    schedule_arg,
)


def add_parser(sub) -> None:
    from ..data.transforms import AUGMENT_NAMES
    from ..models import MODELS

    p = sub.add_parser(
        "train",
        help="train a named model on a dataset and save it with its history and plots",
        description="Train MODEL on DATASET; writes model.safetensors, history.csv, "
        "history.json, metrics.json and learning-curve PNGs into --out.",
    )
    p.add_argument("model", metavar="MODEL", help=f"one of: {', '.join(MODELS)}")
    add_data_args(p)
    p.add_argument("--out", required=True, type=out_dir_arg, metavar="DIR", help="output folder")
    p.add_argument("--epochs", type=int_arg(1, 1_000_000), default=5, help="passes over the data")
    p.add_argument("--batch-size", type=int_arg(1), default=64, help="samples per step")
    p.add_argument(
        "--lr",
        type=float_arg(0, lo_open=True),
        default=None,
        help="learning rate (default: the optimizer's: 0.01 for sgd, momentum, nesterov and "
        "adagrad, 0.001 for rmsprop, adam and adamw)",
    )
    p.add_argument(
        "--optimizer",
        default="adam",
        choices=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"],
        help="update rule (momentum and nesterov are SGD with --momentum)",
    )
    p.add_argument(
        "--momentum",
        type=float_arg(0, 1, hi_open=True),
        default=0.9,
        help="momentum of --optimizer momentum/nesterov, in [0, 1)",
    )
    p.add_argument(
        "--weight-decay",
        type=float_arg(0),
        default=0.0,
        help="L2 penalty (adamw: decoupled decay; 0 keeps AdamW's 0.01)",
    )
    p.add_argument(
        "--label-smoothing",
        type=float_arg(0, 1),
        default=0.0,
        metavar="EPS",
        help="train against (1 - EPS) one-hot + EPS / classes, in [0, 1] (classification)",
    )
    p.add_argument(
        "--schedule",
        type=schedule_arg,
        default=None,
        help="learning-rate schedule: step[:N[:gamma]], cosine[:min_lr], "
        "plateau[:factor[:patience]] or none (default: constant)",
    )
    p.add_argument(
        "--augment",
        type=augment_arg,
        default=None,
        metavar="SPEC",
        help='training-time augmentations, comma-separated, e.g. "flip,padcrop:2,erase" '
        "(default: none): " + "; ".join(h for _, h in AUGMENT_NAMES.values()),
    )
    p.add_argument("--invert", action="store_true", help="train on inverted images (1 - x)")
    p.add_argument(
        "--init",
        default="default",
        choices=["default", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform"],
        help="weight initialisation (default: PyTorch's layer defaults)",
    )
    p.add_argument(
        "--model-args",
        type=json_object_arg,
        default=None,
        metavar="JSON",
        help="builder arguments, e.g. '{\"hidden\": [256, 128]}'",
    )
    p.add_argument(
        "--val-fraction",
        type=float_arg(0, 1, hi_open=True),
        default=0.1,
        help="share of the training data held out for validation, in [0, 1)",
    )
    p.add_argument(
        "--test-fraction",
        type=float_arg(0, 1, hi_open=True),
        default=0.2,
        metavar="F",
        help="share held out as the test split for digits, kaggle and folder data, in "
        "[0, 1) (default 0.2); 0 trains on all of it, e.g. a final Kaggle submission "
        "with --test-fraction 0 --val-fraction 0",
    )
    p.add_argument(
        "--limit-train", type=int_arg(1), default=None, metavar="N", help="first N training samples"
    )
    p.add_argument(
        "--limit-test", type=int_arg(1), default=None, metavar="N", help="first N test samples"
    )
    p.add_argument(
        "--patience",
        type=int_arg(1),
        default=None,
        help="stop after this many epochs without a better validation score (default: never)",
    )
    p.add_argument(
        "--seed", type=int_arg(0, 2**63 - 1), default=0, help="seed of weights, splits, batches"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from --out/checkpoints/last (an error if there is none)",
    )
    p.add_argument(
        "--record-grad-norms", action="store_true", help="keep each layer's gradient norm per step"
    )
    p.add_argument("--no-plots", action="store_true", help="write no PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_device_arg(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> dict:
    return {
        "model": args.model,
        "model_args": args.model_args or {},
        "data": args.data,
        "data_dir": args.data_dir,
        "download": args.download,
        "val_fraction": args.val_fraction,
        "test_size": args.test_fraction,
        "limit_train": args.limit_train,
        "limit_test": args.limit_test,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "momentum": args.momentum,
        "label_smoothing": args.label_smoothing,
        "augment": args.augment,
        "invert": args.invert,
        "init": args.init,
        "schedule": args.schedule,
        "seed": args.seed,
        "quiet": args.quiet,
        "record_grad_norms": args.record_grad_norms,
        "patience": args.patience,
        "resume": True if args.resume else None,
        "plots": not args.no_plots,
        "device": args.device,
    }


def run(args: argparse.Namespace) -> int:
    from ..distributed import abort_on_error, init
    from ..train import run_training

    comm = init()  # under mpiexec -n N (N > 1): one model trained by N processes
    out = Path(args.out)
    created = not out.exists()
    with abort_on_error(comm, "barenet train", exit_code=_exit_code):
        try:
            m = run_training(config_from_args(args), out, comm=comm)
        except BaseException:
            if created and (comm is None or comm.rank == 0):
                _remove_empty_folders(out)  # a run that failed before writing leaves nothing
            raise
    if comm is not None and comm.rank != 0:
        return 0
    if m.get("stopped_reason") == "diverged":
        print(f"barenet train: error: {m.get('error')}", file=sys.stderr)
        return 3
    if not args.quiet:
        if m["n_test"] == 0:
            print("no test split (--test-fraction 0): the model has not been tested")
        elif m["task"] == "classification":
            print(f"test accuracy {100 * m['test_accuracy']:.2f} %  test loss {m['test_loss']:.4f}")
        else:
            print(f"test MSE {m['test_mse']:.6f}")
        print(f"{m['epochs']} epochs in {m['wall_time_s']:.1f} s; files in {args.out}")
    return 0


def _exit_code(exc: BaseException) -> int:
    """The exit code of the CLI's error boundary for an error ending an MPI job."""
    from ..train.trainer import TrainingDiverged
    from . import EXIT_DIVERGED, classify

    return EXIT_DIVERGED if isinstance(exc, TrainingDiverged) else classify(exc)[0]


def _remove_empty_folders(top: Path) -> None:
    """Remove ``top`` and the folders inside it if they hold no file at all."""
    if not top.is_dir():
        return
    for folder, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
        try:
            os.rmdir(folder)
        except OSError:  # not empty: keep it (and so every folder above it)
            continue
