"""One table of layer cases, for every test that walks all the layers.

Each ``LayerCase`` says how to build a layer (``make()``, in the current default
dtype), which input it takes (``input_shape``, batch included; ``make_input()``), what
is special about it (``flags``), which inputs it must reject (``bad_inputs``) and its
PyTorch twin (``torch_twin(layer)``). The
generic tests (gradient checks, PyTorch parity, fast against reference kernels, state
dict and model-file round trips, bad input) iterate ``LAYER_CASES``; a layer type
registered for model files without a case fails them. Adding a layer is its file plus
its cases here (and its PyTorch twin in ``TORCH_TWINS``, when PyTorch has one).

Flags:
    "stochastic"  the output depends on random draws (Dropout in training): no PyTorch
                  parity; other comparisons reseed before each run
    "eval"        the layer is built in eval mode
    "distinct"    needs well-separated input values (max-pool: no ties within a
                  gradient check's step)
    "kink"        needs inputs away from 0 (ReLU's derivative jumps there)
    "container"   holds other layers
    "indices"     takes integer indices in [0, ``index_high``) (Embedding): no input
                  gradient, backward returns None

A layer's output may be a tuple (a recurrent layer's ``(y, h)`` or ``(y, (h, c))``):
``output_arrays`` flattens it and ``grad_like`` draws a gradient of the same nesting,
which is what its backward takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import layers as L
from . import sequence as S
from .core.config import get_rng
from .core.module import Module, Residual, Sequential, build, registered_types
from .sequence.twins import SEQUENCE_TWINS

__all__ = [
    "LAYER_CASES",
    "LayerCase",
    "TORCH_TWINS",
    "copy_on",
    "grad_like",
    "output_arrays",
    "registered_layer_types",
    "torch_twin",
]


@dataclass(frozen=True)
class LayerCase:
    """How to build and feed one layer configuration."""

    id: str
    layer_type: type[Module]
    build: Callable[[], Module]
    input_shape: tuple[int, ...]
    flags: frozenset[str] = frozenset()
    # inputs the layer must refuse with a ValueError before any state changes: (shape,
    # words the message must hold); none for containers, whose first layers run before a
    # later one refuses
    bad_inputs: tuple[tuple[tuple[int, ...], tuple[str, ...]], ...] = field(default=())
    # whole inputs the layer must refuse, before any state changes: (array, the exception
    # type, words the message must hold); for what a shape cannot say (Embedding's
    # indices out of range, or not integers)
    bad_values: tuple[tuple[np.ndarray, type, tuple[str, ...]], ...] = field(default=())
    index_high: int | None = None  # "indices": the number of rows of the table
    index_low: int = 0  # "indices": the smallest index drawn (1: no padding token 0)

    def make(self) -> Module:
        """A fresh layer, built in the current default dtype."""
        layer = self.build()
        if not isinstance(layer, self.layer_type):
            raise TypeError(f"case {self.id}: built a {type(layer).__name__}")
        return layer

    def torch_twin(self, layer: Module, torch_dtype=None):
        """``layer``'s PyTorch twin (same architecture, state dict and mode; needs torch)."""
        return torch_twin(layer, torch_dtype)

    def make_input(self, dtype=np.float64, seed: int = 0) -> np.ndarray:
        """An input of ``input_shape`` that suits the case's flags."""
        rng = np.random.default_rng(seed)
        if "indices" in self.flags:
            return rng.integers(self.index_low, self.index_high, self.input_shape)
        if "distinct" in self.flags:
            n = int(np.prod(self.input_shape))
            x = rng.permutation(n).reshape(self.input_shape) * 0.1 - n * 0.05
        else:
            x = rng.standard_normal(self.input_shape)
            if "kink" in self.flags:
                x[np.abs(x) < 1e-3] = 0.5
        return x.astype(dtype)


def _random_statistics(layer: Module) -> Module:
    """BatchNorm layers with affine parameters and running statistics away from their
    start values (drawn from barenet's generator), so evaluation mode shows them."""
    rng = get_rng()
    for m in layer.modules():
        if isinstance(m, L.BatchNorm1d | L.BatchNorm2d):
            if m.weight is not None:
                m.weight.data[...] = rng.uniform(0.5, 1.5, m.num_features)
                m.bias.data[...] = rng.standard_normal(m.num_features)
            m.running_mean = rng.standard_normal(m.num_features).astype(m.dtype)
            m.running_var = rng.uniform(0.5, 2.0, m.num_features).astype(m.dtype)
    return layer


