"""The PyTorch twin of a checked layer: the same computation in ``torch.nn``, with the
layer's state dict copied across, run by autograd on the same input and the same dy.

A twin is named (``"torch.nn.Conv2d"``, built with the layer's constructor arguments:
``--args`` on the command line, else ``layer.config()``), handed over as a built
``torch.nn.Module``, or known: barenet's own layer types and their subclasses have one in
``barenet.testing.TORCH_TWINS``. PyTorch is imported only here, and only when a twin is
asked for or known.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util

import numpy as np

from ..core.module import Module
from ..testing import TORCH_TWINS, torch_twin
from .targets import DoctorInputError

__all__ = ["build_twin", "draws_random", "run_twin", "torch_available"]


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def _has_known(layer) -> bool:
    if not isinstance(layer, Module):
        return False
    types = [type(m) for m in layer.modules()] if layer._module_names else [type(layer)]
    return all(any(c in TORCH_TWINS for c in t.__mro__) for t in types)


def _known(layer):
    """torch.nn module for a barenet layer type (or a subclass of one), else None."""

    if not isinstance(layer, Module):
        return None
    if layer._module_names:
        try:
            return torch_twin(layer)
        except LookupError:
            return None
    for cls in type(layer).__mro__:
        make = TORCH_TWINS.get(cls)
        if make is not None:
            # A subclass (a user's own backward) has the twin of the barenet layer it extends.
            proxy = copy.copy(layer)
            proxy.__class__ = cls
            return make(proxy, None)
    return None


def _named(name: str, layer, args: dict | None):
    if not name.startswith("torch."):
        raise DoctorInputError(f"--twin {name}: expected a torch.nn class such as torch.nn.Conv2d")
    module_name, _, attr = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        raise DoctorInputError(f"--twin {name}: no such class in PyTorch") from None
    kwargs = args if args is not None else getattr(layer, "config", dict)()
    try:
        return cls(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the user's arguments did not fit the class
        raise DoctorInputError(f"--twin {name}: cannot build it from {kwargs}: {exc}") from None


def build_twin(twin, layer, args: dict | None = None):
    """(torch module with the layer's state, its name) for ``twin``: None (the known twin,
    when PyTorch is installed), False (none), a class name or a torch.nn.Module; (None,
    "") when there is none."""
    if twin is False or (twin is None and not torch_available()):
        return None, ""
    if twin is not None and not torch_available():
        raise DoctorInputError("a PyTorch twin needs PyTorch (pip install barenet[oracle])")
    if twin is None and not _has_known(layer):
        return None, ""  # without importing torch
    import torch  # optional engine: torch

    if twin is None:
        module = _known(layer)
        if module is None:
            return None, ""
    elif isinstance(twin, str):
        module = _named(twin, layer, args)
    elif isinstance(twin, torch.nn.Module):
        module = twin
    else:
        raise DoctorInputError(
            f"twin: expected a torch.nn class name or module, got {type(twin).__name__}"
        )
    name = (
        f"torch.nn.{type(module).__name__}"
        if isinstance(twin, torch.nn.Module) or (twin is None)
        else twin
    )
    module = module.to(torch.float64)
    state = layer.state_dict() if hasattr(layer, "state_dict") else {}
    ours = {
        k: torch.from_numpy(
            np.array(
                v, dtype=np.float64 if np.asarray(v).dtype.kind == "f" else np.asarray(v).dtype
            )
        )
        for k, v in state.items()
    }
    theirs = module.state_dict()
    if set(ours) != set(theirs):
        raise DoctorInputError(
            f"twin {name}: its state dict holds {', '.join(theirs) or 'nothing'}; "
            f"the layer's holds {', '.join(ours) or 'nothing'}"
        )
    bad = [f"{k} {tuple(ours[k].shape)} vs {tuple(theirs[k].shape)}" for k in ours
           if tuple(ours[k].shape) != tuple(theirs[k].shape)]  # fmt: skip
    if bad:
        raise DoctorInputError(f"twin {name}: shapes differ: {'; '.join(bad)}")
    module.load_state_dict(ours, strict=True)
    module.train(bool(getattr(layer, "training", True)))
    return module, name


def draws_random(module) -> bool:
    """Whether the twin draws random numbers in its forward (a dropout in train mode with
    p > 0): its generator is not barenet's, so its output cannot be compared."""
    import torch  # optional engine: torch

    return any(
        isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.training and m.p > 0
        for m in module.modules()
    )


def run_twin(module, x: np.ndarray, r, param_names: list[str]):
    """(output, {tensor name: gradient}) of the twin for input x and dy = r."""
    import torch  # optional engine: torch

    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = module(xt)
    y = yt.detach().numpy().copy()
    if y.shape != np.shape(r):
        return y, {}
    yt.backward(torch.from_numpy(np.asarray(r, dtype=np.float64)))
    grads = {"input": None if xt.grad is None else xt.grad.numpy().copy()}
    theirs = dict(module.named_parameters())
    for name in param_names:
        p = theirs.get(name)
        grads[name] = None if p is None or p.grad is None else p.grad.numpy().copy()
    return y, grads
