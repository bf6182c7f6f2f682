"""Per-layer timing of one training step: where does the time go?

``profile(model, x, y)`` wraps the forward and backward of every leaf module with a
timer, runs a warm-up step and ``repeats`` timed steps (forward, loss, backward),
and returns a table of the median forward and backward time of each layer, its
share of the step and its output shape (the timers are ``core.hooks.wrap_leaves``).
The model is left as it was found: the wrappers are removed, and parameters,
gradients, buffers (BatchNorm statistics) and random generators (Dropout) are
restored afterwards.

On a GPU (a model moved with ``model.to("cuda")``; a NumPy ``x`` is copied there) the
work a layer launches runs after its Python call returns, so every timer waits for the
GPU (``synchronize``) before it starts and before it stops: each layer is charged with
its own kernels, at the price of the overlap a real step would have between the CPU
launching one layer and the GPU running the previous one.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from .core.backend import array_module
from .core.config import get_rng_state, set_rng_state
from .core.device import require_cupy, scope, to_device
from .core.hooks import wrap_leaves
from .core.module import Module
from .losses import Loss, SoftmaxCrossEntropy


@dataclass
class LayerTiming:
    """Median times of one leaf layer over the timed steps (seconds)."""

    name: str
    layer: str
    forward_s: float
    backward_s: float
    output_shape: tuple[int, ...]

    @property
    def total_s(self) -> float:
        return self.forward_s + self.backward_s


@dataclass
class ProfileResult:
    """Rows of per-layer timings, the loss and the untimed rest of the step.

    ``step_s`` is the median wall time of a whole step (never less than the sum of
    the parts); ``other_s`` is what no layer accounts for (container overhead).
    Shares are fractions of ``step_s``, so ``sum(shares) == 1``.
    """

    rows: list[LayerTiming]
    loss_s: float
    step_s: float
    batch: int
    repeats: int
    extra: dict = field(default_factory=dict)

    @property
    def other_s(self) -> float:
        return max(0.0, self.step_s - self.loss_s - sum(r.total_s for r in self.rows))

    def share(self, row: LayerTiming) -> float:
        return row.total_s / self.step_s if self.step_s > 0 else 0.0

    def shares(self) -> dict[str, float]:
        """Share of the step per row name, plus ``"(loss)"`` and ``"(other)"``."""
        out = {r.name: self.share(r) for r in self.rows}
        den = self.step_s if self.step_s > 0 else 1.0
        out["(loss)"] = self.loss_s / den
        out["(other)"] = self.other_s / den
        return out

    def __str__(self) -> str:
        # Columns as wide as their longest entry: names and labels are never cut.
        nw = max([14] + [len(r.name) for r in self.rows])
        tw = max([24] + [len(r.layer) for r in self.rows])
        head = (
            f"{'layer':<{nw}} {'type':<{tw}} {'forward ms':>10} {'backward ms':>11} "
            f"{'share':>6}  output"
        )
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r.name:<{nw}} {r.layer:<{tw}} {r.forward_s * 1e3:>10.3f} "
                f"{r.backward_s * 1e3:>11.3f} {self.share(r):>6.1%}  {r.output_shape}"
            )
        den = self.step_s if self.step_s > 0 else 1.0
        lines.append(
            f"{'(loss)':<{nw}} {'':<{tw}} {self.loss_s * 1e3:>10.3f} {'':>11} "
            f"{self.loss_s / den:>6.1%}"
        )
        lines.append(
            f"{'(other)':<{nw}} {'':<{tw}} {self.other_s * 1e3:>10.3f} {'':>11} "
            f"{self.other_s / den:>6.1%}"
        )
        lines.append("-" * len(head))
        fwd = sum(r.forward_s for r in self.rows)
        bwd = sum(r.backward_s for r in self.rows)
        lines.append(
            f"step {self.step_s * 1e3:.3f} ms (forward {fwd * 1e3:.3f}, backward {bwd * 1e3:.3f}) "
            f"= {self.batch / self.step_s if self.step_s > 0 else 0.0:.0f} images/s, "
            f"batch {self.batch}, median of {self.repeats}"
        )
        return "\n".join(lines)


class _Timer:
    """Forward and backward times of one leaf layer, and its last output shape."""

    def __init__(self) -> None:
        self.fwd: list[float] = []
        self.bwd: list[float] = []
        self.shape: tuple[int, ...] = ()

    def reset(self) -> None:
        self.fwd.clear()
        self.bwd.clear()


def snapshot(model: Module):
    """What a step changes in ``model``: its state dict, every parameter's gradient, the
    generators of its layers and barenet's; ``restore`` puts them back."""
    state = model.state_dict()
    grads = [p.grad.copy() for p in model.parameters()]
    rngs = [
        (m, m.rng.bit_generator.state)
        for m in model.modules()
        if isinstance(getattr(m, "rng", None), np.random.Generator)
    ]
    return state, grads, rngs, get_rng_state()


