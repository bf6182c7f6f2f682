"""What the doctor checks, behind one interface: a layer (a ``Module`` or any object with
``forward``/``backward``), a loss (``loss(z, target)`` then ``backward()``), or plain
functions in the style of ``barenet.reference``:

    forward(x, *params, **kwargs) -> (y, cache)      backward(dy, cache) -> (dx, *dparams)

Every target holds its differentiable arrays in float64 (``arrays``: the input first,
then the parameters), which the numeric pass perturbs in place, and runs the user's code
on copies of them, so that a forward or backward writing into what it was handed is
seen (``Run.mutated``) instead of corrupting the check. Randomness is replayed: barenet's
generator and every ``numpy.random`` generator held by the layer are restored before each
call, and a function's ``fresh`` arguments (a seeded generator) are made anew.
"""

from __future__ import annotations

import copy
import linecache
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core import config
from ..core.module import Module
from ..losses import Loss

__all__ = ["DoctorInputError", "LayerError", "Run", "Target", "make_target"]


class DoctorInputError(ValueError):
    """What was handed to the doctor cannot be checked (a file, a name, a shape, the
    arguments): the message says which and why."""


class LayerError(ValueError):
    """The layer under check raised: the message names the call (``forward`` or
    ``backward``), the exception and the line of the user's code it came from."""

    def __init__(self, message: str, original: BaseException, call: str, at: str = ""):
        super().__init__(message)
        self.original = original
        self.call = call
        self.at = at


def where(exc: BaseException) -> str:
    """``file.py, line 12: the line`` of the innermost frame outside barenet's doctor
    (the user's code), or "" when there is none."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.dirname(os.path.abspath(__file__))
    own = [f for f in frames if not os.path.abspath(f.filename).startswith(here)]
    if not own:
        return ""
    f = own[-1]
    line = (f.line or linecache.getline(f.filename, f.lineno)).strip()
    text = f"{os.path.basename(f.filename)}, line {f.lineno}"
    return f"{text}: {line}" if line else text


def _call(label: str, what: str, fn: Callable, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised with the place it came from
        at = where(exc)
        who = f"{label}.{what}" if what in ("forward", "backward") else what
        msg = f"{who} raised {type(exc).__name__}: {exc}"
        raise LayerError(msg + (f" ({at})" if at else ""), exc, who, at) from exc


@dataclass
class Run:
    """One forward and backward: the output, each tensor's gradient (None where the
    backward gave none) and what the calls wrote into the arrays they were handed."""

    output: object
    grads: dict[str, np.ndarray | None]
    # tensor name (or "dy") -> mask of the elements changed in place
    mutated: dict[str, np.ndarray] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # tensor name -> why it has no grad


def _as_float64(a) -> np.ndarray:
    return np.array(a, dtype=np.float64, order="C", copy=True)


def _outputs(y) -> tuple[np.ndarray, ...]:
    return tuple(y) if isinstance(y, tuple) else (y,)


def _changed(before: np.ndarray, after) -> np.ndarray | None:
    after = np.asarray(after)
    if after.shape != before.shape:
        return None
    diff = ~((before == after) | (np.isnan(before) & np.isnan(after)))
    return diff if diff.any() else None


def _generators(obj) -> list:
    """Every numpy random generator held by ``obj`` and its submodules' attributes."""
    found = []
    mods = list(obj.modules()) if isinstance(obj, Module) else [obj]
    for m in mods:
        for v in list(getattr(m, "__dict__", {}).values()):
            if isinstance(v, (np.random.Generator, np.random.RandomState)):
                if all(v is not g for g in found):
                    found.append(v)
    return found


class _Replay:
    """Restores barenet's generator and the layer's own ones to their state at creation."""

    def __init__(self, obj):
        self.gens = [config.get_rng(), *_generators(obj)]
        self.states = [self._get(g) for g in self.gens]

    @staticmethod
    def _get(g):
        if isinstance(g, np.random.RandomState):
            return g.get_state()
        return copy.deepcopy(g.bit_generator.state)

    def __call__(self) -> None:
        for g, s in zip(self.gens, self.states):
            if isinstance(g, np.random.RandomState):
                g.set_state(s)
            else:
                g.bit_generator.state = copy.deepcopy(s)


class Target:
    """The interface the check uses; see the module docstring."""

    label: str = "layer"
    arrays: dict[str, np.ndarray]
    is_loss: bool = False
    layer = None  # the object checked, for geometry and hints (a Module, or None)
    kwargs: dict = {}

    def forward(self, replay: bool = True):
        raise NotImplementedError

    def run(self, dy, zero: bool = True) -> Run:
        raise NotImplementedError

    def param_names(self) -> list[str]:
        return [k for k in self.arrays if k != "input"]


