# barenet exercise: linear
"""Exercise: the fully connected layer, forward and backward.

    y = x Wᵀ + b        x: (N, in) or (..., in),  W: (out, in),  b: (out,) or None

Backward, from dy = dL/dy (same shape as y):

    dx = dy W,    dW = dyᵀ x,    db = Σₙ dy     (sums over every leading axis of dy)

Fill in the two functions below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.linear_forward/_backward.
"""

import numpy as np


def linear_forward(x, w, b):
    """x (..., in), w (out, in), b (out,) or None -> (y (..., out), cache).

    The cache holds what linear_backward needs (x and w, and whether there is a bias)."""
    raise NotImplementedError("linear_forward: compute y = x Wᵀ + b")


def linear_backward(dy, cache):
    """dy (..., out) and the cache of linear_forward -> (dx (..., in), dW (out, in), db (out,)).

    db is None when the forward had no bias. Leading axes beyond the first (a batch of
    sequences: x (N, T, in)) are summed over like the batch axis: reshape to 2-D first."""
    raise NotImplementedError("linear_backward: dx = dy W, dW = dyᵀ x, db = Σ dy")
