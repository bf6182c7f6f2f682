"""One hook mechanism for tools that watch a model's layers: the profiler (timing), the
summary (shapes and FLOPs) and gradcheck (which layer is wrong).

``wrap_leaves(model, forward=..., backward=...)`` routes, for the duration of a
``with`` block, every leaf module's forward (and backward) through a function of
``(name, module, call, x)`` that must return ``call(x)``'s result; the wrappers are
instance attributes, removed on exit. ``probe(model, input_shape)`` runs one zero
sample through the model in eval mode and reports each leaf's input and output shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .device import to_device

Hook = Callable[[str, object, Callable, object], object]  # (name, module, call, x) -> y


@contextmanager
def wrap_leaves(model, forward: Hook | None = None, backward: Hook | None = None) -> Iterator:
    """Route every leaf's ``forward(x)`` through ``forward(name, leaf, original, x)`` and
    its ``backward(dy)`` through ``backward(name, leaf, original, dy)`` within the block.
    Yields the list of (name, leaf) pairs."""
    leaves = list(model.leaves())
    saved = []
    for name, leaf in leaves:
        own = {k: leaf.__dict__[k] for k in ("forward", "backward") if k in leaf.__dict__}
        saved.append((leaf, own))
        for attr, hook in (("forward", forward), ("backward", backward)):
            if hook is not None:
                original = getattr(leaf, attr)

                def wrapper(arg, *more, _h=hook, _n=name, _m=leaf, _o=original, **kw):
                    # a recurrent layer's initial state and lengths ride along unseen
                    call = _o if not (more or kw) else (lambda a: _o(a, *more, **kw))
                    return _h(_n, _m, call, arg)

                object.__setattr__(leaf, attr, wrapper)
    try:
        yield leaves
    finally:
        for leaf, own in saved:
            for k in ("forward", "backward"):
                leaf.__dict__.pop(k, None)
                if k in own:
                    object.__setattr__(leaf, k, own[k])


@dataclass
class LeafShapes:
    """A leaf module's name and its input and output shape for one sample (no batch)."""

    name: str
    module: object
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


def probe(model, input_shape) -> list[LeafShapes]:
    """Each leaf's shapes, in call order, from one forward of a zero sample of
    ``input_shape`` (batch excluded) in eval mode, on the model's device. The model's
    mode is restored and the leaves' caches cleared; a model that rejects the shape
    raises ValueError."""
    shape = tuple(int(s) for s in input_shape)
    rows: list[LeafShapes] = []

    def record(name, leaf, call, x):
        y = call(x)
        out = y[0] if isinstance(y, tuple) else y  # a recurrent layer's (y, state)
        rows.append(LeafShapes(name, leaf, tuple(x.shape[1:]), tuple(out.shape[1:])))
        return y

    was_training = model.training
    model.eval()
    try:
        with wrap_leaves(model, forward=record):
            model.forward(to_device(np.zeros((1, *shape), dtype=model.dtype), model.device))
    finally:
        for _, leaf in model.leaves():
            leaf._clear_cache()
        model.train(was_training)
    return rows
