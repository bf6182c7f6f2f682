"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from ..core.checks import as_input, check_backward
from ..core.config import get_rng
from ..core.module import Module, register


@register
class Dropout(Module):
    """Training: y = x · m / (1 - p) with m ~ Bernoulli(1 - p);  dx = dy · m / (1 - p).

    Evaluation: y = x and dx = dy (no rescaling at test time: that is what
    "inverted" means). Masks come from barenet's global generator (``barenet.seed``)
    unless ``seed`` gives the layer a generator of its own.
    """

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__()
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.seed = seed
        self.rng = None if seed is None else np.random.default_rng(seed)
        self._mask = None
        self._out_shape = None

    def _clear_cache(self):
        self._mask = None

    def forward(self, x):
        x = as_input(self, x)
        self._out_shape = x.shape
        if not self.training or self.p == 0.0:
            self._mask = None
            return x.copy()
        rng = self.rng if self.rng is not None else get_rng()
        keep = rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        scale = x.dtype.type(1.0 / (1.0 - self.p))
        self._mask = (keep >= self.p).astype(x.dtype) * scale
        return x * self._mask

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        if self._mask is None:
            return dy.copy()
        return dy * self._mask

    def output_shape(self, in_shape):
        return tuple(in_shape)

    def config(self):
        return {"p": self.p, "seed": self.seed}

    def _label(self):
        return f"Dropout(p={self.p})"
