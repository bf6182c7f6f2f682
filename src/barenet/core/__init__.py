"""The engine: Module, Parameter, the containers, global settings, input checks, the
choice of kernels (dispatch) and the hooks tools put around layers."""

from .config import get_default_dtype, get_rng, seed, set_default_dtype
from .module import Module, Parameter, Residual, Sequential, build, register

__all__ = [
    "Module",
    "Parameter",
    "Residual",
    "Sequential",
    "build",
    "get_default_dtype",
    "get_rng",
    "register",
    "seed",
    "set_default_dtype",
]
