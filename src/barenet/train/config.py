"""``TrainConfig``: every setting of one training run, each declared once.

A field's declaration (:func:`~barenet.train.settings.setting`) holds its section,
one line of help, its check (kind with range or choices), its unit and default.
From it come the ``barenet train`` flags, the checks of a dict, a sweep file, a run
file (:func:`read_run_file`) and a flag, the ``config.toml`` a run writes
(:meth:`TrainConfig.to_toml`) and the documentation's table
(:func:`settings_reference`). Every value is checked before anything runs (type,
finite, in range) and an error names the setting: ``lr must be a finite number > 0,
got nan``; an unknown key gets the closest known name.

Adding a setting is one field here plus the code that uses it, e.g.::

    clip_norm: float | None = setting(
        "optimisation", "clip the gradients' global norm to this", Real(0, lo_open=True,
        optional=True), default=None, default_text="off", metavar="NORM")
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ..core.device import parse_device
from ..data import DATASET_NAMES, parse_augment
from ..data.transforms import AUGMENT_NAMES
from ..models import MODELS
from .callbacks import Callback, make_schedule
from .kinds import (
    Bool,
    Choice,
    Device,
    Int,
    Objects,
    PathValue,
    Real,
    Resume,
    Size,
    Spec,
    Table,
    Tags,
    Text,
)
from .settings import MAX_INT, SECTIONS, Setting, reference_table, setting, toml_text

__all__ = [
    "TrainConfig",
    "DEFAULT_LR",
    "INIT_SCHEMES",
    "check_setting",
    "read_run_file",
    "settings_reference",
]

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


def _by_lr() -> str:
    groups: dict[float, list[str]] = {}
    for name, lr in DEFAULT_LR.items():
        groups.setdefault(lr, []).append(name)
    parts = []
    for lr, names in groups.items():
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        parts.append(f"{lr:g} for {listed}")
    return ", ".join(parts)


def _name(s: str) -> str:
    return s.strip().lower().replace("_", "-")


def _augment_catalogue() -> str:
    return "; ".join(h for _, h in AUGMENT_NAMES.values())


def _schedule_form(spec: str) -> None:
    make_schedule(spec, 1)  # the form and its numbers; the lr bound is a combination


@dataclass
class TrainConfig:
    """One training run (what ``barenet train`` and each sweep run are made of).

    Every field's help, range, unit and default: :func:`settings_reference` (the
    table of the documentation), or ``barenet train --help``.
    """

    # fmt: off
    model: str = setting(
        "model", "the network, one of: {choices}", Choice(lambda: tuple(MODELS), _name),
        flag="MODEL", metavar="MODEL", late=True)
    data: str = setting(
        "data", "the dataset: {choices} (kaggle: --data-dir holds train.csv; folder: "
        "--data-dir holds one sub-folder per class)",
        Choice(lambda: DATASET_NAMES, _name), metavar="DATASET", late=True)
    model_args: dict = setting(
        "model", "builder arguments, e.g. '{\"hidden\": [256, 128]}'", Table(),
        factory=dict, metavar="JSON", late=True)
    data_dir: str | None = setting(
        "data", "where the dataset's files are (kaggle, folder; mnist and fashion-mnist: "
        "instead of the cache)", PathValue(), default=None, metavar="DIR")
    download: bool = setting(
        "data", "fetch missing mnist/fashion-mnist files from the public mirrors (checked by "
        "SHA-256)", Bool(), default=False)
    val_fraction: float = setting(
        "data", "share of the training data held out for validation, in [0, 1)",
        Real(0.0, 1.0), default=0.1, unit="fraction")
    test_size: float = setting(
        "data", "share held out as the test split for digits, kaggle and folder data, in "
        "[0, 1); 0 trains on all of it, e.g. a final Kaggle submission with --test-size 0 "
        "--val-fraction 0", Real(0.0, 1.0), default=0.2, unit="fraction", metavar="F",
        aliases=("--test-fraction",))
    limit_train: int | None = setting(
        "data", "train on a random subset of N training samples",
        Int(1, MAX_INT, optional=True), default=None, unit="samples", metavar="N",
        default_text="all")
    limit_test: int | None = setting(
        "data", "test on a random subset of N test samples", Int(1, MAX_INT, optional=True),
        default=None, unit="samples", metavar="N", default_text="all")
    n_train: int | None = setting(
        "data", "size of a synthetic training set (sine, xor, blobs)",
        Int(1, MAX_INT, optional=True), default=None, unit="samples", metavar="N",
        default_text="the dataset's")
    n_test: int | None = setting(
        "data", "size of a synthetic test set (sine, xor, blobs)",
        Int(1, MAX_INT, optional=True), default=None, unit="samples", metavar="N",
        default_text="the dataset's")
    size: tuple[int, int] | None = setting(
        "data", "height and width that folder images are resized to, e.g. 28,28", Size(),
        default=None, unit="pixels", metavar="H,W", default_text="28,28")
    invert: bool = setting("data", "train on inverted images (1 - x)", Bool(), default=False)
    augment: str | None = setting(
        "data", 'training-time augmentations, comma-separated, e.g. "flip,padcrop:2,erase": '
        "{catalogue}", Spec(parse_augment, "shift,noise:0.05", items=True,
                            catalogue=_augment_catalogue),
        default=None, metavar="SPEC", default_text="none")
    epochs: int = setting(
        "schedule", "passes over the data", Int(1, 1_000_000), default=5, unit="epochs")
    batch_size: int = setting(
        "optimisation", "samples per step", Int(1, MAX_INT), default=64, unit="samples")
    optimizer: str = setting(
        "optimisation", "update rule (momentum and nesterov are SGD with --momentum)",
        Choice(tuple(DEFAULT_LR)), default="adam")
    lr: float | None = setting(
        "optimisation", "learning rate", Real(0.0, lo_open=True, optional=True), default=None,
        default_text=f"the optimizer's: {_by_lr()}")
    weight_decay: float = setting(
        "optimisation", "L2 penalty (adamw: decoupled decay; 0 keeps AdamW's 0.01)",
        Real(0.0), default=0.0)
    momentum: float = setting(
        "optimisation", "momentum of --optimizer momentum/nesterov, in [0, 1)",
        Real(0.0, 1.0), default=0.9)
    label_smoothing: float = setting(
        "optimisation", "train against (1 - EPS) one-hot + EPS / classes, in [0, 1] "
        "(classification)", Real(0.0, 1.0, hi_open=False), default=0.0, metavar="EPS")
    schedule: str | None = setting(
        "schedule", "learning-rate schedule: step[:N[:gamma]], cosine[:min_lr], "
        "plateau[:factor[:patience]] or none", Spec(_schedule_form, "step:10:0.5"),
        default=None, default_text="constant")
    init: str = setting(
        "model", "weight initialisation: default (PyTorch's layer defaults), or He or Xavier, "
        "normal or uniform",
        Choice(INIT_SCHEMES, lambda s: s), default="default")
    patience: int | None = setting(
        "schedule", "stop after this many epochs without a better validation score",
        Int(1, MAX_INT, optional=True, hint=" (leave it out for no early stopping)"),
        default=None, unit="epochs", default_text="never")
    seed: int = setting("run", "seed of weights, splits, batches", Int(0, 2**63 - 1), default=0)
    record_grad_norms: bool = setting(
        "run", "keep each layer's gradient norm per step", Bool(), default=False)
    callbacks: list = setting(
        "run", "extra Callback objects for fit (in Python only)",
        Objects(lambda: Callback, "Callback objects"), factory=list, flag=None)
    resume: bool | str | None = setting(
        "run", "continue from --out/checkpoints/last (an error if there is none); in a file "
        "or in Python also a checkpoint's path", Resume(), default=None, default_text="off")
    plots: bool = setting("run", "write the PNG figures", Bool(), default=True)
    quiet: bool = setting("run", "no progress output", Bool(), default=False)
    name: str | None = setting(
        "run", "the run's name, kept in the model file", Text(), default=None, metavar="TEXT")
    tags: list[str] | None = setting(
        "run", "tags kept in the model file (comma-separated on the command line)", Tags(),
        default=None, metavar="TAGS")
    device: str = setting(
        "device", "where the model runs: cpu, or cuda / cuda:N for a GPU (needs CuPy: "
        "pip install barenet[gpu])", Device(), default="cpu", metavar="DEVICE")
    # fmt: on

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, check_setting(f.name, getattr(self, f.name)))
        if self.device != "cpu":
            self.device = parse_device(self.device)  # no GPU: GPUUnavailableError
        make_schedule(self.schedule, self.epochs, lr=self.effective_lr)  # cosine's floor < lr

    # -- the declarations -------------------------------------------------------
    @classmethod
    def settings(cls) -> dict[str, Setting]:
        """``{name: Setting}``: every field's declaration, in field order."""
        return {f.name: f.metadata["setting"] for f in dataclasses.fields(cls)}

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

    # -- construction -----------------------------------------------------------
    @classmethod
    def from_dict(cls, config: dict | TrainConfig) -> TrainConfig:
        """Check and convert a plain dict (``None`` for a setting with a default means
        the default). Raises ``ValueError``/``TypeError`` naming the setting."""
        if isinstance(config, TrainConfig):
            return config
        if not isinstance(config, dict):
            raise TypeError(f"training config must be a dict, got {type(config).__name__}")
        _refuse_unknown(config)
        if not config.get("model") or not config.get("data"):
            raise ValueError("training config needs 'model' and 'data'")
        nullable = {k for k, v in cls.defaults().items() if v is None}
        given = {k: v for k, v in config.items() if v is not None or k in nullable}
        return cls(**given)

    @classmethod
    def from_file(cls, path, **overrides) -> TrainConfig:
        """The run file at ``path`` (see :func:`read_run_file`) with ``overrides`` on top."""
        return cls.from_dict({**read_run_file(path), **overrides})

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

    def to_toml(self) -> str:
        """The resolved settings as a run file, by section: what a run writes as
        ``config.toml``, so that ``barenet train --config FILE`` repeats it (``resume``
        left out: the repeat starts afresh)."""
        values = {k: v for k, v in self.to_dict().items() if k != "resume"}
        head = "the settings of a run: barenet train --config THIS_FILE runs it again"
        return toml_text(values, self.settings(), head)

    def replace(self, **changes) -> TrainConfig:
        """A checked copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    @property
    def effective_lr(self) -> float:
        """``lr``, or the optimizer's default learning rate."""
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr


