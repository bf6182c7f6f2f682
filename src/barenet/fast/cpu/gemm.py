"""Matrix products cut into pieces that OpenBLAS's small-matrix kernels take.

OpenBLAS multiplies a product with M·N·K below about ``settings.small_gemm_mnk``
through kernels that skip packing the operands. Two kinds of product in a
convolution run faster cut into such pieces (``python benchmarks/kernels.py gemm``
measures both against the plain call):

- a tiny M x N output with a long K (weight gradients of layers with few channels,
  K = every pixel of a run of images): the packed path runs it several times slower,
  so K is cut into equal pieces whose products are summed in order;
- a narrow product (one side at most ``NARROW`` wide) with a very short K (the pixel
  path's column gradients, K = 32 or 64): cut along its long side, each piece skips
  packing the wide operand. With a longer K, two threads reading the unpacked operand
  contend for memory and the packed path wins.

Every piece is the same whatever the thread count, so results are bit-identical.
"""

from __future__ import annotations

import numpy as np

from .tuning import settings

MAX_TINY_OUTPUT = 1024  # only outputs this small lose on the packed path with a long K
NARROW = 32  # a product this narrow on one side ...
PIECES_MAX_K = 64  # ... with at most this K is cut along its long side


def matmul_k_chunks(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b for a (..., M, K) (a stack of matrices, or one) and b (K, N); a tiny
    M x N with a long K is computed as equal pieces of K, each within the small-matrix
    kernels' range, summed in order."""
    m, k = a.shape[-2:]
    n = b.shape[1]
    pieces = 1
    if m * n <= MAX_TINY_OUTPUT:
        pieces = -(-m * n * k // settings.small_gemm_mnk)
    if pieces <= 1:
        return np.matmul(a, b, out=out)
    step = -(-k // pieces)
    np.matmul(a[..., :step], b[:step], out=out)
    for k0 in range(step, k, step):
        out += np.matmul(a[..., k0 : k0 + step], b[k0 : k0 + step])
    return out


def matmul_pieces(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b for a (M, K) and b (K, N) or a stack (B, K, N); a narrow product with
    a short K is computed as pieces of its long side (M or N), each within OpenBLAS's
    small-matrix range."""
    m, k = a.shape
    n = b.shape[-1]
    pieces = -(-m * k * n // settings.small_gemm_mnk)
    if pieces <= 1 or min(m, n) > NARROW or k > PIECES_MAX_K:
        return np.matmul(a, b, out=out)
    if m >= n:
        step = -(-m // pieces)
        for i in range(0, m, step):
            np.matmul(a[i : i + step], b, out=out[..., i : i + step, :])
    else:
        step = -(-n // pieces)
        for j in range(0, n, step):
            np.matmul(a, b[..., j : j + step], out=out[..., j : j + step])
    return out
