"""Embedding: integer indices to rows of a learned table."""

from __future__ import annotations

import numpy as np

from .. import init
from ..core.backend import array_module
from ..core.checks import check_backward, check_same_device, config_int
from ..core.config import get_default_dtype
from ..core.dispatch import kernels_for
from ..core.memory import check_parameters_fit
from ..core.module import Module, Parameter, register


@register
class Embedding(Module):
    """y = W[idx],  idx: integers of any shape in [0, num),  W: (num, dim),  y: (*idx, dim).

    Backward: dW[k] += Σ_{i: idxᵢ = k} dyᵢ (repeated indices accumulate), nothing for
    the row ``padding_idx``, whose output is a zero row at the start (PyTorch's
    convention; a negative ``padding_idx`` counts from the end). Indices are data:
    backward returns None. Initialised like PyTorch: W ~ N(0, 1).
    """

    init_weight = "weight"

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        for what, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"Embedding: {what} must be a positive integer, got {v!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if (
                isinstance(padding_idx, bool)
                or int(padding_idx) != padding_idx
                or not (-self.num_embeddings <= padding_idx < self.num_embeddings)
            ):
                raise ValueError(
                    f"Embedding: padding_idx must be an integer in [-{self.num_embeddings}, "
                    f"{self.num_embeddings}), got {padding_idx!r}"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        dt = get_default_dtype()
        shape = (self.num_embeddings, self.embedding_dim)
        check_parameters_fit([shape], dt, f"{self._label()} (weights and gradients)")
        self.weight = Parameter(np.empty(shape, dtype=dt))
        init.normal(self.weight, 0.0, 1.0)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0
        self._clear_cache()

    def _clear_cache(self):
        self._kernels = self._cache = self._out_shape = None

    def forward(self, idx):
        idx = self._indices(idx)
        kernels = kernels_for("embedding", self.weight.data)
        y, cache = kernels.forward(idx, self.weight.data)
        self._kernels, self._cache, self._out_shape = kernels, cache, y.shape
        return y

    def _indices(self, idx):
        """``idx`` checked: integers (not floats, not bools) in [0, num), on the table's
        device; TypeError / ValueError naming the layer otherwise."""
        w = self.weight.data
        if not hasattr(idx, "dtype") or array_module(idx) is np:
            try:
                idx = np.asarray(idx)
            except Exception as exc:  # noqa: BLE001 - re-raised with the layer's name
                raise TypeError(f"{self._label()}: indices are not array-like: {exc}") from exc
        if idx.dtype.kind not in "iu":
            raise TypeError(
                f"{self._label()}: expected integer indices, got dtype {idx.dtype} "
                f"(shape {tuple(idx.shape)})"
            )
        if type(idx) is np.ndarray and type(w) is not np.ndarray:
            idx = array_module(w).asarray(idx)
        elif not (type(idx) is np.ndarray and type(w) is np.ndarray):
            check_same_device(self, idx, w)
        if idx.size:
            lo, hi = int(idx.min()), int(idx.max())
            if lo < 0 or hi >= self.num_embeddings:
                raise ValueError(
                    f"{self._label()}: indices must be in [0, {self.num_embeddings}), got "
                    f"values from {lo} to {hi} in an input of shape {tuple(idx.shape)}"
                )
        return idx

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape, self.weight.data.dtype)
        self.weight.grad += self._kernels.backward(dy, self._cache, self.padding_idx)
        return None

    def output_shape(self, in_shape):
        return tuple(in_shape) + (self.embedding_dim,)

    def config(self):
        return {
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "padding_idx": self.padding_idx,
        }

    @classmethod
    def state_shapes(cls, config):
        num = config_int("Embedding", config, "num_embeddings")
        return {"weight": (num, config_int("Embedding", config, "embedding_dim"))}

    def _label(self):
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"
