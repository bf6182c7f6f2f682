"""``TrainConfig``: every setting of one training run, typed, with defaults, checked.

``TrainConfig.from_dict`` takes the plain dict that sweeps, TOML files and the
command line produce; every value is checked before anything runs (type, finite,
in range), and an error names the setting: ``lr must be a finite number > 0, got
nan``. Unknown keys are refused with the closest known name.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["TrainConfig", "DEFAULT_LR", "INIT_SCHEMES"]

DEFAULT_LR = {
    "sgd": 0.01,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
}
INIT_SCHEMES = ("default", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform")
# Model arguments that are sizes (an int >= 1, or a list of them) or probabilities.
_SIZE_ARGS = ("hidden", "widths", "channels", "convs")
_PROB_ARGS = ("dropout",)


@dataclass
class TrainConfig:
    """One training run (what ``barenet train`` and each sweep run are made of).

    Data: ``data`` (a dataset name, see :func:`barenet.data.load_dataset`),
    ``data_dir``, ``download``; ``test_size``: the fraction held out as the test
    split where the dataset has no official one (digits, kaggle, folder; 0 = no
    test split, for a final model trained on everything); ``val_fraction``: the
    fraction of the training split held out for validation (0 = none);
    ``limit_train``/``limit_test``: random subsets of that many samples;
    ``n_train``/``n_test``: sizes of the synthetic sets; ``size``: (H, W) of
    folder images; ``invert``: train on 1 - x; ``augment``: e.g.
    ``"shift,noise:0.05"``.

    Model: ``model`` (a name of :data:`barenet.models.MODELS`), ``model_args``
    (builder arguments), ``init``. Training: ``epochs``, ``batch_size``,
    ``optimizer``, ``lr`` (``None``: the optimizer's default), ``weight_decay``,
    ``momentum`` (momentum/nesterov), ``label_smoothing`` (ε of the classification
    loss, 0 = none), ``schedule`` (``step[:N[:gamma]]``,
    ``cosine[:final_lr]``, ``plateau[:factor[:patience]]``, ``none``),
    ``patience`` (early stopping; ``None``: off), ``seed``, ``record_grad_norms``,
    ``callbacks`` (extra :class:`Callback` objects). Run: ``resume`` (``True``:
    continue from the run folder's last checkpoint, or a checkpoint path),
    ``plots``, ``quiet``, ``name`` and ``tags`` (kept in the model file); ``device``:
    ``"cpu"`` or ``"cuda"``/``"cuda:N"`` (a GPU, through CuPy: ``pip install barenet[gpu]``).
    """

    model: str
    data: str
    model_args: dict = field(default_factory=dict)
    data_dir: str | None = None
    download: bool = False
    val_fraction: float = 0.1
    test_size: float = 0.2
    limit_train: int | None = None
    limit_test: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    size: tuple[int, int] | None = None
    invert: bool = False
    augment: str | None = None
    epochs: int = 5
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float | None = None
    weight_decay: float = 0.0
    momentum: float = 0.9
    label_smoothing: float = 0.0
    schedule: str | None = None
    init: str = "default"
    patience: int | None = None
    seed: int = 0
    record_grad_norms: bool = False
    callbacks: list = field(default_factory=list)
    resume: bool | str | None = None
    plots: bool = True
    quiet: bool = False
    name: str | None = None
    tags: list[str] | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _CHECKS[f.name](f.name, getattr(self, f.name)))
        self._check_combinations()

    # -- construction -----------------------------------------------------------
    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Every setting's name."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def defaults(cls) -> dict:
        """``{name: default}`` (``None`` for the required ``model`` and ``data``)."""
        out = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                out[f.name] = None
        return out

    @classmethod
    def from_dict(cls, config: dict | TrainConfig) -> TrainConfig:
        """Check and convert a plain dict (``None`` for a setting with a default means
        the default). Raises ``ValueError``/``TypeError`` naming the setting."""
        if isinstance(config, TrainConfig):
            return config
        if not isinstance(config, dict):
            raise TypeError(f"training config must be a dict, got {type(config).__name__}")
        known = cls.keys()
        unknown = [k for k in config if k not in known]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(str(k).replace("-", "_"), known, n=1)
                hints.append(f"{k!r} (did you mean {close[0]!r}?)" if close else repr(k))
            raise ValueError(
                f"unknown config keys: {', '.join(hints)}; known: {', '.join(sorted(known))}"
            )
        if not config.get("model") or not config.get("data"):
            raise ValueError("training config needs 'model' and 'data'")
        nullable = {k for k, v in cls.defaults().items() if v is None}
        given = {k: v for k, v in config.items() if v is not None or k in nullable}
        return cls(**given)

    def to_dict(self) -> dict:
        """The settings as plain JSON values, without ``callbacks`` and unset ones (as
        stored in the model file's metadata)."""
        out = {}
        for k in self.keys():
            v = getattr(self, k)
            if k == "callbacks" or v is None:
                continue
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def replace(self, **changes) -> TrainConfig:
        """A checked copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    @property
    def effective_lr(self) -> float:
        """``lr``, or the optimizer's default learning rate."""
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr

    def _check_combinations(self) -> None:
        from .callbacks import make_schedule

        make_schedule(self.schedule, self.epochs, lr=self.effective_lr)  # raises if bad
        if self.augment is not None:
            from ..data import parse_augment

            parse_augment(self.augment)


# -- value checks: each returns the value in its canonical form ---------------------


def _is_int(v) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, np.integer)


def _is_real(v) -> bool:
    return _is_int(v) or isinstance(v, (float, np.floating))


def _int(lo: int, optional: bool = False, hint: str = ""):
    def check(name: str, v):
        if v is None and optional:
            return None
        if not _is_int(v) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}{hint}, got {v!r}")
        return int(v)

    return check


def _real(lo: float, hi: float | None = None, *, lo_open=False, hi_open=True, optional=False):
    def check(name: str, v):
        if v is None and optional:
            return None
        ok = _is_real(v) and math.isfinite(float(v))
        if ok:
            f = float(v)
            ok = (f > lo if lo_open else f >= lo) and (
                hi is None or (f < hi if hi_open else f <= hi)
            )
        if not ok:
            if hi is None:
                want = f"> {lo:g}" if lo_open else f">= {lo:g}"
            else:
                want = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
            raise ValueError(f"{name} must be a finite number {want}, got {v!r}")
        return float(v)

    return check


def _bool(name: str, v):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be true or false, got {v!r}")
    return bool(v)


def _choice(options, normalise=lambda s: s):
    def check(name: str, v):
        key = normalise(v) if isinstance(v, str) else None
        if key not in options:
            raise ValueError(f"unknown {name} {v!r}; choose from {', '.join(options)}")
        return key

    return check


def _model(name: str, v):
    from ..models import MODELS

    return _choice(tuple(MODELS), lambda s: s.strip().lower().replace("_", "-"))(name, v)


def _data(name: str, v):
    from ..data import DATASET_NAMES

    return _choice(DATASET_NAMES, lambda s: s.strip().lower().replace("_", "-"))(name, v)


def _opt_str(name: str, v):
    if v is not None and not isinstance(v, str):
        raise TypeError(f"{name} must be a string, got {v!r}")
    return v


def _path(name: str, v):
    if v is None:
        return None
    if not isinstance(v, (str, os.PathLike)) or not str(v):
        raise TypeError(f"{name} must be a path, got {v!r}")
    return str(v)


def _size(name: str, v):
    if v is None:
        return None
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_int(s) and s >= 1 for s in v):
        return (int(v[0]), int(v[1]))
    raise ValueError(f"{name} must be two ints >= 1 (height, width), got {v!r}")


