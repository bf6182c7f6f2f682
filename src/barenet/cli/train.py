"""``barenet train MODEL --data DATASET --out DIR``, or ``barenet train --config
run.toml``: one run of ``run_training``.

Every training setting is a flag (the setting's name with dashes: ``--batch-size``;
``--no-plots`` for a setting that is on by default), declared once in
:class:`~barenet.train.TrainConfig`. ``--config FILE`` reads the settings of one run
from a TOML file with the keys of a sweep's ``[base]`` (``model`` and ``data``
included); flags given beside it override the file. Every run writes its resolved
settings as ``config.toml``, so ``barenet train --config runs/x/config.toml`` runs it
again (into ``runs/x-2``, or ``--out``; with ``--resume`` it continues ``runs/x``).

``mpiexec -n N barenet train ...`` (or ``python -m mpi4py -m barenet train ...``)
trains the one model data-parallel over N processes (see :mod:`barenet.distributed`):
``--batch-size`` is the global batch, only rank 0 writes and prints, ``--resume``
continues as in one process, an error on any rank ends them all with its message."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from ..train import run_training
from ..train.config import read_run_file
from ..train.trainer import TrainingDiverged
from . import EXIT_DIVERGED, classify
from ._common import add_setting_args, out_dir_arg
from ._flags import settings_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a named model on a dataset and save it with its history and plots",
        description="Train MODEL on DATASET; writes model.safetensors, history.csv, "
        "history.json, metrics.json, config.toml and learning-curve PNGs into --out.",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a run file (TOML) holding settings of this run, with the keys of a sweep's "
        "[base], model and data included; flags given here override it (a run's own "
        "config.toml runs it again)",
    )
    p.add_argument(
        "--out",
        type=out_dir_arg,
        metavar="DIR",
        help="output folder (required without --config; with it, runs/NAME: the name "
        "setting, or the file's name, or the folder of a run's config.toml, with -2, -3 "
        "... added while that folder holds files and --resume is not given)",
    )
    add_setting_args(p, declared_defaults=False, optional_positional=True)
    p.set_defaults(func=run, train_parser=p)


def config_from_args(args: argparse.Namespace) -> dict:
    """The settings of the run: the ``--config`` file's, then the flags given."""
    settings = read_run_file(args.config) if args.config else {}
    settings.update(settings_from_args(args))
    return settings


def _usage_error(args: argparse.Namespace, message: str):
    args.train_parser.error(message)  # exit 2, as argparse's own checks


def _default_out(args: argparse.Namespace, settings: dict, comm) -> str:
    """``runs/NAME`` for a run described by ``--config`` (see the ``--out`` help)."""
    path = Path(args.config)
    name = settings.get("name") or (path.parent.name if path.name == "config.toml" else path.stem)
    base = Path("runs") / (re.sub(r"[^A-Za-z0-9._+-]+", "_", str(name)).strip("._") or "run")
    n = 1
    if not settings.get("resume") and (comm is None or comm.rank == 0):
        while (out := _numbered(base, n)).is_dir() and any(out.iterdir()):
            n += 1
    if comm is not None:
        n = comm.broadcast_int(n)  # every rank writes to rank 0's choice
    return str(_numbered(base, n))


def _numbered(base: Path, n: int) -> Path:
    return base if n == 1 else base.with_name(f"{base.name}-{n}")


def _settings_and_out(args: argparse.Namespace, comm) -> tuple[dict, str]:
    settings = config_from_args(args)
    missing = [
        what
        for what, have in (
            ("MODEL", settings.get("model")),
            ("--data", settings.get("data")),
            ("--out", args.out or args.config),
        )
        if not have
    ]
    if missing:
        where = " (or in the --config file)" if args.config else ""
        _usage_error(args, f"the following arguments are required{where}: {', '.join(missing)}")
    out = args.out
    if out is None:
        out = _default_out(args, settings, comm)
        try:
            out_dir_arg(out)
        except argparse.ArgumentTypeError as exc:
            _usage_error(args, f"argument --out: {exc}")
    return settings, out


def run(args: argparse.Namespace) -> int:
    # CLI start: barenet.distributed loads when a training run starts
    from ..distributed import abort_on_error, init

    comm = init()  # under mpiexec -n N (N > 1): one model trained by N processes
    settings, out_text = _settings_and_out(args, comm)
    out = Path(out_text)
    created = not out.exists()
    with abort_on_error(comm, "barenet train", exit_code=_exit_code):
        try:
            m = run_training(settings, out, comm=comm)
        except BaseException:
            if created and (comm is None or comm.rank == 0):
                _remove_empty_folders(out)  # a run that failed before writing leaves nothing
            raise
    if comm is not None and comm.rank != 0:
        return 0
    if m.get("stopped_reason") == "diverged":
        print(f"barenet train: error: {m.get('error')}", file=sys.stderr)
        return 3
    if not settings.get("quiet"):
        if m["n_test"] == 0:
            print("no test split (--test-size 0): the model has not been tested")
        elif m["task"] == "classification":
            print(f"test accuracy {100 * m['test_accuracy']:.2f} %  test loss {m['test_loss']:.4f}")
        else:
            print(f"test MSE {m['test_mse']:.6f}")
        print(f"{m['epochs']} epochs in {m['wall_time_s']:.1f} s; files in {out}")
    return 0


def _exit_code(exc: BaseException) -> int:
    """The exit code of the CLI's error boundary for an error ending an MPI job."""
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