def output_arrays(out) -> list:
    """The arrays of a layer's output: itself, or a tuple's arrays in order (a recurrent
    layer's ``(y, h)``, ``(y, (h, c))``)."""
    if isinstance(out, (tuple, list)):
        return [a for part in out for a in output_arrays(part)]
    return [out]


def grad_like(out, rng: np.random.Generator):
    """A standard-normal gradient for ``out``, in its nesting, shapes and dtypes."""
    if isinstance(out, (tuple, list)):
        return tuple(grad_like(part, rng) for part in out)
    return rng.standard_normal(out.shape).astype(out.dtype)


def _case(
    id, layer_type, build, shape, *flags, bad=(), bad_values=(), high=None, low=0
) -> LayerCase:
    return LayerCase(
        id,
        layer_type,
        build,
        tuple(shape),
        frozenset(flags),
        tuple(bad),
        tuple(bad_values),
        high,
        low,
    )


_INDEX_ERRORS = (
    (np.array([[0, 7]]), ValueError, ("Embedding(7, 3)", "[0, 7)", "7")),
    (np.array([[-1, 2]]), ValueError, ("Embedding(7, 3)", "[0, 7)", "-1")),
    (np.array([[0.0, 1.0]]), TypeError, ("Embedding(7, 3)", "integer", "float64")),
)


