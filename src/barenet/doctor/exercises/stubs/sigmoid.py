# barenet exercise: sigmoid
"""Exercise: the logistic sigmoid, forward and backward.

    y = σ(x) = 1 / (1 + e⁻ˣ)           dx = dy · y (1 - y)

Keep y in the cache: the derivative needs only y. For large |x| make sure nothing
overflows (e⁻ˣ for x = -30 is fine; for x = -1000 it is not): σ(x) = (1 + tanh(x/2)) / 2
never overflows.

Fill in the two functions below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.sigmoid_forward/_backward.
"""

import numpy as np


def sigmoid_forward(x):
    """x (any shape) -> (y, cache) with y = 1 / (1 + e⁻ˣ)."""
    raise NotImplementedError("sigmoid_forward: y = 1 / (1 + exp(-x))")


def sigmoid_backward(dy, cache):
    """dy (the shape of x) and the forward's cache -> dx = dy · y (1 - y)."""
    raise NotImplementedError("sigmoid_backward: dx = dy · y (1 - y)")