def restore(model: Module, snap) -> None:
    """Put back what ``snapshot(model)`` took."""
    state, grads, rngs, global_rng = snap
    model.load_state_dict(state)
    for p, g in zip(model.parameters(), grads):
        p.grad[...] = g
    for m, st in rngs:
        m.rng.bit_generator.state = st
    set_rng_state(global_rng)


def profile(
    model: Module,
    x: np.ndarray,
    y: np.ndarray | None = None,
    loss_fn: Loss | None = None,
    repeats: int = 5,
) -> ProfileResult:
    """Time forward and backward of every leaf layer over ``repeats`` steps (after one warm-up).

    x: (N, ...) a batch of inputs; y: labels or targets for ``loss_fn`` (a
    SoftmaxCrossEntropy when y is given and loss_fn is not). Without y, the
    backward starts from dy = 1 (the gradient of the sum of the outputs). The
    model runs in its current mode (call ``model.train()`` to profile training).
    """
    if not isinstance(model, Module):
        raise TypeError(f"profile: expected a barenet Module, got {type(model).__name__}")
    if int(repeats) < 1:
        raise ValueError(f"profile: repeats must be >= 1, got {repeats}")
    device = model.device
    x = np.asarray(x) if array_module(x) is np else x
    if device != "cpu":
        x = to_device(x, device)
        sync = require_cupy().cuda.get_current_stream().synchronize
    else:

        def sync() -> None:
            pass

    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"profile: expected a batch x of shape (N, ...), got {x.shape}")
    if loss_fn is None and y is not None:
        loss_fn = SoftmaxCrossEntropy()
    if loss_fn is not None and y is None:
        raise ValueError("profile: a loss_fn needs targets y")
    snap = snapshot(model)
    timers = {id(m): (name or type(m).__name__, m, _Timer()) for name, m in model.leaves()}

    def timed_forward(_name, m, call, x):
        sync()
        t0 = time.perf_counter()
        y = call(x)
        sync()
        timer = timers[id(m)][2]
        timer.fwd.append(time.perf_counter() - t0)
        timer.shape = tuple(y.shape)
        return y

    def timed_backward(_name, m, call, dy):
        sync()
        t0 = time.perf_counter()
        dx = call(dy)
        sync()
        timers[id(m)][2].bwd.append(time.perf_counter() - t0)
        return dx

    walls, losses = [], []
    wanted = model.needs_input_grad
    model.needs_input_grad = False  # as in training: x is data, dL/dx is not computed
    try:
        with scope(device), wrap_leaves(model, forward=timed_forward, backward=timed_backward):
            for i in range(int(repeats) + 1):
                if i == 1:
                    for *_, t in timers.values():
                        t.reset()
                    walls.clear()
                    losses.clear()
                sync()
                t0 = time.perf_counter()
                out = model.forward(x)
                t1 = time.perf_counter()
                if loss_fn is not None:
                    loss_fn(out, y)
                    dy = loss_fn.backward()
                else:
                    dy = array_module(out).ones_like(out)
                sync()
                t2 = time.perf_counter()
                model.backward(dy)
                sync()
                walls.append(time.perf_counter() - t0)
                losses.append(t2 - t1)
    finally:
        model.needs_input_grad = wanted
        restore(model, snap)
    rows = [
        LayerTiming(
            name,
            m._label(),
            statistics.median(t.fwd) if t.fwd else 0.0,
            statistics.median(t.bwd) if t.bwd else 0.0,
            t.shape,
        )
        for name, m, t in timers.values()
    ]
    loss_s = statistics.median(losses)
    step = max(statistics.median(walls), loss_s + sum(r.total_s for r in rows))
    return ProfileResult(rows, loss_s, step, int(x.shape[0]), int(repeats))
