"""Which array module an array belongs to: NumPy, or CuPy for arrays on a GPU.

``array_module(*arrays)`` returns the module whose functions fit the arrays (as
Chainer's ``get_array_module`` does), so that one function body runs on either.
CuPy is never imported here: an array whose type comes from CuPy means CuPy is
loaded already.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np


def array_module(*arrays) -> ModuleType:
    """``cupy`` when one of ``arrays`` is a CuPy array, else ``numpy``."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            return sys.modules["cupy"]
    return np


def backend_name(a) -> str:
    """The name of ``a``'s array module: ``"numpy"`` (anything that is not CuPy's) or
    ``"cupy"``."""
    return "cupy" if type(a).__module__.startswith("cupy") else "numpy"
