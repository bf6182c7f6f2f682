# barenet exercise: leaky-relu
"""Exercise: LeakyReLU, forward and backward.

    y = x where x > 0, else a·x        dx = dy where x > 0, else a·dy     (a = slope)

The slope may exceed 1. The backward must not write into the dy it is handed.

Fill in the two functions below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.leaky_relu_forward/_backward.
"""

import numpy as np


def leaky_relu_forward(x, slope):
    """x (any shape), slope a -> (y, cache)."""
    raise NotImplementedError("leaky_relu_forward: y = x if x > 0 else slope · x")


def leaky_relu_backward(dy, cache):
    """dy (the shape of x) and the forward's cache -> dx."""
    raise NotImplementedError("leaky_relu_backward: dx = dy if x > 0 else slope · dy")
