"""``run_training(config, out_dir)``: one training run, every artefact written into
``out_dir``. It is what ``barenet train`` and every sweep run call, in three
stages that can also be called apart (a data-parallel run trains on every
process and writes on one):

- :func:`build_run` checks the config (a :class:`TrainConfig` or a plain dict),
  loads the data and builds model, optimizer and callbacks; it writes nothing;
- :func:`train_run` trains (``fit``) and settles what a divergence or Ctrl-C
  leaves behind;
- :func:`write_run` evaluates on the test split and writes the files.

With ``comm`` (a :class:`barenet.distributed.Communicator`) one model trains over its
ranks, data-parallel, ``batch_size`` being the global batch: every rank reads the
data (and, to resume, the checkpoint), only rank 0 writes files, prints and
evaluates; the other ranks return ``{"rank": r}``, and a divergence is an error
(raised on the rank that saw it), not a result.

Files written: ``config.toml`` (the resolved settings, when training starts:
``barenet train --config config.toml`` runs them again), ``model.safetensors``
(weights, architecture, and metadata: class names, input shape, task,
normalisation, config, final metrics), ``history.csv``,
``history.json``, ``checkpoints/{last,best}.safetensors`` (resumable),
``learning_curves.png`` and ``confusion_matrix.png`` (or ``fit.png`` for a 1-D
regression), and ``metrics.json`` last, so its presence means the run finished.

Ctrl-C during training saves ``checkpoints/last.safetensors`` and
``history.json``, writes no ``metrics.json`` and re-raises ``KeyboardInterrupt``
(SIGTERM does the same and raises :class:`~barenet.train.interrupts.Terminated`);
``resume=True`` (``barenet train --resume``) continues the run exactly, and is
refused when the folder holds no checkpoint.

A run whose loss turns NaN/inf is not an exception here: ``metrics["stopped_reason"]``
is ``"diverged"`` with the message in ``metrics["error"]``. The model file then
holds the weights of the run's last checkpoint; without one no model file is
written (never NaN weights).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import optim
from ..core.config import seed as _seed
from ..data import load_dataset, parse_augment, stratified_split
from ..io import atomic_write_bytes, save
from ..losses import MSELoss, SoftmaxCrossEntropy
from ..models import build_model
from . import plots
from .callbacks import Callback, EarlyStopping, GradientNormRecorder, ModelCheckpoint, make_schedule
from .checkpoint import load_checkpoint
from .config import DEFAULT_LR, TrainConfig
from .history import History, _clean
from .interrupts import Terminated
from .metrics import classification_report
from .trainer import TrainingDiverged, evaluate, fit, predict

__all__ = [
    "CONFIG_DEFAULTS",
    "TrainingRun",
    "TrainingOutcome",
    "build_run",
    "load_data",
    "make_optimizer",
    "run_training",
    "train_run",
    "write_run",
]

CONFIG_DEFAULTS: dict = TrainConfig.defaults()
_SPLIT_DATASETS = ("digits", "kaggle", "folder")  # their test split is cut from the data


def make_optimizer(
    name: str, params, lr: float | None = None, weight_decay: float = 0.0, momentum: float = 0.9
):
    """``sgd|momentum|nesterov|adagrad|rmsprop|adam|adamw`` with ``lr`` (or its default)."""
    key = str(name).lower()
    if key not in DEFAULT_LR:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(DEFAULT_LR)}")
    lr = DEFAULT_LR[key] if lr is None else float(lr)
    wd = float(weight_decay)
    if key == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if key in ("momentum", "nesterov"):
        return optim.SGD(
            params, lr=lr, momentum=float(momentum), nesterov=key == "nesterov", weight_decay=wd
        )
    if key == "adagrad":
        return optim.AdaGrad(params, lr=lr, weight_decay=wd)
    if key == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=wd)
    if key == "adamw":  # weight_decay 0 keeps AdamW's own default, 0.01
        return optim.AdamW(params, lr=lr, weight_decay=wd or 0.01)
    return optim.Adam(params, lr=lr, weight_decay=wd)


def _subsample(x, y, n, seed):
    if n is None or int(n) >= len(x):
        return x, y
    if int(n) < 1:
        raise ValueError(f"limit must be a positive number of samples, got {n}")
    idx = np.sort(np.random.default_rng([seed, 7]).permutation(len(x))[: int(n)])
    return x[idx], y[idx]


def load_data(cfg: TrainConfig | dict):
    """The dataset of ``cfg`` as a ``DatasetSplit``, inverted and subsampled as asked.
    ``cfg``: a :class:`TrainConfig` or a dict with (some of) its data settings (the
    others, and those given as ``None``, take TrainConfig's defaults)."""
    if isinstance(cfg, TrainConfig):
        cfg = {k: getattr(cfg, k) for k in TrainConfig.keys()}
    cfg = {**CONFIG_DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    kw = {k: cfg[k] for k in ("n_train", "n_test") if cfg[k] is not None}
    if cfg["size"]:
        kw["size"] = tuple(int(s) for s in cfg["size"])
    d = load_dataset(
        cfg["data"],
        cfg["data_dir"],
        download=bool(cfg["download"]),
        seed=int(cfg["seed"]),
        test_size=float(cfg["test_size"]),
        **kw,
    )
    if cfg.get("invert"):
        if d.task != "classification" or len(d.input_shape) != 3:
            raise ValueError(f"invert applies to image datasets, not {d.name!r}")
        d.x_train, d.x_test = 1.0 - d.x_train, 1.0 - d.x_test
    s = int(cfg["seed"])
    d.x_train, d.y_train = _subsample(d.x_train, d.y_train, cfg["limit_train"], s)
    d.x_test, d.y_test = _subsample(d.x_test, d.y_test, cfg["limit_test"], s + 1)
    return d


def _val_split(d, frac: float, seed: int):
    if not frac:
        return (d.x_train, d.y_train), None
    if d.task == "classification":
        tr, va = stratified_split(d.y_train, frac, seed)
    else:
        perm = np.random.default_rng([seed, 3]).permutation(len(d.x_train))
        n_val = max(1, int(round(frac * len(perm))))
        tr, va = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    return (d.x_train[tr], d.y_train[tr]), (d.x_train[va], d.y_train[va])


@dataclass
class TrainingRun:
    """What :func:`build_run` prepared: all that training and writing need."""

    config: TrainConfig
    out: Path
    data: object  # barenet.data.DatasetSplit
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None
    batches: object  # what fit trains on: ``train``, or a data-parallel loader
    model: object  # barenet.Module
    loss_fn: object
    optimizer: object
    transform: object
    checkpoint: ModelCheckpoint
    callbacks: list[Callback]
    resume: Path | None
    t_start: float
    comm: object = None  # barenet.distributed.Communicator, or None

    @property
    def classify(self) -> bool:
        return self.data.task == "classification"

    @property
    def writer(self) -> bool:
        """This process writes the files (rank 0, or the only one)."""
        return self.comm is None or self.comm.rank == 0


@dataclass
class TrainingOutcome:
    """What :func:`train_run` left: the history, the divergence message (or
    ``None``), and whether the model holds weights worth saving (``False`` only
    after a divergence with no checkpoint to fall back on)."""

    history: History
    error: str | None = None
    has_weights: bool = True

    @property
    def interrupted(self) -> bool:
        """Stopped by Ctrl-C or SIGTERM."""
        return self.history.stopped_reason in ("interrupted", "terminated")


def _resume_path(cfg: TrainConfig, ckpt: ModelCheckpoint) -> Path | None:
    if cfg.resume is None or cfg.resume is False:
        return None
    path = ckpt.last_path if cfg.resume is True else Path(cfg.resume)
    if not path.is_file():
        raise FileNotFoundError(
            f"resume: no checkpoint at {path}; nothing to continue (run without resume, "
            f"--resume, to start afresh)"
        )
    return path


def _check_splits(cfg: TrainConfig, d, train, val) -> None:
    if len(train[0]) == 0:
        raise ValueError(f"{d.name}: the training split is empty ({len(d.x_train)} samples)")
    if val is not None and len(val[0]) == 0:
        raise ValueError(
            f"{d.name}: val_fraction {cfg.val_fraction:g} of {len(d.x_train)} training samples "
            f"leaves no validation sample; use more data or val_fraction 0"
        )
    if len(d.x_test) == 0 and not (d.name in _SPLIT_DATASETS and cfg.test_size == 0):
        how = (
            f"test_size {cfg.test_size:g} of {len(d.x_train)} samples"
            if d.name in _SPLIT_DATASETS
            else "its test files hold no sample"
        )
        raise ValueError(
            f"{d.name}: the test split is empty ({how}); give more data, or set test_size "
            f"to 0 (barenet train --test-size 0, formerly --test-fraction 0) to train without a "
            "test split"
        )


def build_run(config: TrainConfig | dict, out_dir: str | os.PathLike, *, comm=None) -> TrainingRun:
    """Check ``config``, load the data, build model, loss, optimizer and callbacks
    (for ``comm``: their data-parallel forms). Nothing is written; every error (bad
    setting, empty split, missing checkpoint for ``resume``) is raised here, before
    any training."""
    t_start = time.perf_counter()
    cfg = TrainConfig.from_dict(config)
    if comm is not None and cfg.device != "cpu":
        raise ValueError(
            f"data-parallel training over MPI runs on the CPU; device {cfg.device!r} is not "
            "supported there (train on one GPU without mpiexec)"
        )
    out = Path(out_dir)
    every = max(1, cfg.epochs // 50)  # at most ~50 checkpoint writes a run (tiny epochs)
    _seed(cfg.seed)
    d = load_data(cfg)
    classify = d.task == "classification"
    monitor = "val_acc" if classify else "val_loss"
    writer = comm is None or comm.rank == 0
    ckpt = ModelCheckpoint(
        out / "checkpoints", monitor=monitor, every=every, save_best=writer, save_last=writer
    )
    resume = _resume_path(cfg, ckpt)
    train, val = _val_split(d, cfg.val_fraction, cfg.seed)
    _check_splits(cfg, d, train, val)
    n_out = d.num_classes if classify else int(np.prod(d.y_train.shape[1:]))
    model = build_model(cfg.model, d.input_shape, n_out, init=cfg.init, **cfg.model_args)
    if cfg.device != "cpu":
        model.to(cfg.device)
    if cfg.label_smoothing and not classify:
        raise ValueError(f"label_smoothing applies to classification, not {d.name!r}")
    loss_fn = SoftmaxCrossEntropy(label_smoothing=cfg.label_smoothing) if classify else MSELoss()
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.weight_decay, cfg.momentum)
    transform = None
    if cfg.augment:
        transform = parse_augment(cfg.augment) or None
    callbacks: list[Callback] = [ckpt]
    sched = make_schedule(cfg.schedule, cfg.epochs, lr=cfg.effective_lr)
    if sched is not None:
        callbacks.append(sched)
    if cfg.patience:
        callbacks.append(EarlyStopping(monitor, patience=cfg.patience))
    if cfg.record_grad_norms:
        callbacks.append(GradientNormRecorder())
    callbacks += cfg.callbacks
    batches = train
    if comm is not None:
        # barenet.distributed builds on this package: the communicator brings its wiring
        batches, opt, loss_fn, more = comm.data_parallel(
            train, cfg.batch_size, opt, loss_fn, transform=transform, seed=cfg.seed
        )
        callbacks += more  # after the run's own: a checkpoint's callback order is kept
    return TrainingRun(
        cfg,
        out,
        d,
        train,
        val,
        batches,
        model,
        loss_fn,
        opt,
        transform,
        ckpt,
        callbacks,
        resume,
        t_start,
        comm,
    )


def train_run(run: TrainingRun) -> TrainingOutcome:
    """Train ``run`` (checkpoints go to ``out/checkpoints``). On divergence the model
    is put back to the run's last checkpoint, if it wrote or resumed from one."""
    cfg = run.config
    if run.writer:
        run.out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(run.out / "config.toml", [cfg.to_toml().encode()])
    try:
        history = fit(
            run.model,
            run.loss_fn,
            run.optimizer,
            run.batches,
            run.val,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            transform=run.transform,
            callbacks=run.callbacks,
            seed=cfg.seed,
            verbose=False if cfg.quiet or not run.writer else None,
            task=run.data.task,
            resume=run.resume,
        )
    except TrainingDiverged as exc:
        if run.comm is not None:  # the other ranks wait in a collective: end them all
            raise
        last = run.checkpoint.last_path
        if last.is_file() and (run.checkpoint.wrote_last or run.resume == last):
            load_checkpoint(last, run.model)
            note = f"the model file holds the weights of the last checkpoint ({last})"
            outcome = TrainingOutcome(exc.history, f"{exc}; {note}")
        else:
            note = "no checkpoint had been written, so no model file is saved"
            outcome = TrainingOutcome(exc.history, f"{exc}; {note}", has_weights=False)
        if not cfg.quiet:
            print(f"warning: {outcome.error}", file=sys.stderr)
        return outcome
    return TrainingOutcome(history)


def write_interrupted(run: TrainingRun, outcome: TrainingOutcome) -> str:
    """After Ctrl-C: write ``history.json`` (no ``metrics.json``: the run is not
    finished; rank 0 only) and return the message to show."""
    if run.writer:
        outcome.history.save_json(run.out / "history.json")
    last = run.checkpoint.last_path
    what = outcome.history.stopped_reason
    if last.is_file():
        return f"{what}; continue with resume from the checkpoint {last}"
    return f"{what} before any checkpoint was written; nothing to resume"


def architecture(model) -> str:
    """The network's weight layers in a line: ``"Linear 64-256-128-10"``,
    ``"Conv2d 1-32-64, Linear 3136-128-10"`` (a run of one layer type is one chain
    of its widths: input, then each output)."""
    groups: list[tuple[str, list[int]]] = []
    for m in model.modules():
        w = getattr(m, "weight", None)
        kind = type(m).__name__
        if kind not in ("Linear", "Conv2d") or w is None:
            continue
        n_out, n_in = w.data.shape[:2]
        if groups and groups[-1][0] == kind and groups[-1][1][-1] == n_in:
            groups[-1][1].append(int(n_out))
        else:
            groups.append((kind, [int(n_in), int(n_out)]))
    return ", ".join(f"{k} {'-'.join(map(str, ws))}" for k, ws in groups) or type(model).__name__


def _test_metrics(run: TrainingRun, outcome: TrainingOutcome) -> tuple[dict, dict | None]:
    d = run.data
    if not outcome.has_weights or len(d.x_test) == 0:
        return {"loss": None}, None
    try:
        # The test loss is the plain cross-entropy, whatever label smoothing trained with.
        test_loss_fn = SoftmaxCrossEntropy() if run.classify else run.loss_fn
        test = evaluate(run.model, test_loss_fn, d.x_test, d.y_test, task=d.task)
    except ValueError:  # non-finite outputs from finite weights: nothing to report
        return {"loss": None}, None
    report = None
    if run.classify:
        report = classification_report(d.y_test, predict(run.model, d.x_test), d.class_names)
    return test, report


def write_run(run: TrainingRun, outcome: TrainingOutcome) -> dict:
    """Evaluate on the test split and write the run's files; returns the metrics."""
    cfg, d, history, out = run.config, run.data, outcome.history, run.out
    out.mkdir(parents=True, exist_ok=True)
    test, report = _test_metrics(run, outcome)
    metrics: dict = {
        "model": cfg.model,
        "data": d.name,
        "task": d.task,
        "seed": cfg.seed,
        "epochs": len(history.epochs),
        "steps": len(history.steps),
        "stopped_reason": history.stopped_reason,
        "test_loss": test["loss"],
        "num_parameters": run.model.num_parameters(),
        "architecture": architecture(run.model),
        "n_train": len(run.train[0]),
        "n_val": 0 if run.val is None else len(run.val[0]),
        "n_test": len(d.x_test),
    }
    if run.classify:
        metrics["test_accuracy"] = test.get("accuracy")
        metrics["best_val_accuracy"] = history.best("val_acc")
        metrics["final_train_accuracy"] = history.last.get("train_acc")
    else:
        metrics["test_mse"] = test.get("mse")
    metrics["best_val_loss"] = history.best("val_loss")
    metrics["final_train_loss"] = history.last.get("train_loss")
    if outcome.error:
        metrics["error"] = outcome.error
    if report is not None:
        metrics["test_macro_f1"] = report["macro_f1"]
    metrics["model_file"] = "model.safetensors" if outcome.has_weights else None
    if outcome.has_weights:
        meta = {
            "class_names": d.class_names,
            "input_shape": list(d.input_shape),
            "task": d.task,
            "dataset": d.name,
            "normalisation": {"range": [0.0, 1.0], "invert": cfg.invert},
            "config": cfg.to_dict(),
            "metrics": metrics,
        }
        save(run.model, out / "model.safetensors", meta)
    history.save_csv(out / "history.csv")
    history.save_json(out / "history.json")
    if cfg.plots:
        _plots(run, history, report)
    metrics["wall_time_s"] = time.perf_counter() - run.t_start
    atomic_write_bytes(out / "metrics.json", [json.dumps(_clean(metrics), indent=1).encode()])
    if report is not None:
        atomic_write_bytes(out / "test_report.json", [json.dumps(report, indent=1).encode()])
    return metrics


def run_training(config: TrainConfig | dict, out_dir: str | os.PathLike, *, comm=None) -> dict:
    """Train as ``config`` says (a :class:`TrainConfig`, or a dict of its settings;
    ``model`` and ``data`` required), write the run's files into ``out_dir``,
    return the metrics: ``build_run``, ``train_run``, ``write_run``. ``comm``: train
    over its ranks (see above); ranks other than 0 return ``{"rank": r}``."""
    run = build_run(config, out_dir, comm=comm)
    outcome = train_run(run)
    if outcome.interrupted:
        msg = write_interrupted(run, outcome)
        if not run.config.quiet and run.writer:
            print(msg, file=sys.stderr)
        terminated = outcome.history.stopped_reason == "terminated"
        raise (Terminated if terminated else KeyboardInterrupt)(msg)
    if not run.writer:
        return {"rank": run.comm.rank}
    return write_run(run, outcome)


def _plots(run: TrainingRun, history, report) -> None:
    d, out = run.data, run.out
    title = f"{run.config.model} on {d.name}"
    try:
        if history.epochs:
            plots.plot_learning_curves(history, out / "learning_curves.png", title)
        if report is not None:
            plots.plot_confusion_matrix(
                report["confusion_matrix"], d.class_names, out / "confusion_matrix.png", title
            )
        elif d.task == "regression" and d.x_test.shape[1:] == (1,) and len(d.x_test):
            plots.plot_regression(
                d.x_test, d.y_test, predict(run.model, d.x_test), out / "fit.png", title
            )
    except ImportError as exc:
        print(f"warning: no plots ({exc})", file=sys.stderr)
