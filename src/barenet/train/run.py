"""``run_training(config, out_dir)``: one training run from a plain dict, with every
artefact written into ``out_dir``. It is what ``barenet train`` and every sweep
run call.

Files written: ``model.safetensors`` (weights, architecture, and metadata: class
names, input shape, task, normalisation, config, final metrics), ``history.csv``,
``history.json``, ``checkpoints/{last,best}.safetensors`` (resumable),
``learning_curves.png`` and ``confusion_matrix.png`` (or ``fit.png`` for a 1-D
regression), and ``metrics.json`` last, so its presence means the run finished.

Ctrl-C during training saves ``checkpoints/last.safetensors`` and
``history.json``, writes no ``metrics.json`` and re-raises ``KeyboardInterrupt``;
``resume=True`` (``barenet train --resume``) continues the run exactly.

A run whose loss turns NaN/inf is not an exception here: the weights of the last
good checkpoint are evaluated and saved, and ``metrics["stopped_reason"]`` is
``"diverged"`` with the message in ``metrics["error"]``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..core.config import seed as _seed
from ..io import atomic_write_bytes, save
from ..losses import MSELoss, SoftmaxCrossEntropy
from ..models import build_model
from .callbacks import Callback, EarlyStopping, GradientNormRecorder, ModelCheckpoint, make_schedule
from .checkpoint import load_checkpoint
from .metrics import classification_report
from .trainer import TrainingDiverged, evaluate, fit, predict

__all__ = ["CONFIG_DEFAULTS", "load_data", "make_optimizer", "run_training"]

CONFIG_DEFAULTS: dict = {
    "model": None,
    "model_args": {},
    "data": None,
    "data_dir": None,
    "download": False,
    "val_fraction": 0.1,
    "limit_train": None,
    "limit_test": None,
    "epochs": 5,
    "batch_size": 64,
    "optimizer": "adam",
    "lr": None,
    "weight_decay": 0.0,
    "momentum": 0.9,
    "augment": None,
    "invert": False,
    "init": "default",
    "schedule": None,
    "seed": 0,
    "quiet": False,
    "record_grad_norms": False,
    "patience": None,
    "resume": None,
    "callbacks": [],
    "plots": True,
    "test_size": 0.2,
    "n_train": None,
    "n_test": None,
    "size": None,
    "name": None,
    "tags": None,
}
_DEFAULT_LR = {
    "sgd": 0.01,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
}


def make_optimizer(
    name: str, params, lr: float | None = None, weight_decay: float = 0.0, momentum: float = 0.9
):
    """``sgd|momentum|nesterov|adagrad|rmsprop|adam|adamw`` with ``lr`` (or its default)."""
    from .. import optim

    key = str(name).lower()
    if key not in _DEFAULT_LR:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(_DEFAULT_LR)}")
    lr = _DEFAULT_LR[key] if lr is None else float(lr)
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


def load_data(cfg: dict):
    """The dataset of ``cfg`` as a ``DatasetSplit``, inverted and subsampled as asked."""
    from ..data import load_dataset

    kw = {k: cfg[k] for k in ("n_train", "n_test") if cfg.get(k) is not None}
    if cfg.get("size"):
        kw["size"] = tuple(int(s) for s in cfg["size"])
    d = load_dataset(
        cfg["data"],
        cfg.get("data_dir"),
        download=bool(cfg.get("download")),
        seed=int(cfg.get("seed") or 0),
        test_size=float(cfg.get("test_size", 0.2)),
        **kw,
    )
    if cfg.get("invert"):
        if d.task != "classification" or len(d.input_shape) != 3:
            raise ValueError(f"invert applies to image datasets, not {d.name!r}")
        d.x_train, d.x_test = 1.0 - d.x_train, 1.0 - d.x_test
    s = int(cfg.get("seed") or 0)
    d.x_train, d.y_train = _subsample(d.x_train, d.y_train, cfg.get("limit_train"), s)
    d.x_test, d.y_test = _subsample(d.x_test, d.y_test, cfg.get("limit_test"), s + 1)
    return d


def _val_split(d, frac: float, seed: int):
    if not frac:
        return (d.x_train, d.y_train), None
    if not 0 < frac < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {frac}")
    if d.task == "classification":
        from ..data import stratified_split

        tr, va = stratified_split(d.y_train, frac, seed)
    else:
        perm = np.random.default_rng([seed, 3]).permutation(len(d.x_train))
        n_val = max(1, int(round(frac * len(perm))))
        tr, va = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    return (d.x_train[tr], d.y_train[tr]), (d.x_train[va], d.y_train[va])


def _json_config(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "callbacks" and v is not None}


def run_training(config: dict, out_dir: str | os.PathLike, *, comm=None) -> dict:
    """Train as ``config`` says (keys: see :data:`CONFIG_DEFAULTS`; ``model`` and
    ``data`` required), write the run's files into ``out_dir``, return the metrics.

    ``comm`` (a :class:`barenet.distributed.Communicator`): train one model over its
    ranks, data-parallel, ``batch_size`` being the global batch. Every rank reads the
    data (and, to resume, the checkpoint in ``out_dir``); only rank 0 writes files,
    prints and evaluates on the test set, and the other ranks return ``{"rank": r}``.
    A divergence is then an error (raised on the rank that saw it), not a result."""
    writer = comm is None or comm.rank == 0
    unknown = sorted(set(config) - set(CONFIG_DEFAULTS))
    if unknown:
        raise ValueError(
            f"run_training: unknown config keys {unknown}; known: {sorted(CONFIG_DEFAULTS)}"
        )
    cfg = {**CONFIG_DEFAULTS, **config}
    if not cfg["model"] or not cfg["data"]:
        raise ValueError("run_training: config needs 'model' and 'data'")
    t_start = time.perf_counter()
    out = Path(out_dir)
    if writer:
        out.mkdir(parents=True, exist_ok=True)
    seed = int(cfg["seed"] or 0)
    _seed(seed)
    d = load_data(cfg)
    classify = d.task == "classification"
    train, val = _val_split(d, float(cfg["val_fraction"] or 0), seed)
    n_out = d.num_classes if classify else int(np.prod(d.y_train.shape[1:]))
    model = build_model(
        cfg["model"],
        d.input_shape,
        n_out,
        init=cfg["init"] or "default",
        **(cfg["model_args"] or {}),
    )
    loss_fn = SoftmaxCrossEntropy() if classify else MSELoss()
    opt = make_optimizer(
        cfg["optimizer"], model.parameters(), cfg["lr"], cfg["weight_decay"], cfg["momentum"]
    )
    transform = None
    if cfg["augment"]:
        from ..data import parse_augment

        transform = parse_augment(cfg["augment"]) or None
    monitor = "val_acc" if classify else "val_loss"
    # At most ~50 checkpoint writes a run: for 800 tiny sine epochs they would
    # otherwise take most of the time.
    every = max(1, int(cfg["epochs"]) // 50)
    ckpt = ModelCheckpoint(
        out / "checkpoints", monitor=monitor, every=every, save_best=writer, save_last=writer
    )
    callbacks: list[Callback] = [ckpt]
    sched = make_schedule(cfg["schedule"], int(cfg["epochs"]))
    if sched is not None:
        callbacks.append(sched)
    if cfg["patience"]:
        callbacks.append(EarlyStopping(monitor, patience=int(cfg["patience"])))
    if cfg["record_grad_norms"]:
        callbacks.append(GradientNormRecorder())
    callbacks += list(cfg["callbacks"] or [])
    if comm is not None:
        from ..distributed import data_parallel

        batches, opt, loss_fn, more = data_parallel(
            comm, train, int(cfg["batch_size"]), opt, loss_fn, transform=transform, seed=seed
        )
        callbacks += more  # after the run's own: a checkpoint's callback order is kept
    else:
        batches = train
    resume = cfg["resume"]
    if resume is True:
        resume = ckpt.last_path if ckpt.last_path.is_file() else None
    error = None
    try:
        history = fit(
            model,
            loss_fn,
            opt,
            batches,
            val,
            epochs=int(cfg["epochs"]),
            batch_size=int(cfg["batch_size"]),
            transform=transform,
            callbacks=callbacks,
            seed=seed,
            verbose=False if cfg["quiet"] or not writer else None,
            task=d.task,
            resume=resume,
        )
    except TrainingDiverged as exc:
        if comm is not None:  # the other ranks wait in a collective: end them all
            raise
        history, error = exc.history, str(exc)
        if ckpt.last_path.is_file():
            load_checkpoint(ckpt.last_path, model)
        if not cfg["quiet"]:
            print(f"warning: {error}", file=sys.stderr)
    if history.stopped_reason == "interrupted":
        # No metrics.json: the run is not finished, and resume=True continues it.
        if writer:
            history.save_json(out / "history.json")
        msg = f"interrupted; checkpoint saved to {ckpt.last_path} (continue with resume)"
        if not cfg["quiet"]:
            print(msg, file=sys.stderr)
        raise KeyboardInterrupt(msg)
    if not writer:
        return {"rank": comm.rank}
    try:
        test = evaluate(model, loss_fn, d.x_test, d.y_test, task=d.task)
    except ValueError:  # only a diverged run without a usable checkpoint gets here
        test = {"loss": None}
    metrics: dict = {
        "model": cfg["model"],
        "data": d.name,
        "task": d.task,
        "seed": seed,
        "epochs": len(history.epochs),
        "steps": len(history.steps),
        "stopped_reason": history.stopped_reason,
        "test_loss": test["loss"],
        "num_parameters": model.num_parameters(),
        "n_train": len(train[0]),
        "n_val": 0 if val is None else len(val[0]),
        "n_test": len(d.x_test),
    }
    if classify:
        metrics["test_accuracy"] = test.get("accuracy")
        metrics["best_val_accuracy"] = history.best("val_acc")
        metrics["final_train_accuracy"] = history.last.get("train_acc")
    else:
        metrics["test_mse"] = test.get("mse")
    metrics["best_val_loss"] = history.best("val_loss")
    metrics["final_train_loss"] = history.last.get("train_loss")
    if error:
        metrics["error"] = error
    report = None
    if classify and test["loss"] is not None:
        report = classification_report(d.y_test, predict(model, d.x_test), d.class_names)
        metrics["test_macro_f1"] = report["macro_f1"]
    meta = {
        "class_names": d.class_names,
        "input_shape": list(d.input_shape),
        "task": d.task,
        "dataset": d.name,
        "normalisation": {"range": [0.0, 1.0], "invert": bool(cfg["invert"])},
        "config": _json_config(cfg),
        "metrics": metrics,
    }
    save(model, out / "model.safetensors", meta)
    history.save_csv(out / "history.csv")
    history.save_json(out / "history.json")
    if cfg["plots"]:
        _plots(out, history, d, model, report, cfg)
    metrics["wall_time_s"] = time.perf_counter() - t_start
    from .history import _clean

    atomic_write_bytes(out / "metrics.json", [json.dumps(_clean(metrics), indent=1).encode()])
    if report is not None:
        atomic_write_bytes(out / "test_report.json", [json.dumps(report, indent=1).encode()])
    return metrics


def _plots(out: Path, history, d, model, report, cfg) -> None:
    try:
        from . import plots
    except ImportError as exc:  # pragma: no cover - matplotlib is in [all]
        print(f"warning: no plots ({exc})", file=sys.stderr)
        return
    title = f"{cfg['model']} on {d.name}"
    try:
        if history.epochs:
            plots.plot_learning_curves(history, out / "learning_curves.png", title)
        if report is not None:
            plots.plot_confusion_matrix(
                report["confusion_matrix"], d.class_names, out / "confusion_matrix.png", title
            )
        elif d.task == "regression" and d.x_test.shape[1:] == (1,):
            plots.plot_regression(
                d.x_test, d.y_test, predict(model, d.x_test), out / "fit.png", title
            )
    except ImportError as exc:
        print(f"warning: no plots ({exc})", file=sys.stderr)
