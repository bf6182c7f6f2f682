"""``check_layer``: every gradient of a layer against central differences (and a PyTorch
twin), each with a diagnosis. See ``barenet.doctor`` for the vocabulary."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ..gradcheck import leaf_inputs
from .diagnose import Context, TensorCheck, diagnose
from .geometry import geometry_of
from .numeric import _flat, group_keys, numeric_gradient
from .targets import DoctorInputError, ModuleTarget, Target, distinct_input, make_target
from .twin import build_twin, draws_random, run_twin

__all__ = ["CheckReport", "check_layer", "check_target"]

_TWIN_TOL = 1e-8
#: The largest input ``check_layer`` draws from ``input_shape`` (each element is perturbed).
MAX_INPUT = 1_000_000


@dataclass
class CheckReport:
    """The verdict of one check: a :class:`TensorCheck` per tensor, in the order input,
    parameters, then (with a twin) the comparisons with it, then — for a model with
    children that failed — each leaf layer checked alone (``"1:input"``, ``"1:weight"``)."""

    label: str
    input_shape: tuple[int, ...]
    tensors: list[TensorCheck] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tensors)

    def __bool__(self) -> bool:
        return self.ok

    def __getitem__(self, name: str) -> TensorCheck:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(f"{name!r}: the tensors are {', '.join(t.name for t in self.tensors)}")

    @property
    def diagnoses(self) -> dict[str, str]:
        """tensor name -> diagnosis."""
        return {t.name: t.diagnosis for t in self.tensors}

    def to_dict(self) -> dict:
        """``{"ok": bool, "tensors": [{name, max_abs_err, max_rel_err, worst_index,
        wrong_fraction, diagnosis, factor, hint}, ...]}``: what ``--json`` prints."""
        return {"ok": self.ok, "tensors": [t.to_dict() for t in self.tensors]}

    def __str__(self) -> str:
        def e(v):
            return "-" if v is None else f"{v:.1e}"

        w = max([6] + [len(t.name) for t in self.tensors])
        head = f"{'tensor':<{w}}  {'max abs err':>11}  {'max rel err':>11}  {'wrong':>7}  "
        head += f"{'worst index':<16}  diagnosis"
        lines = [
            f"{self.label} on input {self.input_shape}, float64 ({self.seconds:.2f} s)",
            head,
            "-" * len(head),
        ]
        for t in self.tensors:
            idx = "-" if t.worst_index is None else "(" + ", ".join(map(str, t.worst_index)) + ")"
            diag = t.diagnosis + (f" (k = {t.factor:.6g})" if t.diagnosis == "scaled" else "")
            lines.append(
                f"{t.name:<{w}}  {e(t.max_abs_err):>11}  {e(t.max_rel_err):>11}  "
                f"{t.wrong_fraction:>6.1%}  {idx:<16}  {diag}"
            )
            if not t.ok:
                lines.append(f"{'':<{w}}    {t.hint}")
        lines += [f"note: {n}" for n in self.notes]
        bad = [t for t in self.tensors if not t.ok]
        lines.append(
            "all gradients ok"
            if not bad
            else f"{len(bad)} of {len(self.tensors)} tensor(s) wrong: "
            + ", ".join(f"{t.name} ({t.diagnosis})" for t in bad)
        )
        return "\n".join(lines)


def _outputs(y):
    return tuple(y) if isinstance(y, tuple) else (y,)


def _unusable_output(part) -> str | None:
    """What is wrong with one output of a forward (None when it is real floating point):
    a gradient needs an output that varies with its input, so integers and booleans (piecewise
    constant), complex numbers and anything that is not a number are refused."""
    if part is None:
        return "None, expected an array of floats"
    if isinstance(part, (np.ndarray, np.generic, float, int)):
        dtype = np.asarray(part).dtype
        if dtype.kind == "f":
            return None
        what = f"an array of {dtype}" if isinstance(part, np.ndarray) else f"a scalar of {dtype}"
        if dtype.kind in "iub":
            return (f"{what}, expected floats: an integer or boolean output is constant "
                    "between its steps and has no gradient to check")  # fmt: skip
        return f"{what}, expected an array of floats"
    return f"a {type(part).__name__}, expected an array of floats"


def _same(a, b) -> np.ndarray | None:
    """Mask of the output elements that differ between two forwards, None if equal."""
    fa, fb = _flat(a), _flat(b)
    if fa.shape != fb.shape:
        return np.ones(max(fa.size, fb.size), bool)
    d = ~np.isclose(fa, fb, rtol=1e-12, atol=1e-300, equal_nan=True)
    return d if d.any() else None


def _constants(tgt: Target, x: np.ndarray, geo) -> dict:
    c: dict = {}
    if tgt.is_loss and x.ndim == 2:
        c.update(N=x.shape[0], K=x.shape[1])
        return c
    if x.ndim >= 1:
        c["N"] = x.shape[0]
    if geo is not None:
        c["kh·kw"] = geo.kernel[0] * geo.kernel[1]
    if x.ndim == 4:
        c["H·W"] = x.shape[2] * x.shape[3]
        c["N·H·W"] = x.shape[0] * x.shape[2] * x.shape[3]
        c["C"] = x.shape[1]
    elif x.ndim == 3:
        c["N·L"] = x.shape[0] * x.shape[2]
    p = getattr(tgt.layer, "p", tgt.kwargs.get("p"))
    if isinstance(p, float) and 0 < p < 1:
        c["1-p"] = 1 - p
    return c


def _uniform(names, diagnosis, hint, frac=1.0, index=None) -> list[TensorCheck]:
    return [TensorCheck(n, None, None, index, frac, diagnosis, None, hint) for n in names]


def check_target(
    tgt: Target, *, tol: float = 1e-6, eps: float = 1e-6, seed: int = 0, twin=None, args=None
) -> CheckReport:
    """Check a prepared target (``targets.make_target``); see :func:`check_layer`."""
    x = tgt.arrays["input"].copy()
    report = CheckReport(tgt.label, tuple(x.shape))
    names = list(tgt.arrays)
    y1, y2 = tgt.forward(), tgt.forward()
    for part in _outputs(y1):
        bad = _unusable_output(part)
        if bad:
            raise DoctorInputError(f"{tgt.label}: forward returned {bad}")
    differ = _same(y1, y2)
    if differ is not None:
        idx = [int(np.flatnonzero(differ)[0])]
        report.tensors = _uniform(
            names,
            "not-deterministic",
            f"forward gave different outputs for the same input at {int(differ.sum())} of "
            f"{differ.size} elements: randomness the check cannot replay (np.random's global "
            "state, a generator made in forward); draw from one the layer holds "
            "(self.rng = np.random.default_rng(seed)) or check in eval mode",
            float(differ.mean()),
            idx,
        )
        return report
    low = sorted({str(np.asarray(p).dtype) for p in _outputs(y1)
                  if np.asarray(p).dtype.itemsize < 8})  # fmt: skip
    if low:
        report.notes.append(
            f"the forward returns {', '.join(low)}: the check runs in float64, and a layer that "
            "casts its input or weights down rounds every finite difference (errors near 1e-3 "
            "are that rounding)"
        )
    if not all(np.isfinite(np.asarray(p, dtype=np.float64)).all() for p in _outputs(y1)):
        report.tensors = _uniform(names, "wrong", "the forward gives NaN or inf on a finite input")
        return report
    rng = np.random.default_rng(seed)
    if tgt.is_loss:
        r = np.ones(1)
        dy = None
    else:
        dys = tuple(rng.standard_normal(np.shape(p)) for p in _outputs(y1))
        dy = dys if isinstance(y1, tuple) else dys[0]
        r = _flat(dy)
    run = tgt.run(dy)
    assigned: set[str] = set()
    if isinstance(tgt, ModuleTarget) and tgt.params:
        again = tgt.run(dy, zero=False)
        for name in tgt.params:
            g1, g2 = run.grads.get(name), again.grads.get(name)
            if g1 is None or g2 is None or np.shape(g1) != np.shape(g2):
                continue
            g1, g2 = np.asarray(g1, float), np.asarray(g2, float)
            if np.abs(g1).max(initial=0) > 0 and np.allclose(g2, g1, rtol=1e-9, atol=0):
                assigned.add(name)
    geo = geometry_of(tgt.layer, tgt.kwargs, tgt.arrays)
    numerics = {}
    for name in names:
        keys = group_keys(y1, "channel" if name == "input" else "sample")
        numerics[name] = numeric_gradient(
            tgt.forward, tgt.arrays[name], r, eps, keys, run.grads.get(name), tol
        )
    tops = [float(np.abs(nm.grad).max(initial=0)) for nm in numerics.values()]
    for g in run.grads.values():
        try:
            ga = np.abs(np.asarray(g, dtype=np.float64))
            tops.append(float(ga[np.isfinite(ga)].max(initial=0)))
        except (TypeError, ValueError):
            pass
    floor = 1e-3 * max(tops, default=0.0)
    # Rounding in L = Σ y·R is about u·Σ|y·R|; a central difference divides it by h.
    magnitude = float(np.abs(_flat(y1) * r).sum())
    atol = 100 * np.finfo(np.float64).eps * magnitude / eps
    consts = _constants(tgt, x, geo)
    contexts: dict[str, Context] = {}
    for name in names:
        nm = numerics[name]
        scale = max(float(np.abs(nm.grad).max(initial=0)), floor, 1e-300)
        valid = nm.finite & (nm.kink <= 1e-3 * scale + atol)
        ctx = Context(
            role="input" if name == "input" else "param",
            geometry=geo if name == "input" else None,
            x=x if name == "input" else None,
            uses=nm.uses,
            partial=nm.partial,
            constants=consts,
        )
        contexts[name] = ctx
        tc = diagnose(
            name, run.grads.get(name), nm.grad, valid=valid, tol=tol, floor=floor, atol=atol,
            ctx=ctx,
            note=run.notes.get(name, ""),
        )  # fmt: skip
        if name in assigned and tc.ok:
            tc.diagnosis = "missing-accumulation"
            tc.hint = (
                "after two backward passes .grad holds one gradient, not their sum: add into "
                ".grad (+=) instead of setting it, or the gradients of several batches (or of "
                "a layer used twice) are lost"
            )
        report.tensors.append(tc)
    _mutations(report, run)
    if twin is not False and not tgt.is_loss and tgt.layer is not None:
        _twin_rows(report, tgt, twin, args, x, dy, contexts)
    return report


def _mutations(report: CheckReport, run) -> None:
    for key, mask in run.mutated.items():
        row = report["input" if key == "dy" else key]
        right = " (its values are right)" if row.ok else f" (and {row.diagnosis}: {row.hint})"
        what = (
            "backward wrote into dy, the array it was handed"
            if key == "dy"
            else f"forward wrote into its argument {key}"
        )
        row.hint = (
            f"{what}, at {int(mask.sum())} of {mask.size} elements: work on a copy "
            f"(dx = dy * mask, not dy[mask] = 0){right}"
        )
        row.diagnosis, row.factor = "mutates-input", None


def _twin_rows(report, tgt, twin, args, x, dy, contexts: dict[str, Context]) -> None:
    """The output and each gradient against the twin's; a gradient's row is read with the
    same patterns (windows, uses, constants) as its row against central differences."""
    names = list(contexts)
    module, twin_name = build_twin(twin, tgt.layer, args)
    if module is None:
        return
    # Two unreplayed forwards can agree by chance (a dropout on one element), hence both.
    again = _same(tgt.forward(replay=False), tgt.forward(replay=False))
    if draws_random(module) or again is not None:
        report.notes.append(f"{twin_name} not compared: the forward draws random numbers")
        return
    params = [n for n in names if n != "input"]
    y_twin, grads = run_twin(module, x, dy, params)
    y = np.asarray(tgt.forward(), dtype=np.float64)
    ctx = Context(role="output", reference=twin_name)
    report.tensors.append(diagnose(f"output vs {twin_name}", y, y_twin, tol=_TWIN_TOL, ctx=ctx))
    if not grads:
        return
    run = tgt.run(dy)
    for name in names:
        if grads.get(name) is None:
            continue
        ctx = dataclasses.replace(contexts[name], reference=twin_name)
        row = diagnose(f"{name} vs {twin_name}", run.grads.get(name), grads[name], tol=_TWIN_TOL,
                       ctx=ctx)  # fmt: skip
        report.tensors.append(row)


def _leaf_rows(report: CheckReport, tgt: ModuleTarget, tol, eps, seed) -> None:
    model = tgt.layer

    def run(xv):
        tgt._replay()
        return model.forward(np.array(xv, copy=True))

    for name, (leaf, xin) in leaf_inputs(run, model, tgt.arrays["input"]).items():
        sub = ModuleTarget(leaf, xin)
        kind = type(leaf).__name__
        res = check_target(sub, tol=tol, eps=eps, seed=seed, twin=False)
        for t in res.tensors:
            t.name = f"{name}:{t.name}"
            if not t.ok:
                t.hint = f"layer {name} ({kind}) checked alone on the input it received: {t.hint}"
            report.tensors.append(t)


def check_layer(
    layer_or_functions,
    input_shape=None,
    twin=None,
    *,
    x: np.ndarray | None = None,
    params: dict | None = None,
    args: dict | None = None,
    target=None,
    fresh: dict | None = None,
    tol: float = 1e-6,
    eps: float = 1e-6,
    seed: int = 0,
) -> CheckReport:
    """Check every gradient of a hand-written layer, in float64, and say what is wrong.

    ``layer_or_functions`` is one of

    - a layer: a ``barenet.Module`` (or any object with ``forward(x)`` and
      ``backward(dy)`` adding into its Parameters' ``.grad``), checked on a float64 copy;
    - a loss: a ``barenet.Loss`` (``loss(z, target)``, then ``backward()``); ``target``
      defaults to random labels for logits (N, K);
    - a pair of functions ``(forward, backward)`` in the style of ``barenet.reference``:
      ``forward(x, *params, **args) -> (y, cache)``, ``backward(dy, cache) -> (dx,
      *dparams)``; ``params`` maps each parameter's name to an array or a shape (random
      values are drawn), in the order ``forward`` takes them; ``args`` are the other keyword
      arguments (``stride``, ``padding``...) and ``fresh`` those made anew for every call
      (``{"rng": lambda: np.random.default_rng(0)}`` for dropout's generator). For a
      layer, ``args`` are its constructor's arguments, which a named twin is built with.

    The input is ``x``, or an array of ``input_shape`` (batch included) whose values are
    distinct and away from 0 (no max-pool ties, no ReLU kinks). With L = Σ y ⊙ R for a
    fixed random R, each tensor's analytic gradient (``backward(R)``) is compared with
    central differences (L(θ + h) - L(θ - h)) / 2h, h = ``eps``, element by element; an
    element is wrong when |analytic - numeric| > ``tol`` x the tensor's scale (its largest
    gradient, at least 1e-3 of the largest in the check). ``twin``: a PyTorch module or
    ``"torch.nn.NAME"`` computing the same thing (the layer's state dict is copied into it),
    ``None`` for the known twin of a barenet layer type when PyTorch is installed, or
    ``False``. A model with children that fails is then checked layer by layer
    (``gradcheck.leaf_inputs``), so the broken layer shows by name.

    Returns a :class:`CheckReport`; raises ``DoctorInputError`` (a ``ValueError``) for
    input that cannot be checked and ``LayerError`` (also one) when the layer raises,
    naming the call and the line.
    """
    t0 = time.perf_counter()
    if x is None:
        if input_shape is None:
            raise DoctorInputError("check_layer: give input_shape (batch included) or x")
        try:
            shape = tuple(int(s) for s in input_shape)
        except (TypeError, ValueError):
            raise DoctorInputError(f"check_layer: bad input_shape {input_shape!r}") from None
        if not shape or min(shape) < 1:
            raise DoctorInputError(f"check_layer: bad input_shape {shape}: sizes must be >= 1")
        size = int(np.prod(shape, dtype=object))
        if size > MAX_INPUT:
            raise DoctorInputError(
                f"check_layer: input_shape {shape} has {size:,} elements; the check runs two "
                f"forwards per element: give at most {MAX_INPUT:,} (a batch of 2 shows what a "
                "larger one would)"
            )
        x = distinct_input(shape, seed)
    tgt = make_target(
        layer_or_functions, x, params=params, args=args, target=target, fresh=fresh, seed=seed
    )
    try:
        report = check_target(tgt, tol=tol, eps=eps, seed=seed, twin=twin, args=args)
        layer = tgt.layer
        if not report.ok and isinstance(tgt, ModuleTarget) and getattr(layer, "_module_names", ()):
            _leaf_rows(report, tgt, tol, eps, seed)
    finally:
        tgt._replay()  # barenet's generator as it was found
    report.seconds = time.perf_counter() - t0
    return report
