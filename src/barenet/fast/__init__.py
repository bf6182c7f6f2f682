"""Fast kernels: what exists only for speed, one package per array module.

``cpu`` holds the kernels for NumPy arrays (threads, column layouts, pairwise
pooling, small-GEMM pieces). A package for CuPy arrays would sit beside it and
register its kernels for the "cupy" array module (see ``barenet.core.dispatch``);
families it leaves out run their reference kernels. Every fast kernel computes what
its reference kernel computes (the tests check it family by family).
"""

from . import cpu

__all__ = ["cpu"]
