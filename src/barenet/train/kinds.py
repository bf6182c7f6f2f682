"""The value kinds of the training settings: each is a check called as
``check(name, value)``, which returns the value in its canonical form or raises
``ValueError``/``TypeError`` with one wording, the setting's name first (``lr must be
a finite number > 0, got nan``); ``describe()`` gives its range for the reference
table, ``kind`` tells the command line how to read its text."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .settings import MAX_INT, shown

__all__ = [
    "Int",
    "Real",
    "Bool",
    "Choice",
    "Text",
    "PathValue",
    "Size",
    "Tags",
    "Table",
    "Spec",
    "Device",
    "Resume",
    "Objects",
]


# A setting's number may be a NumPy scalar (a dict built in Python), unlike a JSON file's
# (barenet.core.checks.is_int / is_number).
def _is_int(v) -> bool:
    """An int (Python or NumPy) that is not a bool."""
    return (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, np.integer)


def _is_number(v) -> bool:
    """An int or float (Python or NumPy) that is not a bool."""
    return _is_int(v) or isinstance(v, (float, np.floating))


@dataclass(frozen=True)
class Int:
    """An integer in ``[lo, hi]`` (``optional``: or ``None``); bools and floats refused."""

    lo: int
    hi: int | None = None
    optional: bool = False
    hint: str = ""
    kind = "int"

    def __call__(self, name: str, v):
        if v is None and self.optional:
            return None
        if not _is_int(v) or v < self.lo:
            raise ValueError(f"{name} must be an int >= {self.lo}{self.hint}, got {shown(v)}")
        if self.hi is not None and v > self.hi:
            raise ValueError(f"{name} must be an int <= {self.hi}{self.hint}, got {shown(v)}")
        return int(v)

    def describe(self) -> str:
        return f"int >= {self.lo}" if self.hi is None else f"int in [{self.lo}, {self.hi}]"


@dataclass(frozen=True)
class Real:
    """A finite number in the range given (``lo_open``/``hi_open``: bound excluded)."""

    lo: float
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = True
    optional: bool = False
    kind = "real"

    def describe(self) -> str:
        if self.hi is None:
            return f"> {self.lo:g}" if self.lo_open else f">= {self.lo:g}"
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"in {left}{self.lo:g}, {self.hi:g}{right}"

    def __call__(self, name: str, v):
        if v is None and self.optional:
            return None
        ok = _is_number(v) and math.isfinite(float(v))
        if ok:
            f = float(v)
            ok = (f > self.lo if self.lo_open else f >= self.lo) and (
                self.hi is None or (f < self.hi if self.hi_open else f <= self.hi)
            )
        if not ok:
            raise ValueError(f"{name} must be a finite number {self.describe()}, got {shown(v)}")
        return float(v)


@dataclass(frozen=True)
class Bool:
    kind = "bool"

    def __call__(self, name: str, v):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name} must be true or false, got {shown(v)}")
        return bool(v)

    def describe(self) -> str:
        return "true or false"


def _lower(s: str) -> str:
    return s.strip().lower()


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (a tuple, or a function returning one: a registry read when
    first needed), after ``normalise`` (e.g. case and ``_`` -> ``-``)."""

    options: tuple[str, ...] | Callable[[], Sequence[str]]
    normalise: Callable[[str], str] = _lower
    kind = "choice"

    def choices(self) -> tuple[str, ...]:
        return tuple(self.options() if callable(self.options) else self.options)

    def __call__(self, name: str, v):
        options = self.choices()
        key = self.normalise(v) if isinstance(v, str) else None
        if key not in options:
            raise ValueError(f"unknown {name} {shown(v)}; choose from {', '.join(options)}")
        return key

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{c}`" for c in self.choices())


@dataclass(frozen=True)
class Text:
    """A string, or ``None``."""

    kind = "text"

    def __call__(self, name: str, v):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{name} must be a string, got {shown(v)}")
        return v

    def describe(self) -> str:
        return "text"


@dataclass(frozen=True)
class PathValue:
    """A file or folder name, or ``None``."""

    kind = "path"

    def __call__(self, name: str, v):
        if v is None:
            return None
        if not isinstance(v, (str, os.PathLike)) or not str(v):
            raise TypeError(f"{name} must be a path, got {shown(v)}")
        return str(v)

    def describe(self) -> str:
        return "a path"


@dataclass(frozen=True)
class Size:
    """``(height, width)``, two ints >= 1 (a list in files, ``H,W`` on the command line)."""

    kind = "size"

    def __call__(self, name: str, v):
        if v is None:
            return None
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_int(s) and s >= 1 for s in v):
            if max(v) <= MAX_INT:
                return (int(v[0]), int(v[1]))
        raise ValueError(f"{name} must be two ints >= 1 (height, width), got {shown(v)}")

    def describe(self) -> str:
        return "two ints >= 1: height, width"


@dataclass(frozen=True)
class Tags:
    """A list of strings (one string is a list of one; ``a,b`` on the command line)."""

    kind = "tags"

    def __call__(self, name: str, v):
        if v is None:
            return None
        if isinstance(v, str):
            return [v]
        if isinstance(v, (list, tuple)) and all(isinstance(t, str) for t in v):
            return list(v)
        raise TypeError(f"{name} must be a string or a list of strings, got {shown(v)}")

    def describe(self) -> str:
        return "a list of strings"


# Builder arguments that are sizes (an int >= 1, or a list of them) or probabilities.
_SIZE_ARGS = ("hidden", "widths", "channels", "convs")
_PROB_ARGS = ("dropout",)


def _size_arg(where: str, v) -> None:
    vals = v if isinstance(v, (list, tuple)) else [v]
    if not vals or not all(_is_int(s) and s >= 1 for s in vals):
        raise ValueError(f"{where} must be an int >= 1 or a list of them, got {shown(v)}")


def _numbers_finite(where: str, v) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _numbers_finite(f"{where}.{k}", x)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _numbers_finite(where, x)
    elif _is_number(v) and not math.isfinite(float(v)):
        raise ValueError(f"{where} must be finite, got {shown(v)}")


@dataclass(frozen=True)
class Table:
    """The model builder's arguments: a table whose numbers are finite, whose sizes
    (``hidden``, ``widths``, ``channels``, ``convs``) are ints >= 1 and whose
    ``dropout`` is in [0, 1)."""

    kind = "table"

    def __call__(self, name: str, v):
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise TypeError(f"{name} must be a table of builder arguments, got {shown(v)}")
        _numbers_finite(name, v)
        for k, x in v.items():
            if k in _SIZE_ARGS:
                _size_arg(f"{name}.{k}", x)
            elif k in _PROB_ARGS:
                Real(0.0, 1.0)(f"{name}.{k}", x)
        return dict(v)

    def describe(self) -> str:
        return "a table (JSON on the command line)"


@dataclass(frozen=True)
class Spec:
    """A short text spec (``"cosine:1e-5"``, ``"shift,noise:0.05"``) or ``None``,
    checked by ``parse(text)`` (which raises naming the spec); ``form`` shows its shape.
    ``items``: a comma-separated list, whose empty items are refused; ``catalogue``: a
    function giving the text of the known items (for ``{catalogue}`` in the help)."""

    parse: Callable[[str], object]
    form: str
    items: bool = False
    catalogue: Callable[[], str] | None = None
    kind = "spec"

    def __call__(self, name: str, v):
        if v is None:
            return None
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a string like {self.form!r}, got {shown(v)}")
        if self.items and v.strip() and not all(s.strip() for s in v.split(",")):
            raise ValueError(f"{name} {v!r}: an empty item between commas; e.g. {self.form!r}")
        self.parse(v)
        return v

    def describe(self) -> str:
        return f"text like `{self.form}`"


@dataclass(frozen=True)
class Device:
    """``cpu``, ``cuda`` or ``cuda:N`` (the format; whether that GPU exists is asked when
    the config is built, see :class:`~barenet.train.TrainConfig`)."""

    kind = "device"

    def __call__(self, name: str, v):
        if v is None:
            return "cpu"
        t = v.strip().lower() if isinstance(v, str) else None
        if t == "cpu" or t == "cuda" or (t and t.startswith("cuda:") and t[5:].isdigit()):
            return t
        error = TypeError if t is None else ValueError
        raise error(f"{name}: expected cpu, cuda or cuda:N, got {shown(v, 40)}")

    def describe(self) -> str:
        return "`cpu`, `cuda` or `cuda:N`"


@dataclass(frozen=True)
class Resume:
    """``True`` (the run folder's last checkpoint), a checkpoint's path, or off."""

    kind = "resume"

    def __call__(self, name: str, v):
        if v is None or isinstance(v, bool):
            return v
        return PathValue()(name, v)

    def describe(self) -> str:
        return "true or a checkpoint path"


@dataclass(frozen=True)
class Objects:
    """A list of Python objects of ``of`` (a class, or a function returning it)."""

    of: Callable
    what: str
    kind = "objects"

    def __call__(self, name: str, v):
        cls = self.of()
        v = list(v or [])
        bad = [c for c in v if not isinstance(c, cls)]
        if bad:
            raise TypeError(f"{name} must be {self.what}, got {shown(bad)}")
        return v

    def describe(self) -> str:
        return self.what