def _augment(name: str, v):
    if v is None:
        return None
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a string like 'shift,noise:0.05', got {v!r}")
    items = [s.strip() for s in v.split(",")]
    if v.strip() and any(not s for s in items):
        raise ValueError(f"{name} {v!r}: an empty item between commas; e.g. 'shift,noise:0.05'")
    return v


def _schedule(name: str, v):
    if v is not None and not isinstance(v, str):
        raise TypeError(f"{name} must be a string like 'cosine' or 'step:10:0.5', got {v!r}")
    return v


def _size_arg(where: str, v) -> None:
    vals = v if isinstance(v, (list, tuple)) else [v]
    if not vals or not all(_is_int(s) and s >= 1 for s in vals):
        raise ValueError(f"{where} must be an int >= 1 or a list of them, got {v!r}")


def _numbers_finite(where: str, v) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _numbers_finite(f"{where}.{k}", x)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _numbers_finite(where, x)
    elif _is_real(v) and not math.isfinite(float(v)):
        raise ValueError(f"{where} must be finite, got {v!r}")


def _model_args(name: str, v):
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise TypeError(f"{name} must be a table of builder arguments, got {v!r}")
    _numbers_finite(name, v)
    for k, x in v.items():
        if k in _SIZE_ARGS:
            _size_arg(f"{name}.{k}", x)
        elif k in _PROB_ARGS:
            _real(0.0, 1.0)(f"{name}.{k}", x)
    return dict(v)


def _resume(name: str, v):
    if v is None or isinstance(v, bool):
        return v
    return _path(name, v)


def _callbacks(name: str, v):
    from .callbacks import Callback

    v = list(v or [])
    bad = [c for c in v if not isinstance(c, Callback)]
    if bad:
        raise TypeError(f"{name} must be Callback objects, got {bad!r}")
    return v


def _tags(name: str, v):
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    if isinstance(v, (list, tuple)) and all(isinstance(t, str) for t in v):
        return list(v)
    raise TypeError(f"{name} must be a string or a list of strings, got {v!r}")


def _device(name: str, v):
    from ..core.device import parse_device

    if v is None:
        return "cpu"
    if not isinstance(v, str):
        raise TypeError(f"{name} must be 'cpu', 'cuda' or 'cuda:N', got {v!r:.60}")
    return parse_device(v)  # a GPU without CuPy: GPUUnavailableError, naming the extra


_CHECKS = {
    "model": _model,
    "data": _data,
    "model_args": _model_args,
    "data_dir": _path,
    "download": _bool,
    "val_fraction": _real(0.0, 1.0),
    "test_size": _real(0.0, 1.0),
    "limit_train": _int(1, optional=True),
    "limit_test": _int(1, optional=True),
    "n_train": _int(1, optional=True),
    "n_test": _int(1, optional=True),
    "size": _size,
    "invert": _bool,
    "augment": _augment,
    "epochs": _int(1),
    "batch_size": _int(1),
    "optimizer": _choice(tuple(DEFAULT_LR), lambda s: s.strip().lower()),
    "lr": _real(0.0, lo_open=True, optional=True),
    "weight_decay": _real(0.0),
    "momentum": _real(0.0, 1.0),
    "label_smoothing": _real(0.0, 1.0, hi_open=False),
    "schedule": _schedule,
    "init": _choice(INIT_SCHEMES),
    "patience": _int(1, optional=True, hint=" (leave it out for no early stopping)"),
    "seed": _int(0),
    "record_grad_norms": _bool,
    "callbacks": _callbacks,
    "resume": _resume,
    "plots": _bool,
    "quiet": _bool,
    "name": _opt_str,
    "tags": _tags,
    "device": _device,
}
