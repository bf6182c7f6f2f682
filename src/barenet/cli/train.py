"""``barenet train MODEL --data DATASET --out DIR``: one run of ``run_training``.

``mpiexec -n N barenet train ...`` (or ``python -m mpi4py -m barenet train ...``)
trains the one model data-parallel over N processes (see :mod:`barenet.distributed`):
``--batch-size`` is the global batch, only rank 0 writes and prints, ``--resume``
continues as in one process, an error on any rank ends them all with its message."""

from __future__ import annotations

import argparse
import sys

from ._common import add_data_args, parse_json_arg


def add_parser(sub) -> None:
    from ..models import MODELS

    p = sub.add_parser(
        "train",
        help="train a named model on a dataset and save it with its history and plots",
        description="Train MODEL on DATASET; writes model.safetensors, history.csv, "
        "history.json, metrics.json and learning-curve PNGs into --out.",
    )
    p.add_argument("model", metavar="MODEL", help=f"one of: {', '.join(MODELS)}")
    add_data_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None, help="learning rate (optimizer default)")
    p.add_argument(
        "--optimizer",
        default="adam",
        choices=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"],
    )
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", default=None, help="step[:N[:gamma]], cosine, plateau or none")
    p.add_argument("--augment", default=None, help='e.g. "shift,noise:0.05,crop:22"')
    p.add_argument("--invert", action="store_true", help="train on inverted images (1 - x)")
    p.add_argument(
        "--init",
        default="default",
        choices=["default", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform"],
    )
    p.add_argument(
        "--model-args",
        default=None,
        metavar="JSON",
        help="builder arguments, e.g. '{\"hidden\": [256, 128]}'",
    )
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--limit-train", type=int, default=None, metavar="N")
    p.add_argument("--limit-test", type=int, default=None, metavar="N")
    p.add_argument("--patience", type=int, default=None, help="early stopping patience")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoints/last")
    p.add_argument("--record-grad-norms", action="store_true")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> dict:
    return {
        "model": args.model,
        "model_args": parse_json_arg(args.model_args, "--model-args"),
        "data": args.data,
        "data_dir": args.data_dir,
        "download": args.download,
        "val_fraction": args.val_fraction,
        "limit_train": args.limit_train,
        "limit_test": args.limit_test,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "momentum": args.momentum,
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
    }


def run(args: argparse.Namespace) -> int:
    from ..distributed import abort_on_error, init
    from ..train import run_training

    comm = init()  # under mpiexec -n N (N > 1): one model trained by N processes
    with abort_on_error(comm, "barenet train"):
        m = run_training(config_from_args(args), args.out, comm=comm)
    if comm is not None and comm.rank != 0:
        return 0
    if m.get("stopped_reason") == "diverged":
        print(f"barenet train: error: {m.get('error')}", file=sys.stderr)
        return 3
    if not args.quiet:
        if m["task"] == "classification":
            print(f"test accuracy {100 * m['test_accuracy']:.2f} %  test loss {m['test_loss']:.4f}")
        else:
            print(f"test MSE {m['test_mse']:.6f}")
        print(f"{m['epochs']} epochs in {m['wall_time_s']:.1f} s; files in {args.out}")
    return 0
