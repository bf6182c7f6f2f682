"""ReLU on a GPU: the output and the mask the backward needs, in one pass over x.

y = max(x, 0), mask = [x > 0];  dx = dy · mask  (as ``reference.activation``; a NaN
input gives NaN, as ``maximum`` does).
"""

from __future__ import annotations

import functools
import sys


@functools.cache
def _kernels():
    cupy = sys.modules["cupy"]
    return (
        cupy.ElementwiseKernel(
            "T x",
            "T y, bool mask",
            "mask = x > 0; y = (mask || isnan(x)) ? x : (T)0;",
            "barenet_relu_fwd",
        ),
        cupy.ElementwiseKernel(
            "T x", "T y", "y = (x > 0 || isnan(x)) ? x : (T)0;", "barenet_relu_eval"
        ),
        cupy.ElementwiseKernel("T dy, bool mask", "T dx", "dx = dy * (T)mask;", "barenet_relu_bwd"),
    )


def relu_forward(x):
    """y = max(x, 0) and the mask [x > 0], one kernel."""
    return _kernels()[0](x)


def relu_forward_eval(x):
    """y = max(x, 0) without the mask; the cache is x (a backward in eval mode, rare,
    takes the mask from it)."""
    return _kernels()[1](x), x


def relu_backward(dy, mask):
    """dx = dy · [x > 0] (``mask`` is the mask, or x after an eval-mode forward)."""
    if mask.dtype.kind != "b":
        mask = mask > 0
    return _kernels()[2](dy, mask)
