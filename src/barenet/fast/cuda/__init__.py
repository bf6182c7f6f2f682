"""The fast kernels for CuPy arrays on a GPU.

Chainer's way: what NumPy does in several passes over memory, one CUDA thread per
output element does in one. ``conv.py``: im2col and col2im as element-wise kernels
that read the padding as zeros instead of building a padded copy, the products on
cuBLAS (``@``), and the bias added while the product is laid out as (N, O, OH, OW);
``pool.py``: max-pooling that keeps each window's winner and a backward that routes
dy through it; ``activation.py``: ReLU's output and mask in one pass. Every other family
runs its reference kernels through CuPy, which has every operation they use.

``install()`` registers the sets for the "cupy" array module. It runs when a layer
first meets a CuPy array (``barenet.core.dispatch`` calls it then), never at
``import barenet``, and does nothing where CuPy cannot compile kernels.
"""

from __future__ import annotations

import sys

from ...core.dispatch import Kernels, register
from . import activation, conv, pool

KERNELS = {
    "conv2d": Kernels(forward=conv.conv2d_forward, backward=conv.conv2d_backward),
    "maxpool2d": Kernels(forward=pool.maxpool2d_forward, backward=pool.maxpool2d_backward),
    "relu": Kernels(
        forward=activation.relu_forward,
        forward_eval=activation.relu_forward_eval,
        backward=activation.relu_backward,
    ),
}


def install() -> bool:
    """Register the GPU kernels when the loaded CuPy can build them; whether it did."""
    cupy = sys.modules.get("cupy")
    if cupy is None or not hasattr(cupy, "ElementwiseKernel"):
        return False
    for family, kernels in KERNELS.items():
        register(family, "fast", "cupy", kernels)
    return True


__all__ = ["KERNELS", "install"]
