"""Fast kernels: what exists only for speed, one package per array module.

``cpu`` holds the kernels for NumPy arrays (threads, column layouts, pairwise
pooling, small-GEMM pieces). ``cuda`` holds those for CuPy arrays (element-wise CUDA
kernels); it is imported, and registers them for the "cupy" array module, only when a
layer first meets a CuPy array (see ``barenet.core.dispatch.add_loader``). Families a
package leaves out run their reference kernels. Every fast kernel computes what
its reference kernel computes (the tests check it family by family).
"""

from ..core.dispatch import add_loader
from . import cpu

add_loader("cupy", "barenet.fast.cuda")

__all__ = ["cpu"]
