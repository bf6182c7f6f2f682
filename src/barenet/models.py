"""The named architectures of the reports, built for any input size and class count.

``build_model(name, input_shape, num_classes, **kwargs)`` returns a ``Sequential``;
``input_shape`` is one sample's shape, ``(C, H, W)`` for images or ``(D,)`` for
vectors, and ``num_classes`` is the output width (1 for a scalar regression).
Flatten sizes are found by running a zero sample through the feature layers, so
every model adapts to 8x8, 28x28 or 32x32x3 input without hand arithmetic.

=================  ==============================================================
``mlp``            [Flatten] Linear-act(-BN)(-Dropout) ... Linear; ``hidden=(256, 128)``
                   or ``widths=[in, ..., out]`` (input and output sizes included)
``cnn-small``      conv(C→32,3,p1) ReLU pool2 conv(32→64,3,p1) ReLU pool2 Flatten
                   Linear(→128) ReLU Linear(128→K)
``cnn-bn``         cnn-small with BatchNorm2d after each conv
``cnn-dropout``    cnn-small with Dropout after each pooling and the hidden Linear
``cnn-dropout-bn`` both (dropout before the next conv's BatchNorm: the variance shift)
``cnn-deep``       the 21-layer CNN: 3 blocks of two 3x3 conv+ReLU (16,16 | 32,32 |
                   64,64 channels, paddings 0,0,0,0,1,1), each closed by a 2x2
                   max-pool; Flatten Linear(→50) ReLU Dropout(.5) Linear(50→K)
                   Dropout(.5). Inputs too small for the unpadded convs get padding 1.
``cnn-res``        conv-BN-ReLU-conv-BN + (1x1 conv + BN) shortcut, ReLU, AvgPool2d(2),
                   Flatten, Linear(→128), ReLU, Linear(128→K)
``cnn-vgg``        VGG-style stages of 3x3 conv-BN-ReLU, each closed by a 2x2 max-pool;
                   ``stages=((32,), (64,), (128, 128))`` by default; then Flatten
                   Linear(→256) BN ReLU Dropout(.3) Linear(256→K). The Fashion-MNIST
                   recipe of the README.
=================  ==============================================================

Every builder accepts ``init`` (``he_normal``, ``he_uniform``, ``xavier_normal``,
``xavier_uniform`` or ``default``: PyTorch's layer defaults), applied through
:func:`barenet.init.apply`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import init as _init
from .core.memory import check_forward_fits
from .core.module import Module, Residual, Sequential
from .layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)

__all__ = ["MODELS", "ACTIVATIONS", "build_model"]

ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}
_GAIN_NAME = {"relu": "relu", "leaky_relu": "leaky_relu", "sigmoid": "sigmoid", "tanh": "tanh"}


def _act(name: str) -> Module:
    key = name.strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise ValueError(f"models: unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]()


def _out_shape(layers: Sequence[Module], input_shape: tuple[int, ...], who: str):
    """Shape of one sample after ``layers`` (a zero forward in eval mode)."""
    probe = Sequential(*layers)
    probe.eval()
    check_forward_fits(probe, (1, *input_shape), probe.dtype, f"{who}: one sample of {input_shape}")
    try:
        y = probe.forward(np.zeros((1, *input_shape), dtype=probe.dtype))
    except ValueError as exc:
        raise ValueError(f"{who}: input shape {input_shape} is too small ({exc})") from None
    finally:
        probe.train()
    return y.shape[1:]


def _is_count(v) -> bool:
    """An int >= 0 (bools and floats are not)."""
    return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= 0


def _size(who: str, name: str, v) -> int:
    """A layer width or channel count from the caller: a positive int, never rounded."""
    if not _is_count(v) or v < 1:
        raise ValueError(f"{who}: {name} must be positive integers, got {v!r:.40}")
    return int(v)


def _sizes(who: str, name: str, values) -> list[int]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{who}: {name} must be a list of positive integers, got {values!r:.40}")
    return [_size(who, name, v) for v in values]


def _image_shape(who: str, input_shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{who}: expected an image input_shape (C, H, W), got {input_shape}")
    return shape  # type: ignore[return-value]


def mlp(
    input_shape,
    num_classes: int,
    hidden: Sequence[int] = (256, 128),
    widths: Sequence[int] | None = None,
    activation: str = "relu",
    dropout: float = 0.0,
    batchnorm: bool = False,
) -> Sequential:
    """Fully connected net. ``widths`` (when given) lists every layer width including
    the input and output, e.g. ``[1, 16, 32, 1]`` for the sine; it must agree with
    ``input_shape`` and ``num_classes``. Otherwise the widths are
    ``[prod(input_shape), *hidden, num_classes]``."""
    d_in = int(np.prod(input_shape))
    if widths is not None:
        widths = _sizes("mlp", "widths", widths)
        if len(widths) < 2 or widths[0] != d_in or widths[-1] != num_classes:
            raise ValueError(
                f"mlp: widths {widths} must start with the input size {d_in} and end with "
                f"the output size {num_classes}"
            )
    else:
        widths = [d_in, *_sizes("mlp", "hidden", hidden), int(num_classes)]
    layers: list[Module] = [Flatten()] if len(tuple(input_shape)) > 1 else []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(Linear(a, b))
        if i < len(widths) - 2:
            if batchnorm:
                layers.append(BatchNorm1d(b))
            layers.append(_act(activation))
            if dropout:
                layers.append(Dropout(dropout))
    return Sequential(*layers)


def _cnn(
    input_shape,
    num_classes: int,
    bn: bool,
    dropout: float,
    channels: Sequence[int] = (32, 64),
    hidden: int = 128,
    activation: str = "relu",
    who: str = "cnn-small",
) -> Sequential:
    c, _, _ = _image_shape(who, input_shape)
    channels, hidden = _sizes(who, "channels", channels), _size(who, "hidden", hidden)
    feats: list[Module] = []
    for c_out in channels:
        feats.append(Conv2d(c, int(c_out), 3, padding=1))
        if bn:
            feats.append(BatchNorm2d(int(c_out)))
        feats += [_act(activation), MaxPool2d(2)]
        if dropout:
            feats.append(Dropout(dropout))
        c = int(c_out)
    flat = int(np.prod(_out_shape(feats, input_shape, who)))
    head: list[Module] = [Flatten(), Linear(flat, hidden), _act(activation)]
    if dropout:
        head.append(Dropout(dropout))
    head.append(Linear(hidden, num_classes))
    return Sequential(*feats, *head)


def cnn_small(input_shape, num_classes: int, **kw) -> Sequential:
    return _cnn(input_shape, num_classes, bn=False, dropout=0.0, who="cnn-small", **kw)


def cnn_bn(input_shape, num_classes: int, **kw) -> Sequential:
    return _cnn(input_shape, num_classes, bn=True, dropout=0.0, who="cnn-bn", **kw)


def cnn_dropout(input_shape, num_classes: int, dropout: float = 0.25, **kw) -> Sequential:
    return _cnn(input_shape, num_classes, bn=False, dropout=dropout, who="cnn-dropout", **kw)


def cnn_dropout_bn(input_shape, num_classes: int, dropout: float = 0.25, **kw) -> Sequential:
    return _cnn(input_shape, num_classes, bn=True, dropout=dropout, who="cnn-dropout-bn", **kw)


def cnn_deep(
    input_shape,
    num_classes: int,
    channels: Sequence[int] = (16, 16, 32, 32, 64, 64),
    paddings: Sequence[int] | None = None,
    hidden: int = 50,
    dropout: float = 0.5,
    activation: str = "relu",
    convs: int = 6,
) -> Sequential:
    """The 21-layer CNN; ``paddings`` defaults to (0,0,0,0,1,1), or all 1 when the
    input is too small for that (e.g. 8x8). ``convs`` < 6 keeps only the first
    ``convs`` convolutions (the depth study), with a 2x2 max-pool after every
    second one and after the last."""
    c, h, w = _image_shape("cnn-deep", input_shape)
    channels, hidden = _sizes("cnn-deep", "channels", channels), _size("cnn-deep", "hidden", hidden)
    if len(channels) != 6:
        raise ValueError(f"cnn-deep: expected 6 conv channel counts, got {list(channels)}")
    if not _is_count(convs) or not 1 <= convs <= 6:
        raise ValueError(f"cnn-deep: convs must be an integer in 1..6, got {convs!r:.40}")
    if paddings is None:
        # The reports' layout needs ((s - 4) // 2 - 4) // 2 >= 2, i.e. s >= 20.
        paddings = (0, 0, 0, 0, 1, 1) if min(h, w) >= 20 else (1,) * 6
    elif not all(_is_count(p) for p in paddings):
        raise ValueError(f"cnn-deep: paddings must be integers >= 0, got {paddings!r:.60}")
    n = int(convs)
    feats: list[Module] = []
    for i, (c_out, p) in enumerate(zip(channels[:n], paddings[:n])):
        feats += [Conv2d(c, int(c_out), 3, padding=int(p)), _act(activation)]
        c = int(c_out)
        if i % 2 == 1 or i == n - 1:
            feats.append(MaxPool2d(2))
    flat = int(np.prod(_out_shape(feats, input_shape, "cnn-deep")))
    head = [
        Flatten(),
        Linear(flat, hidden),
        _act(activation),
        Dropout(dropout),
        Linear(hidden, num_classes),
        Dropout(dropout),
    ]
    return Sequential(*feats, *head)


def cnn_res(input_shape, num_classes: int, channels: int = 32, hidden: int = 128) -> Sequential:
    """One residual block with a projection shortcut, then a two-layer head."""
    c, _, _ = _image_shape("cnn-res", input_shape)
    channels, hidden = _size("cnn-res", "channels", channels), _size("cnn-res", "hidden", hidden)
    body = Sequential(
        Conv2d(c, channels, 3, padding=1),
        BatchNorm2d(channels),
        ReLU(),
        Conv2d(channels, channels, 3, padding=1),
        BatchNorm2d(channels),
    )
    shortcut = Sequential(Conv2d(c, channels, 1), BatchNorm2d(channels))
    feats: list[Module] = [Residual(body, shortcut), ReLU(), AvgPool2d(2)]
    flat = int(np.prod(_out_shape(feats, input_shape, "cnn-res")))
    return Sequential(*feats, Flatten(), Linear(flat, hidden), ReLU(), Linear(hidden, num_classes))


def cnn_vgg(
    input_shape,
    num_classes: int,
    stages: Sequence[Sequence[int]] = ((32,), (64,), (128, 128)),
    hidden: int = 256,
    dropout: float = 0.3,
    activation: str = "relu",
) -> Sequential:
    """Stages of ``Conv2d(3x3, padding 1)-BatchNorm2d-act``, one conv per channel count
    in the stage, each stage closed by ``MaxPool2d(2)``; a BatchNorm1d head."""
    c, _, _ = _image_shape("cnn-vgg", input_shape)
    if not stages or any(not stage for stage in stages):
        raise ValueError(f"cnn-vgg: stages must be non-empty lists of channels, got {stages}")
    feats: list[Module] = []
    for stage in stages:
        for c_out in stage:
            feats += [
                Conv2d(c, int(c_out), 3, padding=1),
                BatchNorm2d(int(c_out)),
                _act(activation),
            ]
            c = int(c_out)
        feats.append(MaxPool2d(2))
    flat = int(np.prod(_out_shape(feats, input_shape, "cnn-vgg")))
    head: list[Module] = [Flatten(), Linear(flat, hidden), BatchNorm1d(hidden), _act(activation)]
    if dropout:
        head.append(Dropout(dropout))
    head.append(Linear(hidden, num_classes))
    return Sequential(*feats, *head)


MODELS: dict[str, Callable[..., Sequential]] = {
    "mlp": mlp,
    "cnn-small": cnn_small,
    "cnn-deep": cnn_deep,
    "cnn-bn": cnn_bn,
    "cnn-dropout": cnn_dropout,
    "cnn-dropout-bn": cnn_dropout_bn,
    "cnn-res": cnn_res,
    "cnn-vgg": cnn_vgg,
}


def build_model(
    name: str, input_shape, num_classes: int, init: str = "default", **kwargs
) -> Sequential:
    """Build model ``name`` (a key of :data:`MODELS`) for one sample of ``input_shape``
    and ``num_classes`` outputs. ``kwargs`` go to the builder (e.g. ``hidden``,
    ``activation``, ``dropout``, ``channels``); ``init`` re-initialises the
    Linear/Conv2d weights (``default`` keeps PyTorch's layer defaults)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in MODELS:
        raise ValueError(f"build_model: unknown model {name!r}; choose from {', '.join(MODELS)}")
    if int(num_classes) < 1:
        raise ValueError(f"build_model({key}): num_classes must be >= 1, got {num_classes}")
    shape = tuple(int(s) for s in input_shape)
    try:
        model = MODELS[key](shape, int(num_classes), **kwargs)
    except TypeError as exc:
        raise TypeError(f"build_model({key}): bad model arguments {kwargs}: {exc}") from None
    if init and init != "default":
        act = str(kwargs.get("activation", "relu")).lower().replace("-", "_")
        _init.apply(model, init, nonlinearity=_GAIN_NAME.get(act, "relu"))
    return model
