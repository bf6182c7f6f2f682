"""The layer configurations the ONNX export is checked on.

Each case has the interface of ``barenet.testing.LAYER_CASES`` (``id``, ``layer_type``,
``make()``, ``input_shape`` with the batch, ``flags``); when that table exists its
cases are used too. The containers (Sequential nesting, Residual) and the padding
cases that matter for ONNX (an even kernel with "same") are always here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import barenet as bn
from barenet.core.module import _REGISTRY


@dataclass(frozen=True)
class ExportCase:
    id: str
    layer_type: type
    make: Callable[[], bn.Module]
    input_shape: tuple[int, ...]
    flags: frozenset = field(default_factory=frozenset)


def _c(id_, layer_type, make, input_shape, flags=()):
    return ExportCase(id_, layer_type, make, tuple(input_shape), frozenset(flags))


def _block():
    return bn.Sequential(bn.Conv2d(3, 4, 3, padding=1), bn.BatchNorm2d(4), bn.ReLU())


LOCAL_CASES: tuple[ExportCase, ...] = (
    _c("linear", bn.Linear, lambda: bn.Linear(12, 5), (2, 12)),
    _c("linear-nobias", bn.Linear, lambda: bn.Linear(12, 5, bias=False), (2, 12)),
    _c("linear-3d", bn.Linear, lambda: bn.Linear(4, 3), (2, 5, 4)),
    _c("conv-pad1", bn.Conv2d, lambda: bn.Conv2d(3, 4, 3, padding=1), (2, 3, 9, 9)),
    _c("conv-stride2", bn.Conv2d, lambda: bn.Conv2d(3, 4, 3, stride=2), (2, 3, 10, 9)),
    _c("conv-stride-2x1", bn.Conv2d, lambda: bn.Conv2d(2, 3, (3, 2), (2, 1), (1, 2)), (2, 2, 7, 6)),
    _c("conv-same-k3", bn.Conv2d, lambda: bn.Conv2d(3, 4, 3, padding="same"), (2, 3, 8, 8)),
    _c("conv-same-k4", bn.Conv2d, lambda: bn.Conv2d(3, 4, 4, padding="same"), (2, 3, 8, 7)),
    _c("conv-same-k2x5", bn.Conv2d, lambda: bn.Conv2d(2, 3, (2, 5), padding="same"), (2, 2, 6, 9)),
    _c("conv-valid", bn.Conv2d, lambda: bn.Conv2d(3, 4, 5, padding="valid"), (2, 3, 9, 9)),
    _c("conv-nobias", bn.Conv2d, lambda: bn.Conv2d(3, 4, 1, bias=False), (2, 3, 5, 5)),
    _c("conv-wide", bn.Conv2d, lambda: bn.Conv2d(32, 16, 3, padding=1), (2, 32, 6, 6)),
    _c("maxpool-2", bn.MaxPool2d, lambda: bn.MaxPool2d(2), (2, 3, 9, 8)),
    _c("maxpool-3s2", bn.MaxPool2d, lambda: bn.MaxPool2d(3, stride=2), (2, 3, 9, 10)),
    _c("maxpool-2x3s1x2", bn.MaxPool2d, lambda: bn.MaxPool2d((2, 3), (1, 2)), (2, 2, 6, 9)),
    _c("avgpool-2", bn.AvgPool2d, lambda: bn.AvgPool2d(2), (2, 3, 8, 9)),
    _c("avgpool-3s2", bn.AvgPool2d, lambda: bn.AvgPool2d(3, stride=2), (2, 3, 9, 10)),
    _c("global-avgpool", bn.GlobalAvgPool2d, bn.GlobalAvgPool2d, (2, 5, 6, 7)),
    _c("flatten-4d", bn.Flatten, bn.Flatten, (2, 3, 4, 5)),
    _c("flatten-3d", bn.Flatten, bn.Flatten, (2, 3, 4)),
    _c("relu", bn.ReLU, bn.ReLU, (2, 3, 4, 4)),
    _c("leaky-relu", bn.LeakyReLU, lambda: bn.LeakyReLU(0.2), (2, 7)),
    _c("sigmoid", bn.Sigmoid, bn.Sigmoid, (2, 3, 4, 4)),
    _c("tanh", bn.Tanh, bn.Tanh, (2, 6)),
    _c("softmax", bn.Softmax, bn.Softmax, (2, 10)),
    _c("softmax-last-axis", bn.Softmax, lambda: bn.Softmax(axis=-1), (2, 3, 4, 5)),
    _c("batchnorm1d", bn.BatchNorm1d, lambda: bn.BatchNorm1d(6), (2, 6)),
    _c("batchnorm1d-3d", bn.BatchNorm1d, lambda: bn.BatchNorm1d(3, eps=1e-3), (2, 3, 5)),
    _c("batchnorm2d", bn.BatchNorm2d, lambda: bn.BatchNorm2d(4), (2, 4, 5, 5)),
    _c(
        "batchnorm2d-noaffine",
        bn.BatchNorm2d,
        lambda: bn.BatchNorm2d(4, eps=0.1, affine=False),
        (2, 4, 5, 5),
    ),
    _c("dropout", bn.Dropout, lambda: bn.Dropout(0.5), (2, 8), ("stochastic",)),
    _c(
        "sequential-nested",
        bn.Sequential,
        lambda: bn.Sequential(_block(), bn.Sequential(bn.MaxPool2d(2), bn.Dropout(0.3))),
        (2, 3, 8, 8),
    ),
    _c(
        "residual-identity",
        bn.Residual,
        lambda: bn.Residual(bn.Sequential(bn.Conv2d(3, 3, 3, padding=1), bn.Tanh())),
        (2, 3, 6, 6),
    ),
    _c(
        "residual-projection",
        bn.Residual,
        lambda: bn.Residual(_block(), bn.Sequential(bn.Conv2d(3, 4, 1), bn.BatchNorm2d(4))),
        (2, 3, 6, 6),
    ),
    _c(
        "residual-in-residual",
        bn.Residual,
        lambda: bn.Residual(
            bn.Sequential(bn.Residual(bn.Sequential(bn.Conv2d(3, 3, 1), bn.ReLU())), bn.Sigmoid())
        ),
        (2, 3, 5, 5),
    ),
)


def layer_cases() -> tuple:
    """``barenet.testing.LAYER_CASES`` where it exists, plus the local cases."""
    try:
        from barenet.testing import LAYER_CASES
    except ImportError:
        LAYER_CASES = ()
    ids = {c.id for c in LAYER_CASES}
    return tuple(LAYER_CASES) + tuple(c for c in LOCAL_CASES if c.id not in ids)


def registered_layer_types() -> set[type]:
    """Every layer type a model file can name (the registry behind ``bn.build``)."""
    return set(_REGISTRY.values())


def randomise_statistics(model: bn.Module, seed: int = 0) -> bn.Module:
    """Give every BatchNorm non-trivial γ, β and running statistics, so that the
    inference form is really exercised (fresh layers have γ=1, β=0, μ=0, σ²=1)."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (bn.BatchNorm1d, bn.BatchNorm2d)):
            c, dt = m.num_features, m.running_mean.dtype
            m.running_mean = rng.normal(0, 0.5, c).astype(dt)
            m.running_var = rng.uniform(0.2, 2.0, c).astype(dt)
            if m.weight is not None:
                m.weight.data[...] = rng.uniform(0.5, 1.5, c)
                m.bias.data[...] = rng.normal(0, 0.3, c)
    return model
