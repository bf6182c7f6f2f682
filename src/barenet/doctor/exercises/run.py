"""``check(path)``: an exercise file through the doctor, case by case."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import reference
from ..check import check_target
from ..diagnose import Context, diagnose
from ..loading import load_module
from ..targets import FunctionsTarget, LayerError, LossFunctionTarget
from .entry import Exercise
from .files import exercise_of

__all__ = ["CaseResult", "ExerciseReport", "check"]


@dataclass
class CaseResult:
    """One shape case: ``problems`` lists what is wrong (empty: it passes)."""

    label: str
    input_shape: tuple[int, ...]
    problems: list[str] = field(default_factory=list)
    todo: bool = False  # a function still raises NotImplementedError

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ExerciseReport:
    exercise: Exercise
    path: str
    cases: list[CaseResult] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # the exercise's own checks
    missing: list[str] = field(default_factory=list)  # functions the file lacks

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra and all(c.ok for c in self.cases)

    def __str__(self) -> str:
        ex = self.exercise
        lines = [f"{ex.name}: {ex.title} ({self.path})"]
        if self.missing:
            lines.append(f"missing: {', '.join(self.missing)} (the file must define them)")
        todo = [c for c in self.cases if c.todo]
        if todo and len(todo) == len(self.cases):
            lines.append(f"not written yet: {todo[0].problems[0]}")
        else:
            w = max([4] + [len(f"{c.label} {c.input_shape}") for c in self.cases])
            for c in self.cases:
                head = f"{c.label} {c.input_shape}"
                lines.append(f"  {head:<{w}}  {'ok' if c.ok else c.problems[0]}")
                lines += [f"  {'':<{w}}  {p}" for p in c.problems[1:]]
        lines += [f"  {p}" for p in self.extra]
        passed = sum(c.ok for c in self.cases)
        if self.ok:
            lines.append(
                f"all {len(self.cases)} cases pass: done. The worked solution is "
                + ", ".join(f"barenet.reference.{r}" for r in ex.solution.values())
            )
        else:
            lines.append(
                f"{passed} of {len(self.cases)} cases pass; still to fix: " + _summary(self)
            )
        return "\n".join(lines)


def _summary(rep: ExerciseReport) -> str:
    if rep.missing:
        return "define " + ", ".join(rep.missing)
    seen: dict[str, int] = {}
    for c in rep.cases:
        for p in c.problems:
            key = ": ".join(p.split(": ")[:2]) if not c.todo else "what raises NotImplementedError"
            seen[key] = seen.get(key, 0) + 1
    parts = [f"{k} ({n} case{'s' if n > 1 else ''})" for k, n in seen.items()]
    return "; ".join(parts + rep.extra[:1]) or "see above"


def _target(ex: Exercise, ns: dict, case, seed: int):
    arrays = case.arrays(seed)
    if ex.backward is None:
        rng = np.random.default_rng(seed + 11)
        return LossFunctionTarget(ns[ex.forward], arrays["x"], ex.target(case, rng),
                                  case.kwargs, ex.forward)  # fmt: skip
    fwd = ns[ex.forward]
    if ex.adapt is not None:
        user = fwd

        def fwd(*args, **kw):
            return ex.adapt(user(*args, **kw))

        fwd.__name__ = ex.forward
    fresh = ex.fresh() if ex.fresh else {}
    return FunctionsTarget(fwd, ns[ex.backward], arrays, case.kwargs, fresh, ex.forward)


def _reference_output(ex: Exercise, tgt, case):
    ref = getattr(reference, ex.solution[ex.forward])
    args = [tgt.arrays.get("input" if i == 0 else k) for i, k in enumerate(tgt.order)]
    if ex.backward is None:
        return np.asarray(ref(tgt.arrays["input"].copy(), tgt.target, **case.kwargs)[0])
    out = ref(*[None if a is None else a.copy() for a in args], **case.kwargs)
    return (ex.adapt(out) if ex.adapt else out)[0]


def _check_case(ex: Exercise, ns: dict, case, seed: int) -> CaseResult:
    res = CaseResult(case.label, case.input_shape)
    tgt = _target(ex, ns, case, seed)
    try:
        report = check_target(tgt, seed=seed, twin=False)
        if ex.compare_forward:
            y = np.asarray(tgt.forward(), dtype=np.float64)
            y_ref = np.asarray(_reference_output(ex, tgt, case), dtype=np.float64)
            ctx = Context(role="output", reference="barenet's")
            row = diagnose("output", y, y_ref, tol=1e-8, ctx=ctx)
            if not row.ok:
                res.problems.append(f"forward output: {row.diagnosis}: {row.hint}")
    except LayerError as exc:
        res.todo = isinstance(exc.original, NotImplementedError)
        if res.todo:
            line = exc.at.split(":")[0] if exc.at else ""
            res.problems.append(f"{exc.call} ({line}) still raises NotImplementedError")
        else:
            res.problems.append(str(exc))
        return res
    for t in report.tensors:
        if not t.ok:
            name = "d" + ("x" if t.name == "input" else t.name)
            res.problems.append(f"{name}: {t.diagnosis}: {t.hint}")
    return res


def check(path: str | Path, seed: int = 0, exercise: Exercise | None = None) -> ExerciseReport:
    """Check an exercise file (see the package docstring) against ``exercise``, by default
    the one its first line names; raises ``DoctorInputError`` for a file that is not one
    or does not load."""
    ex = exercise or exercise_of(path)
    ns = vars(load_module(path))
    rep = ExerciseReport(ex, str(path))
    needed = [ex.forward] + ([ex.backward] if ex.backward else []) + list(ex.write)
    rep.missing = [n for n in dict.fromkeys(needed) if not callable(ns.get(n))]
    if rep.missing:
        return rep
    for i, case in enumerate(ex.cases):
        rep.cases.append(_check_case(ex, ns, case, seed + i))
    if ex.extra is not None and not any(c.todo for c in rep.cases):
        try:
            rep.extra = list(ex.extra(ns))
        except Exception as exc:  # noqa: BLE001 - the student's code, in the extra checks
            rep.extra = [f"{type(exc).__name__}: {exc}"]
    return rep