def check_setting(name: str, value):
    """``value`` of setting ``name`` in its canonical form: the one check that a
    dict, a sweep file, a run file and a command-line flag go through."""
    return TrainConfig.settings()[name].check(name, value)


def _refuse_unknown(config: dict, where: str = "") -> None:
    known = TrainConfig.keys()
    unknown = [k for k in config if k not in known]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(str(k).replace("-", "_"), known, n=1)
            hints.append(f"{k!r} (did you mean {close[0]!r}?)" if close else repr(k))
        raise ValueError(
            f"{where}unknown config keys: {', '.join(hints)}; known: {', '.join(sorted(known))}"
        )


_REQUIRED = ("model", "data")
_SWEEP_KEYS = ("base", "grid", "runs", "seeds", "quick")


def read_run_file(path) -> dict:
    """The settings of a run file: a TOML table with the keys of a sweep's ``[base]``
    (``model`` and ``data`` included, or given besides), each key checked; errors
    name the file and the key."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"run file {p} does not exist")
    try:
        settings = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML ({exc})") from None
    except ValueError as exc:  # TOMLDecodeError, or an int past Python's digit limit
        raise ValueError(f"{p}: not valid TOML ({exc})") from None
    sweep = [k for k in _SWEEP_KEYS if k in settings]
    if sweep:
        raise ValueError(
            f"{p} is a sweep configuration (it has {sweep[0]!r}); run it with barenet sweep, "
            "or keep the settings of one run at the top level of the file"
        )
    _refuse_unknown(settings, f"{p}: ")
    for k, v in settings.items():
        try:
            check_setting(k, v)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{p}: {exc}") from None
    return settings


def flag_of(name: str) -> str | None:
    """The command-line form of setting ``name``: ``--batch-size``, ``MODEL``, or
    ``None`` (Python only)."""
    return TrainConfig.settings()[name].flag_for(name)


def settings_reference(sections: Iterable[str] | None = None) -> str:
    """The settings reference as one Markdown table (section, setting, flag, values,
    default, unit, what it does), in section order; ``sections`` keeps only those.
    The book's build calls this, so the page cannot drift from the code."""
    wanted = list(SECTIONS if sections is None else sections)
    bad = [s for s in wanted if s not in SECTIONS]
    if bad:
        raise ValueError(f"unknown sections {bad}; choose from {', '.join(SECTIONS)}")
    return reference_table(TrainConfig.settings(), TrainConfig.defaults(), _REQUIRED, wanted)
