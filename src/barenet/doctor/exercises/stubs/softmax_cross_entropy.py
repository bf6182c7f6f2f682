# barenet exercise: softmax-cross-entropy
"""Exercise: softmax and cross-entropy fused, the loss of a classifier.

For logits z (N, K) and integer labels t (N,) in [0, K):

    p = softmax(z) = exp(z - max z) / Σₖ exp(z - max z)      (row by row)
    L = (1/N) Σₙ -log p[n, tₙ]
    dL/dz = (p - onehot(t)) / N

Subtract each row's maximum before exp: logits of several hundred overflow otherwise
(the check feeds you some), and log p = (z - max z) - log Σ exp(z - max z) stays exact.

Fill in the function below, then run:  barenet exercise check THIS_FILE
The worked solution, to read afterwards: barenet.reference.softmax_cross_entropy.
"""

import numpy as np


def softmax_cross_entropy(z, target):
    """z (N, K) logits, target (N,) int labels -> (L, dL/dz (N, K), p (N, K)).

    L is the mean over the batch, a number (a float or a 0-d array)."""
    raise NotImplementedError("softmax_cross_entropy: return the loss, its gradient and p")