LAYER_CASES: tuple[LayerCase, ...] = (
    _case(
        "Linear",
        L.Linear,
        lambda: L.Linear(6, 4),
        (5, 6),
        bad=[((5, 7), ("Linear(6→4)", "(N, 6)", "(5, 7)")), ((6,), ("Linear(6→4)", "(6,)"))],
    ),
    _case("Linear-nobias-b1", L.Linear, lambda: L.Linear(5, 2, bias=False), (1, 5)),
    _case("Linear-3d", L.Linear, lambda: L.Linear(4, 2), (2, 3, 4)),
    _case("Flatten", L.Flatten, lambda: L.Flatten(), (2, 3, 2, 2)),
    _case(
        "Conv2d-k3-p1",
        L.Conv2d,
        lambda: L.Conv2d(3, 4, 3, padding=1),
        (2, 3, 6, 5),
        bad=[
            ((2, 1, 6, 5), ("Conv2d(3→4)", "(N, 3, H, W)", "(2, 1, 6, 5)")),
            ((3, 6, 5), ("Conv2d(3→4)", "(3, 6, 5)")),
        ],
    ),
    _case(
        "Conv2d-k3-s2-p1", L.Conv2d, lambda: L.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 7, 6)
    ),
    _case("Conv2d-k3-s3", L.Conv2d, lambda: L.Conv2d(1, 2, 3, stride=3), (2, 1, 8, 10)),
    _case(
        "Conv2d-k5-p2",
        L.Conv2d,
        lambda: L.Conv2d(2, 2, 5, padding=2),
        (1, 2, 6, 7),
        bad=[((1, 2, 0, 3), ("Conv2d(2→2)", "0x3", "5x5"))],
    ),
    _case(
        "Conv2d-k5-s3",
        L.Conv2d,
        lambda: L.Conv2d(2, 3, 5, stride=3),
        (2, 2, 11, 9),
        bad=[((1, 2, 4, 9), ("Conv2d(2→3)", "4x9", "5x5"))],
    ),
    _case("Conv2d-same-odd", L.Conv2d, lambda: L.Conv2d(2, 2, 3, padding="same"), (2, 2, 5, 4)),
    _case("Conv2d-same-even", L.Conv2d, lambda: L.Conv2d(2, 3, 4, padding="same"), (2, 2, 5, 6)),
    _case("Conv2d-valid", L.Conv2d, lambda: L.Conv2d(1, 2, 2, padding="valid"), (2, 1, 5, 4)),
    _case("Conv2d-nobias", L.Conv2d, lambda: L.Conv2d(2, 3, 3, bias=False), (2, 2, 5, 5)),
    _case(
        "Conv2d-rect",
        L.Conv2d,
        lambda: L.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)),
        (2, 2, 7, 5),
    ),
    _case("Conv2d-b1", L.Conv2d, lambda: L.Conv2d(3, 2, 3, stride=2), (1, 3, 7, 7)),
    _case("Conv2d-1x1", L.Conv2d, lambda: L.Conv2d(3, 2, 1), (2, 3, 4, 3)),
    _case("Conv2d-32-outputs", L.Conv2d, lambda: L.Conv2d(1, 32, 3, padding=1), (2, 1, 5, 4)),
    _case("Conv2d-16-inputs", L.Conv2d, lambda: L.Conv2d(16, 3, 3, padding=1), (2, 16, 4, 3)),
    _case(
        "MaxPool2d-2",
        L.MaxPool2d,
        lambda: L.MaxPool2d(2),
        (2, 3, 8, 6),
        "distinct",
        bad=[((4, 4), ("MaxPool2d", "(4, 4)"))],
    ),
    _case("MaxPool2d-2-odd", L.MaxPool2d, lambda: L.MaxPool2d(2), (2, 2, 5, 7), "distinct"),
    _case(
        "MaxPool2d-k3-s2",
        L.MaxPool2d,
        lambda: L.MaxPool2d(3, 2),
        (2, 2, 7, 6),
        "distinct",
        bad=[((1, 1, 2, 5), ("MaxPool2d", "2x5"))],
    ),
    _case("MaxPool2d-k3-s2-b1", L.MaxPool2d, lambda: L.MaxPool2d(3, 2), (1, 2, 8, 9), "distinct"),
    _case("MaxPool2d-k2-s1", L.MaxPool2d, lambda: L.MaxPool2d(2, 1), (2, 1, 4, 5), "distinct"),
    _case(
        "MaxPool2d-rect", L.MaxPool2d, lambda: L.MaxPool2d((2, 3), (1, 2)), (2, 1, 5, 7), "distinct"
    ),
    _case(
        "AvgPool2d-2",
        L.AvgPool2d,
        lambda: L.AvgPool2d(2),
        (2, 3, 8, 6),
        bad=[((1, 4, 4), ("AvgPool2d", "(1, 4, 4)"))],
    ),
    _case("AvgPool2d-2-odd", L.AvgPool2d, lambda: L.AvgPool2d(2), (2, 2, 5, 7)),
    _case("AvgPool2d-k3-s2", L.AvgPool2d, lambda: L.AvgPool2d(3, 2), (2, 2, 7, 6)),
    _case("AvgPool2d-k2-s1", L.AvgPool2d, lambda: L.AvgPool2d(2, 1), (2, 1, 4, 5)),
    _case("AvgPool2d-rect", L.AvgPool2d, lambda: L.AvgPool2d((2, 3), (1, 2)), (2, 1, 5, 7)),
    _case(
        "GlobalAvgPool2d",
        L.GlobalAvgPool2d,
        lambda: L.GlobalAvgPool2d(),
        (2, 3, 4, 5),
        bad=[((2, 3), ("GlobalAvgPool2d", "(2, 3)"))],
    ),
    _case("ReLU", L.ReLU, lambda: L.ReLU(), (4, 7), "kink"),
    _case("ReLU-4d", L.ReLU, lambda: L.ReLU(), (2, 3, 4, 5), "kink"),
    _case("ReLU-eval", L.ReLU, lambda: L.ReLU().eval(), (2, 3, 4, 5), "kink", "eval"),
    _case("LeakyReLU", L.LeakyReLU, lambda: L.LeakyReLU(0.1), (4, 7), "kink"),
    _case("LeakyReLU-steep", L.LeakyReLU, lambda: L.LeakyReLU(2.0), (3, 5), "kink"),
    _case(
        "LeakyReLU-eval", L.LeakyReLU, lambda: L.LeakyReLU(0.2).eval(), (2, 3, 4, 5), "kink", "eval"
    ),
    _case("Sigmoid", L.Sigmoid, lambda: L.Sigmoid(), (4, 7)),
    _case("Tanh", L.Tanh, lambda: L.Tanh(), (4, 7)),
    _case("Softmax", L.Softmax, lambda: L.Softmax(), (4, 7)),
    _case(
        "Softmax-axis-2",
        L.Softmax,
        lambda: L.Softmax(axis=2),
        (2, 3, 4),
        bad=[((3, 4), ("Softmax", "(3, 4)"))],
    ),
    _case("Softmax-axis-last", L.Softmax, lambda: L.Softmax(axis=-1), (2, 3, 4)),
    _case(
        "BatchNorm1d",
        L.BatchNorm1d,
        lambda: L.BatchNorm1d(3),
        (5, 3),
        bad=[
            ((4, 5), ("BatchNorm1d(3)", "(N, 3)", "(4, 5)")),
            ((1, 3), ("BatchNorm1d(3)", "(1, 3)")),
        ],
    ),
    _case("BatchNorm1d-3d", L.BatchNorm1d, lambda: L.BatchNorm1d(3, momentum=0.2), (2, 3, 4)),
    _case(
        "BatchNorm1d-eval",
        L.BatchNorm1d,
        lambda: _random_statistics(L.BatchNorm1d(3)).eval(),
        (4, 3),
        "eval",
    ),
    _case(
        "BatchNorm1d-3d-eval",
        L.BatchNorm1d,
        lambda: _random_statistics(L.BatchNorm1d(3)).eval(),
        (2, 3, 4),
        "eval",
    ),
    _case(
        "BatchNorm2d",
        L.BatchNorm2d,
        lambda: L.BatchNorm2d(2),
        (3, 2, 3, 2),
        bad=[
            ((2, 3), ("BatchNorm2d(2)", "(N, 2, H, W)", "(2, 3)")),
            ((2, 4, 2, 2), ("BatchNorm2d(2)", "(2, 4, 2, 2)")),
        ],
    ),
    _case("BatchNorm2d-b1", L.BatchNorm2d, lambda: L.BatchNorm2d(2), (1, 2, 3, 3)),
    _case(
        "BatchNorm2d-no-affine", L.BatchNorm2d, lambda: L.BatchNorm2d(2, affine=False), (2, 2, 3, 3)
    ),
    _case(
        "BatchNorm2d-eval",
        L.BatchNorm2d,
        lambda: _random_statistics(L.BatchNorm2d(2)).eval(),
        (1, 2, 2, 1),
        "eval",
    ),
    _case("Dropout", L.Dropout, lambda: L.Dropout(0.4), (4, 6), "stochastic"),
    _case("Dropout-eval", L.Dropout, lambda: L.Dropout(0.5).eval(), (4, 7), "eval"),
    _case(
        "Embedding",
        L.Embedding,
        lambda: L.Embedding(7, 3),
        (2, 5),
        "indices",
        bad_values=_INDEX_ERRORS,
        high=7,
    ),
    _case(
        "Embedding-padding", L.Embedding, lambda: L.Embedding(6, 4, 0), (3, 4), "indices", high=6
    ),
    _case("Embedding-3d", L.Embedding, lambda: L.Embedding(5, 2, -1), (2, 3, 2), "indices", high=5),
    _case(
        "RNN",
        L.RNN,
        lambda: L.RNN(3, 4),
        (5, 2, 3),
        bad=[
            ((5, 2, 4), ("RNN(3→4)", "(T, N, 3)", "(5, 2, 4)")),
            ((2, 5, 2, 3), ("RNN(3→4)", "(2, 5, 2, 3)")),
            ((3,), ("RNN(3→4)", "(3,)")),
        ],
    ),
    _case(
        "RNN-relu-2-layers-bidirectional-batch-first",
        L.RNN,
        lambda: L.RNN(3, 4, 2, "relu", batch_first=True, bidirectional=True),
        (2, 4, 3),
        bad=[((5, 2, 4), ("RNN(3→4, num_layers=2, bidirectional)", "(N, T, 3)", "(5, 2, 4)"))],
    ),
    _case("RNN-unbatched", L.RNN, lambda: L.RNN(2, 3, bias=False), (4, 2)),
    _case(
        "LSTM",
        L.LSTM,
        lambda: L.LSTM(3, 4),
        (6, 2, 3),
        bad=[((6, 2, 2), ("LSTM(3→4)", "(T, N, 3)", "(6, 2, 2)")), ((6,), ("LSTM(3→4)", "(6,)"))],
    ),
    _case(
        "LSTM-2-layers-bidirectional",
        L.LSTM,
        lambda: L.LSTM(3, 4, num_layers=2, bidirectional=True),
        (5, 2, 3),
    ),
    _case(
        "LSTM-batch-first-nobias",
        L.LSTM,
        lambda: L.LSTM(3, 3, bias=False, batch_first=True),
        (2, 5, 3),
    ),
    _case("LSTM-unbatched", L.LSTM, lambda: L.LSTM(2, 3), (4, 2)),
    _case("LSTM-dropout", L.LSTM, lambda: L.LSTM(3, 4, 2, dropout=0.5), (4, 2, 3), "stochastic"),
    _case(
        "LSTM-dropout-eval",
        L.LSTM,
        lambda: L.LSTM(3, 4, 2, dropout=0.5).eval(),
        (4, 2, 3),
        "eval",
    ),
    _case(
        "GRU",
        L.GRU,
        lambda: L.GRU(3, 4),
        (6, 2, 3),
        bad=[((6, 2, 5), ("GRU(3→4)", "(T, N, 3)", "(6, 2, 5)"))],
    ),
    _case(
        "GRU-2-layers-bidirectional-batch-first",
        L.GRU,
        lambda: L.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True),
        (2, 5, 3),
    ),
    _case(
        "GRU-3-layers-dropout", L.GRU, lambda: L.GRU(2, 3, 3, dropout=0.3), (3, 2, 2), "stochastic"
    ),
    _case(
        "LanguageModel-lstm",
        S.LanguageModel,
        lambda: S.LanguageModel(7, 4, 5, vocabulary="abcdefg"),
        (2, 4),
        "indices",
        "container",
        high=7,
    ),
    _case(
        "LanguageModel-gru-2-layers",
        S.LanguageModel,
        lambda: S.LanguageModel(6, 3, 4, num_layers=2, cell="gru"),
        (3, 3),
        "indices",
        "container",
        high=6,
    ),
    _case(
        "Seq2Seq-lstm",
        S.Seq2Seq,
        lambda: S.Seq2Seq(6, 5, 3, embed_dim=3, hidden_size=4),
        (3, 5),
        "indices",
        "container",
        high=6,
        low=1,
    ),
    _case(
        "Seq2Seq-gru-2-layers",
        S.Seq2Seq,
        lambda: S.Seq2Seq(5, 4, 2, embed_dim=2, hidden_size=3, num_layers=2, cell="gru"),
        (2, 4),
        "indices",
        "container",
        high=5,
        low=1,
    ),
    _case(
        "Sequential-mlp",
        Sequential,
        lambda: Sequential(L.Linear(4, 5), L.Tanh(), L.Linear(5, 3), L.Sigmoid()),
        (3, 4),
        "container",
    ),
    _case(
        "Residual-relu-first",
        Residual,
        lambda: Residual(Sequential(L.ReLU(), L.Linear(4, 4), L.ReLU())),
        (3, 4),
        "container",
        "kink",
    ),
    _case(
        "Residual-identity",
        Residual,
        lambda: Residual(Sequential(L.ReLU(), L.Conv2d(2, 2, 3, padding=1))),
        (2, 2, 4, 4),
        "container",
        "kink",
    ),
    _case(
        "Residual-projection",
        Residual,
        lambda: Residual(
            Sequential(
                L.Conv2d(2, 3, 3, stride=2, padding=1, bias=False),
                L.BatchNorm2d(3),
                L.ReLU(),
                L.Conv2d(3, 3, 3, padding=1, bias=False),
                L.BatchNorm2d(3),
            ),
            Sequential(L.Conv2d(2, 3, 1, stride=2, bias=False), L.BatchNorm2d(3)),
        ),
        (2, 2, 5, 5),
        "container",
        "kink",
    ),
)


