# barenet exercise: relu
"""Exercise: ReLU, forward and backward.

    y = max(x, 0)            dx = dy · [x > 0]

x and dy may have any shape. The backward must not write into the dy it is handed (a
residual block passes the same dy to two branches): compute a new array.

Fill in the two functions below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.relu_forward/_backward.
"""

import numpy as np


def relu_forward(x):
    """x (any shape) -> (y, cache): y = max(x, 0); the cache is what the backward needs."""
    raise NotImplementedError("relu_forward: y = max(x, 0)")


def relu_backward(dy, cache):
    """dy (the shape of x) and relu_forward's cache -> dx = dy · [x > 0]."""
    raise NotImplementedError("relu_backward: dx = dy where x > 0, else 0")