class ModuleTarget(Target):
    """A layer: ``forward(x)``, ``backward(dy)``, its Parameters' ``.grad`` added into."""

    def __init__(self, layer, x: np.ndarray, label: str | None = None):
        layer = copy.deepcopy(layer)
        if isinstance(layer, Module):
            layer.to(np.float64)
            layer.needs_input_grad = True
        self.layer = layer
        self.label = label or _label(layer)
        params = list(layer.named_parameters()) if hasattr(layer, "named_parameters") else []
        self.params = dict(params)
        self.arrays = {"input": _as_float64(x)}
        for name, p in params:
            self.arrays[name] = p.data  # perturbed in place: the layer sees it
        self._replay = _Replay(layer)

    def forward(self, replay: bool = True):
        if replay:
            self._replay()
        xin = self.arrays["input"].copy()
        return _call(self.label, "forward", self.layer.forward, xin)

    def run(self, dy, zero: bool = True) -> Run:
        self._replay()
        if zero:
            for p in self.params.values():
                if p.grad is not None:
                    p.grad[...] = 0
        xin = self.arrays["input"].copy()
        y = _call(self.label, "forward", self.layer.forward, xin)
        mutated = {}
        m = _changed(self.arrays["input"], xin)
        if m is not None:
            mutated["input"] = m
        dyin = tuple(d.copy() for d in dy) if isinstance(dy, tuple) else dy.copy()
        dx = _call(self.label, "backward", self.layer.backward, dyin)
        for before, after in zip(_outputs(dy), _outputs(dyin)):
            m = _changed(before, after)
            if m is not None:
                mutated["dy"] = m
        grads: dict[str, np.ndarray | None] = {"input": dx}
        for name, p in self.params.items():
            grads[name] = None if p.grad is None else np.array(p.grad, copy=True)
        return Run(y, grads, mutated)


class LossTarget(Target):
    """A loss: ``L = loss(z, target)`` (a number), then ``backward()`` gives dL/dz."""

    is_loss = True

    def __init__(self, loss, z: np.ndarray, target, label: str | None = None):
        self.layer = copy.deepcopy(loss)
        self.target = target
        self.label = label or _label(loss)
        self.arrays = {"input": _as_float64(z)}
        self._replay = _Replay(self.layer)

    def forward(self, replay: bool = True):
        if replay:
            self._replay()
        return np.asarray(
            _call(self.label, "forward", self.layer, self.arrays["input"].copy(), self.target),
            dtype=np.float64,
        )

    def run(self, dy, zero: bool = True) -> Run:
        self._replay()
        zin = self.arrays["input"].copy()
        loss = _call(self.label, "forward", self.layer, zin, self.target)
        mutated = {}
        m = _changed(self.arrays["input"], zin)
        if m is not None:
            mutated["input"] = m
        dz = _call(self.label, "backward", self.layer.backward)
        return Run(np.asarray(loss, dtype=np.float64), {"input": dz}, mutated)


class FunctionsTarget(Target):
    """Plain functions: ``forward(*tensors, **kwargs) -> (y, cache)`` and
    ``backward(dy, cache) -> (d tensor, ...)`` in the order of ``tensors`` (a tensor that
    is None, such as an absent bias, is passed as None and its gradient ignored). ``y``
    and ``dy`` may be tuples (several outputs). ``fresh`` arguments are made anew for
    every call (a seeded ``numpy.random.Generator``)."""

    def __init__(
        self,
        forward: Callable,
        backward: Callable,
        tensors: dict[str, np.ndarray | None],
        kwargs: dict | None = None,
        fresh: dict[str, Callable[[], object]] | None = None,
        label: str | None = None,
    ):
        self.fwd, self.bwd = forward, backward
        names = list(tensors)
        self.order = names
        self.arrays = {}
        for i, (name, a) in enumerate(tensors.items()):
            if a is not None:
                self.arrays["input" if i == 0 else name] = _as_float64(a)
        self.first = names[0]
        self.kwargs = dict(kwargs or {})
        self.fresh = dict(fresh or {})
        self.label = label or getattr(forward, "__name__", "forward").removesuffix("_forward")
        self._replay = _Replay(None)

    def _key(self, i: int) -> str:
        return "input" if i == 0 else self.order[i]

    def _args(self) -> tuple[list, dict]:
        args = [
            self.arrays[self._key(i)].copy() if self._key(i) in self.arrays else None
            for i in range(len(self.order))
        ]
        kw = {**self.kwargs, **{k: make() for k, make in self.fresh.items()}}
        return args, kw

    def _forward(self, args, kw):
        name = getattr(self.fwd, "__name__", "forward")
        out = _call(self.label, name, self.fwd, *args, **kw)
        if not (isinstance(out, tuple) and len(out) == 2):
            got = f"a tuple of {len(out)}" if isinstance(out, tuple) else type(out).__name__
            raise DoctorInputError(f"{name} must return (y, cache), got {got}")
        return out

    def forward(self, replay: bool = True):
        if replay:
            self._replay()
        args, kw = self._args()
        return self._forward(args, kw)[0]

    def run(self, dy, zero: bool = True) -> Run:
        self._replay()
        args, kw = self._args()
        y, cache = self._forward(args, kw)
        mutated = {}
        for i, a in enumerate(args):
            key = self._key(i)
            if a is not None:
                m = _changed(self.arrays[key], a)
                if m is not None:
                    mutated[key] = m
        dyin = tuple(d.copy() for d in dy) if isinstance(dy, tuple) else dy.copy()
        name = getattr(self.bwd, "__name__", "backward")
        out = _call(self.label, name, self.bwd, dyin, cache)
        for before, after in zip(_outputs(dy), _outputs(dyin)):
            m = _changed(before, after)
            if m is not None:
                mutated["dy"] = m
        out = out if isinstance(out, tuple) else (out,)
        grads, notes = {}, {}
        for i in range(len(self.order)):
            key = self._key(i)
            if key not in self.arrays:
                continue
            if i < len(out):
                grads[key] = out[i]
            else:
                grads[key] = None
                notes[key] = (
                    f"{name} returned {len(out)} gradient(s), expected {len(self.order)}: "
                    f"d{', d'.join(self.order)}"
                )
        return Run(y, grads, mutated, notes)


