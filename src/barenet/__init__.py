"""barenet: deep learning in plain NumPy, every layer with its own hand-derived backward.

import barenet as bn
model = bn.Sequential(bn.Linear(784, 128), bn.ReLU(), bn.Linear(128, 10))
loss_fn = bn.SoftmaxCrossEntropy()
loss = loss_fn(model(x), y)
model.backward(loss_fn.backward())
"""

from . import runtime

runtime.at_import()  # process-wide settings, each with its opt-out: see barenet/runtime.py

from . import data, init, optim, sequence
from ._version import __version__ as __version__
from .core.config import get_default_dtype, get_rng, seed, set_default_dtype
from .core.dispatch import kernels
from .core.module import Module, Parameter, Residual, Sequential, build
from .doctor import check_layer, trace
from .ensemble import Ensemble
from .export import ExportError, export_onnx
from .gradcheck import GradcheckResult, gradcheck
from .io import ModelFileError, load, save
from .layers import (
    GRU,
    LSTM,
    RNN,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
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
from .losses import Loss, MSELoss, SoftmaxCrossEntropy

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Ensemble",
    "ExportError",
    "Flatten",
    "GRU",
    "GlobalAvgPool2d",
    "GradcheckResult",
    "LSTM",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModelFileError",
    "Parameter",
    "RNN",
    "ReLU",
    "Residual",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Tanh",
    "build",
    "check_layer",
    "data",
    "export_onnx",
    "get_default_dtype",
    "get_rng",
    "gradcheck",
    "init",
    "kernels",
    "load",
    "optim",
    "save",
    "seed",
    "sequence",
    "set_default_dtype",
    "trace",
]
