"""The layers: validation, parameters, the choice of kernels and gradient accumulation.

Each file holds one family; the math runs in the kernels the layer picks through
``core.dispatch``: ``barenet.reference`` (the textbook functions) or ``barenet.fast``.
"""

from .. import fast, reference  # noqa: F401 - each registers its kernels with core.dispatch
from .activation import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Flatten, Linear
from .norm import BatchNorm1d, BatchNorm2d
from .pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .recurrent import GRU, LSTM, RNN

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRU",
    "GlobalAvgPool2d",
    "LSTM",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "RNN",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
