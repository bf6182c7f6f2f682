"""The layers: validation, parameters, the choice of kernels and gradient accumulation.

Each file holds one family; the math runs in the kernels the layer picks through
``core.dispatch``: ``barenet.reference`` (the textbook functions) or ``barenet.fast``.
"""

from .. import fast, reference  # noqa: F401 - each registers its kernels with core.dispatch
from .activation import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import Conv2d
from .dropout import Dropout
from .linear import Flatten, Linear
from .norm import BatchNorm1d, BatchNorm2d
from .pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2d",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
