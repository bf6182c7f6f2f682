"""From an analytic and a numeric gradient of one tensor to a diagnosis and a hint.

The tests run in this order, the first that fits wins:

    shape                 the gradient's shape is not the tensor's (transposed when
                          swapping two of its axes makes it right)
    ok                    every element within tol x the tensor's scale
    sign                  analytic = -numeric
    scaled                analytic = k x numeric for one constant k (k reported)
    transposed            analytic with two axes swapped = numeric
    missing-accumulation  wrong only where several windows share an input (the window
                          geometry, else the Jacobian's uses), each wrong value one of
                          the partial sums of its shares where no single-use element
                          tells the two apart
    border                wrong only where a window reaches into the padding
    partial               wrong only in some samples or channels, and there wherever the
                          gradient is not zero
    zero                  analytic 0 wherever it is wrong
    wrong                 none of these: the worst elements are listed

The scale of a tensor is max(max|analytic|, max|numeric|, floor), the floor being 1e-3 of
the largest gradient of the whole check (as in ``barenet.gradcheck``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import Geometry

__all__ = ["DIAGNOSES", "TensorCheck", "diagnose"]

#: The fixed vocabulary, in the order of the table in ``barenet.doctor``.
DIAGNOSES = (
    "ok",
    "scaled",
    "sign",
    "transposed",
    "missing-accumulation",
    "border",
    "partial",
    "zero",
    "mutates-input",
    "not-deterministic",
    "shape",
    "wrong",
)

_FIT = 10.0  # the pattern tests allow 10 x the tolerance of "ok"


@dataclass
class TensorCheck:
    """One tensor's verdict: the errors, the worst element, the share of wrong elements,
    the diagnosis (one of :data:`DIAGNOSES`), k for ``scaled`` (-1 for ``sign``) and a hint."""

    name: str
    max_abs_err: float | None
    max_rel_err: float | None
    worst_index: list[int] | None
    wrong_fraction: float
    diagnosis: str
    factor: float | None
    hint: str

    @property
    def ok(self) -> bool:
        return self.diagnosis == "ok"

    def to_dict(self) -> dict:
        """The JSON object of ``barenet check --json`` (non-finite numbers as null)."""

        def num(v):
            return None if v is None or not np.isfinite(v) else float(v)

        return {
            "name": self.name,
            "max_abs_err": num(self.max_abs_err),
            "max_rel_err": num(self.max_rel_err),
            "worst_index": None if self.worst_index is None else [int(i) for i in self.worst_index],
            "wrong_fraction": float(self.wrong_fraction),
            "diagnosis": self.diagnosis,
            "factor": num(self.factor),
            "hint": self.hint,
        }


@dataclass
class Context:
    """What the diagnosis may use besides the two gradients."""

    role: str = "input"  # "input", "param" or "output" (a forward against a reference)
    geometry: Geometry | None = None
    x: np.ndarray | None = None  # the input, for sign patterns of element-wise layers
    uses: np.ndarray | None = None
    partial: dict | None = None  # index -> partial sums (numeric.NumericGradient.partial)
    constants: dict | None = None  # name -> value, to name a factor k ("N": 4, ...)
    reference: str = "numeric"  # what the analytic side is compared with


def _ints(values) -> str:
    values = [int(v) for v in values]
    if len(values) > 8:
        return ", ".join(map(str, values[:6])) + f", ... ({len(values)} in all)"
    return ", ".join(map(str, values))


def _index(i) -> str:
    return "(" + ", ".join(str(int(v)) for v in i) + ")"


def positions(mask2d: np.ndarray) -> str:
    """The pixels of a (H, W) mask in words: whole rows and columns, else a few (h, w)."""
    h, w = mask2d.shape
    rows = np.flatnonzero(mask2d.all(axis=1))
    cols = np.flatnonzero(mask2d.all(axis=0))
    union = np.zeros_like(mask2d)
    union[rows, :] = True
    union[:, cols] = True
    if (rows.size or cols.size) and np.array_equal(union, mask2d):
        parts = []
        if rows.size:
            parts.append(f"row{'s' if rows.size > 1 else ''} {_ints(rows)}")
        if cols.size:
            parts.append(f"column{'s' if cols.size > 1 else ''} {_ints(cols)}")
        return " and ".join(parts) + f" of each {h}x{w} map"
    pts = np.argwhere(mask2d)
    shown = ", ".join(_index(p) for p in pts[:6])
    more = f" and {len(pts) - 6} more" if len(pts) > 6 else ""
    return f"(row, column) {shown}{more} of each {h}x{w} map"


def name_factor(k: float, constants: dict | None) -> str:
    """k as words: ``1/N = 1/4``, ``N = 8``, ``3/5``, else its value."""
    for name, v in (constants or {}).items():
        if v and abs(k - v) <= 1e-6 * abs(v):
            return f"{name} = {v:g}"
        if v and abs(k * v - 1) <= 1e-6:
            return f"1/{name} = 1/{v:g}" if name.isalnum() else f"1/({name}) = 1/{v:g}"
    for q in range(1, 65):
        p = round(k * q)
        if p and abs(k - p / q) <= 1e-6 * abs(k):
            return f"{p}" if q == 1 else f"{p}/{q}"
    return f"{k:.6g}"


def _spatial(mask: np.ndarray) -> np.ndarray:
    return mask.reshape(-1, *mask.shape[-2:]).any(axis=0)


def _axis_slices(wrong, big, axis):
    """Indices along ``axis`` holding a wrong element, when that is a proper subset and
    in each of them every element with a non-zero gradient is wrong."""
    size = wrong.shape[axis]
    other = tuple(j for j in range(wrong.ndim) if j != axis)
    hit = np.flatnonzero(wrong.any(axis=other))
    if not 0 < hit.size < size:
        return None
    sub_w = np.take(wrong, hit, axis=axis)
    sub_b = np.take(big, hit, axis=axis)
    return hit if np.all(sub_w | ~sub_b) else None


def _axis_words(role: str, ndim: int, axis: int) -> tuple[str, str]:
    if role == "param":
        return ("row", "rows") if axis == 0 else ("column", "columns")
    if axis == 0:
        return "sample", "samples"
    return ("channel", "channels") if ndim >= 3 else ("feature", "features")


def _result(name, diff, rel, wrong, judged, diagnosis, hint, factor=None) -> TensorCheck:
    if diff.size and np.isfinite(diff).any():
        d = np.where(np.isfinite(diff), diff, np.inf)
        worst = np.unravel_index(int(np.argmax(np.where(judged, d, -1))), diff.shape)
        abs_err = float(d[worst])
        worst_index = [int(i) for i in worst]
    else:
        abs_err, worst_index = (float("inf") if diff.size else 0.0), None
    frac = float(wrong.sum() / max(int(judged.sum()), 1))
    return TensorCheck(name, abs_err, rel, worst_index, frac, diagnosis, factor, hint)


def _shape_check(name, a, n, ctx: Context) -> TensorCheck:
    ref = "its tensor" if ctx.reference == "numeric" else ctx.reference
    for i in range(a.ndim):
        for j in range(i + 1, a.ndim):
            b = np.swapaxes(a, i, j)
            if b.shape == n.shape and np.allclose(b, n, rtol=1e-5, atol=1e-8 * _big(a, n)):
                return TensorCheck(
                    name, None, None, None, 1.0, "transposed", None,
                    f"shape {a.shape} where {ref} has {n.shape}, and right with axes {i} and "
                    f"{j} swapped: e.g. xᵀ·dy where dyᵀ·x belongs",
                )  # fmt: skip
    hint = f"shape {a.shape} where {ref} has {n.shape}"
    if a.ndim == n.ndim == 4 and a.shape[:2] == n.shape[:2]:
        dh, dw = a.shape[2] - n.shape[2], a.shape[3] - n.shape[3]
        if dh > 0 and dw >= 0:
            hint += f": {dh} row(s) and {dw} column(s) too many, the padding left on"
    elif a.size == n.size:
        hint += ": the same number of elements, in another layout (a reshape?)"
    return TensorCheck(name, None, None, None, 1.0, "shape", None, hint)


def _big(a, n) -> float:
    return max(float(np.abs(a).max(initial=0.0)), float(np.abs(n).max(initial=0.0)), 1e-300)


def diagnose(
    name: str,
    analytic,
    numeric: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    tol: float = 1e-6,
    floor: float = 0.0,
    atol: float = 0.0,
    ctx: Context | None = None,
    note: str = "",
) -> TensorCheck:
    """The :class:`TensorCheck` of one tensor; ``valid`` marks the elements to judge (not
    at a kink), ``atol`` is the rounding noise of the numeric side (added to the
    tolerance), ``note`` says why ``analytic`` is None when it is."""
    ctx = ctx or Context()
    n = np.asarray(numeric, dtype=np.float64)
    if analytic is None:
        why = note or "the backward returned None for it"
        return TensorCheck(name, None, None, None, 1.0, "shape", None, f"no gradient: {why}")
    a = np.asarray(analytic)
    if a.dtype.kind not in "fiub":
        return TensorCheck(
            name, None, None, None, 1.0, "shape", None, f"not a numeric array (dtype {a.dtype})"
        )
    a = a.astype(np.float64)
    if a.shape != n.shape:
        return _shape_check(name, a, n, ctx)
    judged = np.ones(n.shape, bool) if valid is None else valid.copy()
    diff = np.abs(a - n)
    diff = np.where(np.isnan(diff), np.inf, diff)
    scale = max(_big(a[np.isfinite(a)], n), floor)
    d_j = diff[judged]
    rel = float(d_j.max() / scale) if d_j.size else 0.0
    wrong = (diff > tol * scale + atol) & judged
    skipped = int((~judged).sum())
    skip_note = f"; {skipped} element(s) at a kink not judged" if skipped else ""

    def done(diagnosis, hint, factor=None):
        return _result(name, diff, rel, wrong, judged, diagnosis, hint + skip_note, factor)

    if not wrong.any():
        return done("ok", f"matches the {ctx.reference} gradient (worst relative error {rel:.1e})")
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))
        return done(
            "wrong",
            f"{len(bad)} element(s) NaN or infinite, first at {_index(bad[0])}: an overflow "
            "(exp of a large number?) or a division by zero",
        )
    fit = _FIT * tol
    aj, nj = a[judged], n[judged]
    nn = float(nj @ nj)
    k = float(aj @ nj) / nn if nn > 0 else 0.0
    if nn > 0 and np.abs(aj - k * nj).max(initial=0) <= fit * max(scale, abs(k) * _big(nj, nj)):
        if abs(k + 1) <= 1e-4:
            return done("sign", f"analytic = -{ctx.reference}: a sign is flipped", -1.0)
        if abs(k) > 1e-3 and abs(k - 1) > 1e-4:
            words = name_factor(k, ctx.constants)
            return done(
                "scaled",
                f"analytic = k x {ctx.reference} with k = {words}: a factor lost or doubled "
                "(a mean where a sum belongs, a missing 1/N, 1/(1-p), 1/(kh·kw) ...)",
                k,
            )
    for i in range(a.ndim):
        for j in range(i + 1, a.ndim):
            if a.shape[i] == a.shape[j] and a.shape[i] > 1:
                if np.abs(np.swapaxes(a, i, j) - n)[judged].max() <= fit * scale:
                    return done(
                        "transposed",
                        f"right with axes {i} and {j} swapped: e.g. xᵀ·dy where dyᵀ·x belongs",
                    )
    big = (np.abs(n) > tol * scale) & judged
    hint = _missing_accumulation(a, n, wrong, judged, scale, fit, ctx)
    if hint:
        return done("missing-accumulation", hint)
    hint = _border(wrong, judged, ctx)
    if hint:
        return done("border", hint)
    if a.ndim >= 2:
        found = []
        for axis in (0, 1):
            hit = _axis_slices(wrong, big, axis)
            if hit is not None:
                one, many = _axis_words(ctx.role, a.ndim, axis)
                found.append(f"{one if hit.size == 1 else many} {_ints(hit)} (of {a.shape[axis]})")
        if found:
            return done(
                "partial",
                f"wrong only in {' and '.join(found)}; the others are right: a loop or a "
                "slice that misses part of the batch or the channels",
            )
    zero_at = np.abs(a) <= 1e-12 * scale
    if np.all(zero_at[wrong]):
        where_ = ""
        if ctx.x is not None and ctx.x.shape == a.shape:
            for sign, words in ((ctx.x < 0, "negative"), (ctx.x > 0, "positive")):
                if np.array_equal(wrong, sign & big):
                    where_ = f", exactly where the input is {words}"
        return done(
            "zero",
            f"analytic is 0 at {int(wrong.sum())} of {a.size} elements where the "
            f"{ctx.reference} gradient is not{where_}: a gradient not propagated",
        )
    flipped = ""
    if a.ndim == 4 and np.abs(a[:, :, ::-1, ::-1] - n)[judged].max() <= fit * scale:
        flipped = "right with the kernel turned 180°: a convolution where a cross-correlation "
        flipped += "belongs; "
    order = np.argsort(np.where(wrong, diff, -1).ravel())[::-1][:3]
    worst = "; ".join(
        f"at {_index(np.unravel_index(o, a.shape))} analytic {a.flat[o]:.4g}, "
        f"{ctx.reference} {n.flat[o]:.4g}"
        for o in order
    )
    return done("wrong", f"{flipped}{int(wrong.sum())} of {a.size} elements wrong, worst {worst}")


def _missing_accumulation(a, n, wrong, judged, scale, fit, ctx: Context) -> str:
    if ctx.role == "output" or ctx.uses is None:
        return ""
    geo = ctx.geometry
    if ctx.role == "input" and geo is not None and a.ndim == 4:
        cover = np.broadcast_to(geo.coverage(*a.shape[2:]), a.shape)
        shared = cover >= 2
        if not np.all(shared[wrong]):
            return ""
        if np.all(shared | ~judged) and not _sums_match(a, wrong, scale, fit, ctx):
            return ""
        shared2d, wrong2d = cover[(0,) * (a.ndim - 2)] >= 2, _spatial(wrong)
        if np.array_equal(shared2d, wrong2d):
            where_ = f"at every pixel that 2 or more windows share: {positions(wrong2d)}"
        else:
            where_ = (
                f"only where 2 or more windows share an input pixel ({positions(shared2d)}), "
                f"at {positions(wrong2d)}"
            )
        return (
            f"wrong {where_} ({geo}); the shares of overlapping windows must add up (+=) "
            "instead of overwriting each other"
        )
    shared = ctx.uses >= 2
    if not np.all(shared[wrong]) or not _sums_match(a, wrong, scale, fit, ctx):
        return ""
    if ctx.role == "param":
        return (
            "holds only part of the sum over the samples (or uses) that share each element: "
            "every share must be added (+=, or a sum over the batch), not assigned"
        )
    where_ = f": {positions(_spatial(wrong))}" if a.ndim >= 3 else ""
    return (
        f"wrong only at inputs used more than once{where_}; each holds only some of its "
        "uses' shares: they must add up (+=), not overwrite each other"
    )


def _sums_match(a, wrong, scale, fit, ctx: Context) -> bool:
    partial = ctx.partial or {}
    for i in map(tuple, np.argwhere(wrong)):
        sums = partial.get(i)
        if sums is None or np.abs(sums - a[i]).min(initial=np.inf) > fit * scale:
            return False
    return True


def _border(wrong, judged, ctx: Context) -> str:
    if ctx.role != "input" or wrong.ndim < 3:
        return ""
    h, w = wrong.shape[-2:] if wrong.ndim == 4 else (1, wrong.shape[-1])
    geo = ctx.geometry
    if geo is not None:
        if not geo.padded or wrong.ndim != 4:
            return ""
        edge = np.broadcast_to(geo.border(h, w), wrong.shape)
        if np.all(edge[wrong]) and np.any(~edge & judged):
            return (
                f"wrong only where the windows reach into the zero padding: "
                f"{positions(_spatial(wrong))} ({geo}); the windows that overlap the padding "
                "are missing or misplaced in the backward"
            )
        return ""
    if wrong.ndim != 4:
        return ""
    hh, ww = np.indices((h, w))
    dist = np.minimum(np.minimum(hh, h - 1 - hh), np.minimum(ww, w - 1 - ww))
    depth = int(dist[_spatial(wrong)].max())
    if depth + 1 > min(h, w) // 4:
        return ""
    return (
        f"wrong only within {depth + 1} pixel(s) of the edge: {positions(_spatial(wrong))}; "
        "the border (padding) is handled wrongly in the backward"
    )
