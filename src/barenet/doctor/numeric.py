"""The numeric side of a check: central differences of L = Σ y ⊙ R, one element at a time,
keeping for each element what the diagnosis needs besides its derivative.

Perturbing element i gives a whole column of the Jacobian, J[:, i] = (y₊ - y₋) / 2h, not
just dL/dθᵢ = J[:, i] · R. From it:

- **uses**: how many distinct outputs groups depend on θᵢ. For the input, outputs that
  differ only in their channel (axis 1) are one group — one window of a convolution, one
  row of a Linear — so an input pixel shared by 3 windows has 3 uses. For a parameter, a
  group is one sample (axis 0): every weight is used once per sample.
- **partial sums**: for elements whose analytic value disagrees, the sums over some of
  their uses' shares (one share, all but one, every proper subset of up to 8 shares, one
  output's term, all but one term). A backward that assigns where it should add keeps
  one of these.
- **kinks**: the one-sided differences (L₊ - L)/h and (L - L₋)/h; where they disagree the
  function has a kink within the step (ReLU at 0, a max-pool tie) and no derivative to
  compare with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..gradcheck import central_differences

__all__ = ["NumericGradient", "numeric_gradient"]

_MAX_SUBSET_GROUPS = 8
_MAX_TERMS = 64


@dataclass
class NumericGradient:
    """Central differences of one tensor and the per-element facts named above."""

    grad: np.ndarray
    kink: np.ndarray  # |(L₊ - L) - (L - L₋)| / h per element
    uses: np.ndarray  # distinct output groups depending on each element
    partial: dict[tuple, np.ndarray] = field(default_factory=dict)  # index -> partial sums
    finite: np.ndarray | None = None  # False where a perturbed forward gave NaN/inf


def _flat(y) -> np.ndarray:
    parts = y if isinstance(y, tuple) else (y,)
    return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])


def group_keys(y, by: str) -> np.ndarray:
    """A group id per flattened output element: ``by="channel"`` merges the elements that
    differ only in axis 1, ``by="sample"`` those of one sample (axis 0)."""
    parts = y if isinstance(y, tuple) else (y,)
    keys, offset = [], 0
    for p in parts:
        shape = np.shape(p)
        if len(shape) == 0:
            k = np.zeros(1, dtype=np.int64)
        elif by == "sample":
            k = np.repeat(np.arange(shape[0]), int(np.prod(shape[1:], dtype=np.int64)))
        elif len(shape) >= 2:
            idx = np.indices(shape).reshape(len(shape), -1)
            rest = tuple(s for j, s in enumerate(shape) if j != 1)
            k = np.ravel_multi_index(tuple(np.delete(idx, 1, axis=0)), rest)
        else:
            k = np.arange(shape[0])
        keys.append(k + offset)
        offset += int(k.max(initial=-1)) + 1
    return np.concatenate(keys)


def _partial_sums(terms: np.ndarray, groups: np.ndarray) -> np.ndarray:
    uniq, inv = np.unique(groups, return_inverse=True)
    shares = np.bincount(inv, weights=terms, minlength=uniq.size)
    total = terms.sum()
    cands = [shares, total - shares]
    u = shares.size
    if 2 < u <= _MAX_SUBSET_GROUPS:
        masks = (np.arange(1, 2**u - 1)[:, None] >> np.arange(u)[None, :]) & 1
        cands.append(masks @ shares)
    if 1 < terms.size <= _MAX_TERMS:
        cands += [terms, total - terms]
    return np.concatenate(cands)


def numeric_gradient(
    forward,
    arr: np.ndarray,
    r: np.ndarray,
    eps: float,
    keys: np.ndarray,
    analytic: np.ndarray | None = None,
    tol: float = 1e-6,
) -> NumericGradient:
    """Central differences of L = ``_flat(forward()) · r`` with respect to each element of
    ``arr`` (perturbed in place), with uses, kinks and — where ``analytic`` disagrees — the
    partial sums described in the module docstring."""
    y0 = _flat(forward())
    base = float(y0 @ r)
    g = np.zeros(arr.shape)
    kink = np.zeros(arr.shape)
    uses = np.zeros(arr.shape, dtype=np.int64)
    finite = np.ones(arr.shape, dtype=bool)
    partial: dict[tuple, np.ndarray] = {}
    compare = analytic is not None and np.shape(analytic) == arr.shape
    a = np.asarray(analytic, dtype=np.float64) if compare else None
    for i, yp, ym in central_differences(lambda: _flat(forward()), arr, eps):
        if not (np.isfinite(yp).all() and np.isfinite(ym).all()):
            finite[i] = False
            continue
        col = (yp - ym) / (2 * eps)
        terms = col * r
        gi = float(terms.sum())
        g[i] = gi
        lp, lm = float(yp @ r), float(ym @ r)
        kink[i] = abs((lp - base) - (base - lm)) / eps
        big = np.abs(col).max(initial=0.0)
        if big == 0.0:
            continue
        dep = np.abs(col) > 1e-7 * big
        groups = keys[dep]
        uses[i] = np.unique(groups).size
        if compare and abs(a[i] - gi) > 0.1 * tol * max(abs(a[i]), abs(gi)):
            partial[i] = _partial_sums(terms[dep], groups)
    return NumericGradient(g, kink, uses, partial, finite)
