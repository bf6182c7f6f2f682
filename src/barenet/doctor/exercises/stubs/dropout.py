# barenet exercise: dropout
"""Exercise: inverted dropout, forward and backward (training mode).

Each element is kept with probability 1 - p and scaled by 1 / (1 - p), so that the
expected output equals x and evaluation needs no rescaling:

    m ~ Bernoulli(1 - p) per element,   y = x · m / (1 - p),   dx = dy · m / (1 - p).

Draw the mask from the generator you are handed (rng.random(x.shape) >= p), never from
np.random's global state: the check replays the generator to see the same mask twice.

Fill in the two functions below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.dropout_forward/_backward.
"""

import numpy as np


def dropout_forward(x, p, rng):
    """x (any shape), p in [0, 1), rng a numpy.random.Generator -> (y, cache)."""
    raise NotImplementedError("dropout_forward: y = x · m / (1 - p)")


def dropout_backward(dy, cache):
    """dy (the shape of x) and the forward's cache -> dx = dy · m / (1 - p)."""
    raise NotImplementedError("dropout_backward: dx = dy · m / (1 - p)")
