"""The fast kernels for NumPy arrays on the CPU.

What each family does differently from the reference, and why, is in its module's
docstring (conv.py, pool.py, activation.py, linear.py, norm.py, recurrent.py); the helpers
they share are the thread pool (parallel.py), the column layouts (columns.py), small-GEMM pieces
(gemm.py) and memory orders (layout.py). ``tuned(...)`` forces any path they choose by
shape (tuning.py). Families without a fast set here (dropout, sigmoid, tanh, softmax,
global average pooling, the loss) run their reference kernels in both modes.
"""

from __future__ import annotations

from ...core.dispatch import Kernels, register
from . import activation, conv, linear, norm, pool, recurrent
from .tuning import Tuning, settings, tuned

KERNELS = {
    "conv2d": Kernels(forward=conv.conv2d_forward, backward=conv.conv2d_backward),
    "linear": Kernels(forward=linear.linear_forward, backward=linear.linear_backward),
    "maxpool2d": Kernels(forward=pool.maxpool2d_forward, backward=pool.maxpool2d_backward),
    "avgpool2d": Kernels(forward=pool.avgpool2d_forward, backward=pool.avgpool2d_backward),
    "relu": Kernels(
        forward=activation.relu_forward,
        forward_eval=activation.relu_forward_eval,
        backward=activation.relu_backward,
    ),
    "leaky_relu": Kernels(
        forward=activation.leaky_relu_forward,
        forward_eval=activation.leaky_relu_forward_eval,
        backward=activation.leaky_relu_backward,
    ),
    "batchnorm": Kernels(
        forward=norm.batchnorm_forward_train,
        forward_eval=norm.batchnorm_forward_eval,
        backward=norm.batchnorm_backward,
    ),
    "rnn": Kernels(forward=recurrent.rnn_forward, backward=recurrent.rnn_backward),
    "lstm": Kernels(forward=recurrent.lstm_forward, backward=recurrent.lstm_backward),
    "gru": Kernels(forward=recurrent.gru_forward, backward=recurrent.gru_backward),
}

for _family, _kernels in KERNELS.items():
    register(_family, "fast", "numpy", _kernels)

__all__ = ["KERNELS", "Tuning", "settings", "tuned"]