class LossFunctionTarget(FunctionsTarget):
    """A fused loss function ``fn(z, target, **kwargs) -> (L, dL/dz, ...)``."""

    is_loss = True

    def __init__(self, fn: Callable, z, target, kwargs=None, label=None):
        self.fn, self.target = fn, target
        super().__init__(fn, fn, {"z": z}, kwargs, None, label or fn.__name__)

    def _loss(self):
        zin = self.arrays["input"].copy()
        out = _call(self.label, self.fn.__name__, self.fn, zin, self.target, **self.kwargs)
        if not (isinstance(out, tuple) and len(out) >= 2):
            raise DoctorInputError(f"{self.fn.__name__} must return (loss, dL/dz, ...)")
        return zin, out

    def forward(self, replay: bool = True):
        return np.asarray(self._loss()[1][0], dtype=np.float64)

    def run(self, dy, zero: bool = True) -> Run:
        zin, out = self._loss()
        mutated = {}
        m = _changed(self.arrays["input"], zin)
        if m is not None:
            mutated["input"] = m
        return Run(np.asarray(out[0], dtype=np.float64), {"input": out[1]}, mutated)


def _label(obj) -> str:
    name = type(obj).__name__
    lab = getattr(obj, "_label", None)
    if callable(lab):
        try:
            text = str(lab())
        except Exception:  # noqa: BLE001 - a user layer's own _label may need a forward first
            return name
        # A subclass of a barenet layer inherits its label: name the user's class too.
        return text if text.startswith(name) else f"{name} ({text})"
    return name


def distinct_input(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A float64 input of ``shape`` whose values are distinct and evenly spread over
    [-1.5, 1.5], none near 0: no max-pool ties and no ReLU kinks within a finite
    difference's step, in random order."""
    n = int(np.prod(shape, dtype=np.int64))
    ranks = np.random.default_rng(seed).permutation(n)
    return ((ranks - (n - 1) / 2) * (3.0 / max(n, 2))).reshape(shape)


def make_target(
    layer_or_functions,
    x: np.ndarray,
    *,
    params: dict | None = None,
    args: dict | None = None,
    target=None,
    fresh: dict | None = None,
    seed: int = 0,
) -> Target:
    """The target for what ``check_layer`` was given (see its docstring)."""
    obj = layer_or_functions
    if isinstance(obj, Loss):
        if target is None:
            if x.ndim != 2:
                raise DoctorInputError(
                    f"{_label(obj)}: a loss takes logits (N, K); got input shape {x.shape}"
                )
            target = np.random.default_rng(seed + 1).integers(0, x.shape[1], x.shape[0])
        return LossTarget(obj, x, target)
    if isinstance(obj, tuple) and len(obj) == 2 and all(callable(f) for f in obj):
        fwd, bwd = obj
        tensors = {"x": x}
        rng = np.random.default_rng(seed + 2)
        for name, p in (params or {}).items():
            if p is None:
                tensors[name] = None
            elif isinstance(p, (tuple, list)) and all(isinstance(s, int) for s in p):
                tensors[name] = rng.standard_normal(tuple(p)) * 0.5
            else:
                tensors[name] = np.asarray(p, dtype=np.float64)
        return FunctionsTarget(fwd, bwd, tensors, args, fresh)
    if callable(getattr(obj, "forward", None)) and callable(getattr(obj, "backward", None)):
        return ModuleTarget(obj, x)
    raise DoctorInputError(
        f"cannot check a {type(obj).__name__}: expected a layer (forward and backward), a "
        "loss, or a pair of functions (forward, backward)"
    )
