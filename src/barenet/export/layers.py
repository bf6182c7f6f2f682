"""One ONNX translation per barenet layer family, registered by layer type.

Each function takes the graph, the module, its input ``Tensor`` and the module's path
and returns the output ``Tensor``. Lookup is by exact type: a subclass (which may
compute something else) is not exported as its parent but gets the "cannot export"
error until it registers its own translation with ``@translates(MyLayer)``.
All layers are exported in inference form (eval mode).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.module import Module, Residual, Sequential
from ..layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .graph import OnnxGraph, Tensor

Translation = Callable[[OnnxGraph, Module, Tensor, str], Tensor]
TRANSLATIONS: dict[type[Module], Translation] = {}


def translates(*types: type[Module]) -> Callable[[Translation], Translation]:
    """Register the decorated function as the ONNX translation of ``types``."""

    def register(fn: Translation) -> Translation:
        for t in types:
            TRANSLATIONS[t] = fn
        return fn

    return register


def _param(g: OnnxGraph, m: Module, path: str, key: str, transform=None) -> str:
    """Initializer for ``m``'s state entry ``key``, named like the state dict."""
    value = m.state_dict()[key]
    if transform is not None:
        value = transform(value)
    return g.const(f"{path}.{key}" if path else key, value)


def _has(m: Module, key: str) -> bool:
    return getattr(m, key, None) is not None


# ---- containers ---------------------------------------------------------------------------


@translates(Sequential)
def sequential(g, m, x, path):
    """Children in order: y = fₖ(… f₁(x))."""
    for name, child in m.named_children():
        x = g.emit(child, x, f"{path}.{name}" if path else name)
    return x


@translates(Residual)
def residual(g, m, x, path):
    """y = body(x) + shortcut(x) (or + x): one Add node."""
    pre = f"{path}." if path else ""
    y = g.emit(m.body, x, pre + "body")
    s = x if m.shortcut is None else g.emit(m.shortcut, x, pre + "shortcut")
    return Tensor(g.node("Add", [y.name, s.name], path), y.probe + s.probe.astype(y.probe.dtype))


@translates(Dropout)
def dropout(g, m, x, path):
    """Identity at inference (inverted dropout scales at training time only): no node."""
    return x


# ---- weighted layers ----------------------------------------------------------------------


@translates(Linear)
def linear(g, m, x, path):
    """y = x Wᵀ + b: Gemm(transB=1) for (N, in); MatMul with Wᵀ then Add for (N, …, in)."""
    bias = [_param(g, m, path, "bias")] if _has(m, "bias") else []
    if x.probe.ndim == 2:
        return g.op(m, x, path, "Gemm", _param(g, m, path, "weight"), *bias, transB=1)
    y = g.node("MatMul", [x.name, _param(g, m, path, "weight", np.transpose)], path)
    if bias:
        y = g.node("Add", [y, *bias], path)
    return Tensor(y, m.forward(x.probe))


@translates(Conv2d)
def conv2d(g, m, x, path):
    """Cross-correlation with pads [top, left, bottom, right] (asymmetric for an even
    kernel with padding="same": the extra row/column at the bottom/right)."""
    top, bottom, left, right = m._pad
    extra = [_param(g, m, path, "bias")] if _has(m, "bias") else []
    return g.op(
        m, x, path, "Conv", _param(g, m, path, "weight"), *extra,
        kernel_shape=list(m.kernel_size), strides=list(m.stride),
        pads=[top, left, bottom, right], dilations=[1, 1], group=1,
    )  # fmt: skip


@translates(BatchNorm1d, BatchNorm2d)
def batchnorm(g, m, x, path):
    """Inference form: y = γ (x - running_mean) / √(running_var + ε) + β, same ε."""
    c = m.num_features
    gamma = (
        _param(g, m, path, "weight") if _has(m, "weight") else g.const(f"{path}.ones", np.ones(c))
    )
    beta = _param(g, m, path, "bias") if _has(m, "bias") else g.const(f"{path}.zeros", np.zeros(c))
    stats = [_param(g, m, path, "running_mean"), _param(g, m, path, "running_var")]
    return g.op(m, x, path, "BatchNormalization", gamma, beta, *stats, epsilon=m.eps)


# ---- pooling and reshaping ----------------------------------------------------------------


@translates(MaxPool2d)
def maxpool2d(g, m, x, path):
    """Max over kh x kw windows, no padding, floor mode (partial windows dropped)."""
    return g.op(m, x, path, "MaxPool", kernel_shape=list(m.kernel_size), strides=list(m.stride))


@translates(AvgPool2d)
def avgpool2d(g, m, x, path):
    """Mean over kh x kw windows, no padding, floor mode."""
    return g.op(m, x, path, "AveragePool", kernel_shape=list(m.kernel_size), strides=list(m.stride))


@translates(GlobalAvgPool2d)
def global_avgpool2d(g, m, x, path):
    """(N, C, H, W) → (N, C): GlobalAveragePool gives (N, C, 1, 1), Flatten drops the 1s."""
    pooled = g.node("GlobalAveragePool", [x.name], path)
    return Tensor(g.node("Flatten", [pooled], path, axis=1), m.forward(x.probe))


@translates(Flatten)
def flatten(g, m, x, path):
    """(N, d1, d2, …) → (N, d1·d2·…)."""
    return g.op(m, x, path, "Flatten", axis=1)


# ---- activations --------------------------------------------------------------------------


def _operator(op: str) -> Translation:
    """The translation of a layer that is the one ONNX operator ``op``, no attributes."""

    def translate(g, m, x, path):
        return g.op(m, x, path, op)

    return translate


relu = translates(ReLU)(_operator("Relu"))
sigmoid = translates(Sigmoid)(_operator("Sigmoid"))
tanh = translates(Tanh)(_operator("Tanh"))


@translates(LeakyReLU)
def leaky_relu(g, m, x, path):
    return g.op(m, x, path, "LeakyRelu", alpha=m.negative_slope)


@translates(Softmax)
def softmax(g, m, x, path):
    """Softmax along one axis (opset ≥ 13 semantics, as barenet's)."""
    return g.op(m, x, path, "Softmax", axis=m.axis)
