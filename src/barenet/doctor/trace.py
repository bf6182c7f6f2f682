"""``trace(model, loss_fn, x, y)``: one forward and one backward, recorded layer by layer.

For every leaf layer, in call order: its input and output shapes, statistics of its
input, its output and the gradient it receives in backward (dL/dy: mean, std, min, max,
fraction of exact zeros — a dead ReLU shows as zeros), and for each of its parameters
the norm of the parameter, of its gradient and their ratio (the size of an SGD step
relative to the weight, per unit learning rate: about 1e-3 is healthy, far below is a
vanishing gradient, far above an exploding one). The first NaN or inf is located: the
layer whose output (forward) or input gradient (backward) first holds one while what it
was given was finite. The layers' forward and backward go through
``core.hooks.wrap_leaves``; the model is left as it was found (weights, gradients,
BatchNorm statistics and generators restored, ``profiler.snapshot``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.device import as_numpy
from ..core.hooks import wrap_leaves
from ..core.module import Module
from ..profiler import restore, snapshot
from .trace_table import format_trace

__all__ = ["LayerTrace", "Stats", "TraceReport", "trace"]

_BINS = 24


@dataclass
class Stats:
    """Mean, std, min, max and fraction of exact zeros of an array's finite values, the
    count of NaN/inf, and a histogram (``counts`` over ``edges``) for the page."""

    shape: tuple[int, ...]
    mean: float
    std: float
    min: float
    max: float
    zeros: float
    nonfinite: int
    counts: list[int] = field(default_factory=list)
    edges: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, a) -> Stats | None:
        if a is None:
            return None
        a = np.asarray(as_numpy(a), dtype=np.float64)
        fin = a[np.isfinite(a)]
        bad = int(a.size - fin.size)
        if fin.size == 0:
            nan = float("nan")
            return cls(tuple(a.shape), nan, nan, nan, nan, 0.0, bad)
        lo, hi = float(fin.min()), float(fin.max())
        counts, edges = np.histogram(fin, bins=_BINS, range=(lo, hi) if hi > lo else None)
        return cls(
            tuple(a.shape), float(fin.mean()), float(fin.std()), lo, hi,
            float(np.mean(fin == 0)), bad, counts.tolist(), edges.tolist(),
        )  # fmt: skip


@dataclass
class ParamTrace:
    name: str
    shape: tuple[int, ...]
    norm: float
    grad_norm: float

    @property
    def ratio(self) -> float:
        """|dL/dw| / |w| (inf for a zero weight with a gradient, 0 for neither)."""
        if self.norm == 0:
            return 0.0 if self.grad_norm == 0 else float("inf")
        return self.grad_norm / self.norm


@dataclass
class LayerTrace:
    """One leaf layer's shapes and statistics in the traced step."""

    name: str
    layer: str
    input: Stats | None = None
    output: Stats | None = None
    grad: Stats | None = None  # dL/dy, the gradient the layer receives in backward
    params: list[ParamTrace] = field(default_factory=list)


@dataclass
class TraceReport:
    """Rows of :class:`LayerTrace`, the loss, and where a NaN/inf first appeared:
    ``first_nonfinite = (layer name, "forward" or "backward")`` or None."""

    rows: list[LayerTrace]
    loss: float | None
    loss_name: str
    batch: int
    training: bool
    first_nonfinite: tuple[str, str] | None = None

    def __str__(self) -> str:
        return format_trace(self)


def trace(model: Module, loss_fn, x, y) -> TraceReport:
    """Run one forward of ``model`` on ``x``, the loss against ``y`` and one backward,
    recording every leaf layer (see the module docstring). The model runs in its current
    mode; nothing is updated. Returns a :class:`TraceReport`."""

    if not isinstance(model, Module):
        raise TypeError(f"trace: expected a barenet Module, got {type(model).__name__}")
    rows: dict[int, LayerTrace] = {}
    order: list[tuple[LayerTrace, Module]] = []
    first: list[tuple[str, str]] = []

    def bad(a) -> bool:
        return a is not None and not np.isfinite(np.asarray(as_numpy(a), dtype=np.float64)).all()

    def on_forward(name, leaf, call, xin):
        row = rows.get(id(leaf))
        if row is None:
            row = rows[id(leaf)] = LayerTrace(name or type(leaf).__name__, leaf._label())
            order.append((row, leaf))
        row.input = Stats.of(xin)
        out = call(xin)
        row.output = Stats.of(out)
        if not first and bad(out) and not bad(xin):
            first.append((row.name, "forward"))
        return out

    def on_backward(name, leaf, call, dy):
        row = rows[id(leaf)]
        row.grad = Stats.of(dy)
        dx = call(dy)
        own = [p.grad for p in leaf.parameters()]
        if not first and (bad(dx) or any(bad(g) for g in own)) and not bad(dy):
            first.append((row.name, "backward"))
        return dx

    x_arr = as_numpy(x) if not isinstance(x, np.ndarray) else x
    if bad(x_arr):
        first.append(("(input)", "forward"))
    snap = snapshot(model)
    loss = None
    try:
        for p in model.parameters():
            p.grad[...] = 0
        with wrap_leaves(model, forward=on_forward, backward=on_backward):
            out = model.forward(x)
            if not bad(out):
                loss = float(loss_fn(out, y))
                if not np.isfinite(loss):
                    first.append(("(loss)", "forward"))
                else:
                    model.backward(loss_fn.backward())
        for row, leaf in order:
            for pname, p in leaf.named_parameters():
                w, g = as_numpy(p.data), as_numpy(p.grad)
                row.params.append(
                    ParamTrace(pname, tuple(p.shape), _norm(w), _norm(g) if loss else 0.0)
                )
    finally:
        restore(model, snap)
    n = int(np.shape(x)[0]) if np.ndim(x) else 1
    return TraceReport(
        [row for row, _ in order],
        loss,
        type(loss_fn).__name__,
        n,
        model.training,
        first[0] if first else None,
    )


def _norm(a) -> float:
    return float(np.sqrt(np.sum(np.asarray(a, dtype=np.float64) ** 2)))
