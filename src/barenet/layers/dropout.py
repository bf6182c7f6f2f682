"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from ..core.checks import as_input, check_backward
from ..core.config import get_rng
from ..core.device import device_random
from ..core.dispatch import kernels_for
from ..core.module import Module, register


@register
class Dropout(Module):
    r"""Training: $y = x \cdot m / (1 - p)$ with $m \sim \mathrm{Bernoulli}(1 - p)$;
    $dx = dy \cdot m / (1 - p)$.

    Evaluation: y = x and dx = dy (no rescaling at test time: that is what
    "inverted" means). Masks come from barenet's global generator (``barenet.seed``)
    unless ``seed`` gives the layer a generator of its own; on a GPU they are drawn
    there, from CuPy's generator (seeded by ``barenet.seed`` too) or the layer's own
    one on that GPU. The kernels are
    ``reference.dropout`` in both modes.
    """

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__()
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.seed = seed
        self.rng = None if seed is None else np.random.default_rng(seed)
        self._device_rngs: dict = {}  # GPU index -> this layer's generator there
        self._clear_cache()

    def _clear_cache(self):
        self._kernels = self._cache = self._out_shape = None

    def forward(self, x):
        x = as_input(self, x)
        if not self.training or self.p == 0.0:
            self._kernels, self._cache, self._out_shape = None, None, x.shape
            return x.copy()
        kernels = kernels_for("dropout", x)
        if type(x) is np.ndarray:
            rng = self.rng if self.rng is not None else get_rng()
        else:  # drawn on the input's GPU, from CuPy's generator or the layer's own there
            rng = device_random(x, self.seed, self._device_rngs)
        y, cache = kernels.forward(x, self.p, rng)
        self._kernels, self._cache, self._out_shape = kernels, cache, x.shape
        return y

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        if self._kernels is None:  # the identity
            return dy.copy()
        return self._kernels.backward(dy, self._cache)

    def output_shape(self, in_shape):
        return tuple(in_shape)

    def config(self):
        return {"p": self.p, "seed": self.seed}

    def _label(self):
        return f"Dropout(p={self.p})"
