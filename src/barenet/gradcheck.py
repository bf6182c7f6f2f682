"""Gradient checking by central differences in float64.

For a module the scalar checked is L = Σ y ⊙ R with a fixed random R, so the
analytic gradients come from ``backward(R)``; a module whose output is a tuple (a
recurrent layer's ``(y, h)`` or ``(y, (h, c))``) gets one R per array, handed to
``backward`` in the same nesting. For a loss, L is the loss itself. Integer inputs
(an Embedding's indices) are data: only the parameters' gradients are checked.
Each numeric derivative is (L(θ + h) - L(θ - h)) / 2h. The error reported for a
tensor is max|analytic - numeric| / max(max|analytic|, max|numeric|, floor), its
worst element relative to the tensor's scale (elementwise ratios blow up on
entries that are zero up to rounding). The floor, 1e-3 times the largest gradient
anywhere in the check, keeps a gradient that is exactly zero in theory (a conv
bias followed by BatchNorm) from turning rounding noise into a 100 % error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .core import config
from .core.hooks import wrap_leaves
from .core.module import Module


@dataclass
class GradcheckResult:
    """Worst relative error of the input gradient and of each parameter's."""

    input_error: float
    param_errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-6
    # When a model with children fails: each leaf layer checked alone, on the input it
    # received, so the broken backward shows by name.
    layer_errors: dict[str, float] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max([self.input_error, *self.param_errors.values()])

    @property
    def ok(self) -> bool:
        return self.max_error <= self.tol

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        rows = [("input", self.input_error), *self.param_errors.items()]
        w = max(len(r[0]) for r in rows)
        lines = [f"{name:<{w}}  {err:.3e}" for name, err in rows]
        lines.append(
            f"{'worst':<{w}}  {self.max_error:.3e}  ({'ok' if self.ok else 'FAILED'}"
            f" at tol {self.tol:g})"
        )
        if self.layer_errors:
            lines.append("each layer alone, on the input it received:")
            lines += [f"  {name}  {err:.3e}" for name, err in self.layer_errors.items()]
        return "\n".join(lines)


def _scale(a: np.ndarray) -> float:
    return float(np.abs(a).max(initial=0.0))


def _rel_error(a: np.ndarray, n: np.ndarray, floor: float) -> float:
    scale = max(_scale(a), _scale(n), floor)
    if scale == 0.0:
        return 0.0
    return float(np.abs(a - n).max() / scale)


def _arrays(out) -> list:
    """The arrays of an output, nested tuples (a recurrent layer's state) flattened."""
    if isinstance(out, (tuple, list)):
        return [a for part in out for a in _arrays(part)]
    return [out]


def _like(out, make):
    """``out``'s nesting with every array replaced by ``make(array)``."""
    if isinstance(out, (tuple, list)):
        return tuple(_like(part, make) for part in out)
    return make(out)


def _rng_holders(obj) -> list[np.random.Generator]:
    gens = [config.get_rng()]
    if isinstance(obj, Module):
        gens += [
            m.rng for m in obj.modules() if isinstance(getattr(m, "rng", None), np.random.Generator)
        ]
    return gens


def leaf_inputs(run, model: Module, x: np.ndarray) -> dict[str, tuple[Module, np.ndarray]]:
    """name -> (leaf, a copy of the input it received) for every leaf layer of ``model``,
    in call order, from one ``run(x)`` (a forward of the model; ``core.hooks.wrap_leaves``
    captures them). A leaf called twice keeps its first input."""
    inputs: dict[str, tuple[Module, np.ndarray]] = {}

    def capture(name, leaf, call, xin):
        inputs.setdefault(name or type(leaf).__name__, (leaf, np.array(xin, copy=True)))
        return call(xin)

    with wrap_leaves(model, forward=capture):
        run(x)
    return inputs


