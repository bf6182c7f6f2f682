"""Architectures only the studies need, added to :data:`barenet.models.MODELS` on import.

``cnn-depth``: the 21-layer CNN of ``cnn-deep`` with only its first ``convs``
(4, 5 or 6) convolutions, for the depth study; with 6 it is ``cnn-deep``'s layout.
"""

from __future__ import annotations

import numpy as np

from ..core.module import Module, Sequential
from ..layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d
from ..models import ACTIVATIONS, MODELS

__all__ = ["cnn_depth"]

_CHANNELS = (16, 16, 32, 32, 64, 64)
_PADDINGS = (0, 0, 0, 0, 1, 1)


def cnn_depth(
    input_shape,
    num_classes: int,
    convs: int = 6,
    hidden: int = 50,
    dropout: float = 0.5,
    activation: str = "relu",
) -> Sequential:
    """``convs`` 3x3 conv+activation layers (16,16 | 32,32 | 64,64 channels), a 2x2
    max-pool after every second conv and after the last; then Flatten, Linear(→hidden),
    activation, Dropout, Linear(hidden→K), Dropout. ``input_shape``: ``(C, H, W)``."""
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"cnn-depth: expected an image shape (C, H, W), got {input_shape}")
    if not 1 <= int(convs) <= 6:
        raise ValueError(f"cnn-depth: convs must be in 1..6, got {convs}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"cnn-depth: unknown activation {activation!r}")
    c, h, w = (int(s) for s in input_shape)
    pads = _PADDINGS if min(h, w) >= 20 else (1,) * 6
    feats: list[Module] = []
    for i in range(int(convs)):
        feats += [Conv2d(c, _CHANNELS[i], 3, padding=pads[i]), ACTIVATIONS[activation]()]
        c = _CHANNELS[i]
        if i % 2 == 1 or i == int(convs) - 1:
            feats.append(MaxPool2d(2))
    body = Sequential(*feats)
    flat = int(np.prod(body.eval()(np.zeros((1, *input_shape), np.float32)).shape[1:]))
    body.train()
    return Sequential(
        *feats,
        Flatten(),
        Linear(flat, int(hidden)),
        ACTIVATIONS[activation](),
        Dropout(dropout),
        Linear(int(hidden), int(num_classes)),
        Dropout(dropout),
    )


MODELS.setdefault("cnn-depth", cnn_depth)