def registered_layer_types() -> dict[str, type[Module]]:
    """Every module type a model file can name (``core.module.register``)."""
    return registered_types()


# -- the PyTorch twins -----------------------------------------------------------------------
def _nn():
    from torch import nn  # optional engine: PyTorch, the oracle

    return nn


def _twin_sequential(m: Sequential, twin: Callable):
    return _nn().Sequential(*map(twin, m.children()))


def _twin_residual(m: Residual, twin: Callable):
    nn = _nn()

    class TorchResidual(nn.Module):
        def __init__(self, body, shortcut):
            super().__init__()
            self.body = body
            self.shortcut = shortcut

        def forward(self, x):
            return self.body(x) + (x if self.shortcut is None else self.shortcut(x))

    return TorchResidual(twin(m.body), None if m.shortcut is None else twin(m.shortcut))


def _twin_linear(m: L.Linear, _twin):
    return _nn().Linear(m.in_features, m.out_features, bias=m.bias is not None)


def _twin_conv(m: L.Conv2d, _twin):
    pad = m.padding if isinstance(m.padding, str) else tuple(m.padding)
    return _nn().Conv2d(
        m.in_channels,
        m.out_channels,
        tuple(m.kernel_size),
        stride=tuple(m.stride),
        padding=pad,
        bias=m.bias is not None,
    )