def _blame_layers(run, model: Module, x: np.ndarray, **kw) -> dict[str, float]:
    """The worst error of each leaf layer checked alone, on the input it received in one
    forward of the model."""
    inputs = leaf_inputs(run, model, x)
    return {name: gradcheck(leaf, xin, **kw).max_error for name, (leaf, xin) in inputs.items()}


def central_differences(evaluate, arr: np.ndarray, eps: float):
    """For each element i of ``arr`` (in place, whatever its memory order): yields
    ``(i, evaluate() at arr[i] + eps, evaluate() at arr[i] - eps)``, restoring arr[i]
    before yielding. The numeric derivative of a scalar f is (f₊ - f₋) / 2·eps; of an
    array-valued one, the same difference is a column of its Jacobian."""
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + eps
        fp = evaluate()
        arr[i] = old - eps
        fm = evaluate()
        arr[i] = old
        yield i, fp, fm


def gradcheck(
    module_or_fn,
    x: np.ndarray,
    target=None,
    *,
    eps: float = 1e-6,
    tol: float = 1e-6,
    seed: int = 0,
    check_params: bool = True,
    raise_on_failure: bool = False,
) -> GradcheckResult:
    """Compare hand-derived gradients with central differences, in float64.

    ``module_or_fn`` is a Module (checked on a float64 copy, left untouched), a
    loss (called as ``loss(x, target)``), or any object with ``__call__(x)`` and
    ``backward(dy)``. Randomness (dropout masks) is replayed identically for every
    evaluation. When a model with children fails, each of its leaf layers is also
    checked alone (``layer_errors``). Returns a GradcheckResult; raises AssertionError
    when ``raise_on_failure`` and the worst error exceeds ``tol``.
    """
    indices = np.asarray(x).dtype.kind in "iu"  # data, not a variable: no gradient
    # perturbed in place, element by element
    x = np.array(x, dtype=None if indices else np.float64, order="C", copy=True)
    obj = module_or_fn
    if isinstance(obj, Module):
        obj = copy.deepcopy(obj).to(np.float64)
    gens = _rng_holders(obj)
    states = [copy.deepcopy(g.bit_generator.state) for g in gens]
    is_loss = target is not None

    def restore():
        for g, s in zip(gens, states):
            g.bit_generator.state = copy.deepcopy(s)

    def run(xv):
        restore()
        return obj(xv, target) if is_loss else obj(xv)

    y = run(x)
    if is_loss:
        r = None

        def scalar(xv):
            return float(run(xv))
    else:
        gen = np.random.default_rng(seed)
        r = _like(y, lambda a: gen.standard_normal(np.shape(a)))

        def scalar(xv):
            return float(sum(np.sum(a * b) for a, b in zip(_arrays(run(xv)), _arrays(r))))

    params = list(obj.named_parameters()) if (check_params and isinstance(obj, Module)) else []
    for _, p in params:
        p.grad[...] = 0
    run(x)
    dx = obj.backward() if is_loss else obj.backward(r)
    analytic = {name: p.grad.copy() for name, p in params}

    def numeric(arr: np.ndarray) -> np.ndarray:
        g = np.zeros(arr.shape, dtype=np.float64)
        for i, fp, fm in central_differences(lambda: scalar(x), arr, eps):
            g[i] = (fp - fm) / (2 * eps)
        return g

    pairs = {} if indices else {"input": (np.asarray(dx, dtype=np.float64), numeric(x))}
    for name, p in params:
        pairs[name] = (analytic[name], numeric(p.data))
    floor = 1e-3 * max((max(_scale(a), _scale(n)) for a, n in pairs.values()), default=0.0)
    errors = {name: _rel_error(a, n, floor) for name, (a, n) in pairs.items()}
    result = GradcheckResult(input_error=errors.pop("input", 0.0), param_errors=errors, tol=tol)
    if not result.ok and isinstance(obj, Module) and obj._module_names:
        result.layer_errors = _blame_layers(run, obj, x, eps=eps, tol=tol, seed=seed)
    restore()
    if raise_on_failure and not result.ok:
        raise AssertionError(f"gradcheck failed:\n{result}")
    return result