def _twin_pool(m, _twin):
    return getattr(_nn(), type(m).__name__)(tuple(m.kernel_size), tuple(m.stride))


def _twin_global_avgpool(m, _twin):
    nn = _nn()
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _twin_batchnorm(m, _twin):
    cls = getattr(_nn(), type(m).__name__)
    return cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.weight is not None)


def _twin_same_name(*attrs: str):
    """The torch.nn class of the same name, built from these attributes of the layer."""

    def make(m, _twin):
        return getattr(_nn(), type(m).__name__)(*[getattr(m, a) for a in attrs])

    return make


def _twin_softmax(m: L.Softmax, _twin):
    return _nn().Softmax(dim=m.axis)


def _twin_embedding(m: L.Embedding, _twin):
    return _nn().Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx)


def _twin_recurrent(m, _twin):
    """torch.nn.RNN / LSTM / GRU with the same configuration (and so the same names)."""
    kw = {k: v for k, v in m.config().items() if k not in ("input_size", "hidden_size")}
    return getattr(_nn(), type(m).__name__)(m.input_size, m.hidden_size, **kw)


# layer type -> (layer, twin of a child) -> the torch.nn module computing the same thing
TORCH_TWINS: dict[type[Module], Callable] = {
    Sequential: _twin_sequential,
    Residual: _twin_residual,
    L.Linear: _twin_linear,
    L.Conv2d: _twin_conv,
    L.MaxPool2d: _twin_pool,
    L.AvgPool2d: _twin_pool,
    L.GlobalAvgPool2d: _twin_global_avgpool,
    L.BatchNorm1d: _twin_batchnorm,
    L.BatchNorm2d: _twin_batchnorm,
    L.LeakyReLU: _twin_same_name("negative_slope"),
    L.Softmax: _twin_softmax,
    L.Embedding: _twin_embedding,
    L.RNN: _twin_recurrent,
    L.LSTM: _twin_recurrent,
    L.GRU: _twin_recurrent,
    **SEQUENCE_TWINS,
    L.Dropout: _twin_same_name("p"),
    L.Flatten: _twin_same_name(),
    L.ReLU: _twin_same_name(),
    L.Sigmoid: _twin_same_name(),
    L.Tanh: _twin_same_name(),
}


def copy_on(module: Module, device: str = "cpu", dtype=None) -> Module:
    """An independent copy of ``module`` on ``device``: the same architecture, weights,
    buffers and train/eval mode of every submodule (``dtype``: also converted)."""
    twin = build(module.spec())
    twin.load_state_dict(module.state_dict())
    for a, b in zip(module.modules(), twin.modules()):
        b.training = a.training
    return twin.to(device) if dtype is None else twin.to(device, dtype)


def _twin(m: Module):
    make = TORCH_TWINS.get(type(m))
    if make is None:
        raise LookupError(f"no PyTorch twin for {type(m).__name__} (add one to TORCH_TWINS)")
    return make(m, _twin)


def torch_twin(module: Module, torch_dtype=None):
    """The torch.nn module with the same architecture, state dict and mode (needs torch)."""
    import torch  # optional engine: PyTorch, the oracle

    twin = _twin(module)
    dt = torch_dtype or (torch.float64 if module.dtype == np.float64 else torch.float32)
    twin = twin.to(dt)
    sd = {k: torch.from_numpy(np.array(v)) for k, v in module.state_dict().items()}
    twin.load_state_dict(sd, strict=True)
    twin.train(module.training)
    return twin
