"""Test helpers: relative errors, and one forward and backward through a barenet module
and its PyTorch twin (``barenet.testing.torch_twin``: same architecture, same state dict).
"""

from __future__ import annotations

import numpy as np

import barenet as bn

TINY = 1e-30
TOL = {np.float64: 1e-9, np.float32: 1e-4}


def rel_err(a, b) -> float:
    """max|a - b| / max(max|b|, tiny): the worst error relative to the reference's scale."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    if a.size == 0:
        return 0.0
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), TINY))


def tol(dtype) -> float:
    return TOL[np.dtype(dtype).type]


def run_both(module: bn.Module, twin, x: np.ndarray, dy: np.ndarray | None = None):
    """Forward and backward through both; returns dict of (barenet, torch) pairs.

    Keys: "y", "dx", and one per named parameter ("grad:<name>").
    """
    import torch

    module.zero_grad()
    twin.zero_grad(set_to_none=True)
    y = module(x)
    if dy is None:
        dy = np.random.default_rng(123).standard_normal(y.shape).astype(y.dtype)
    dx = module.backward(dy)
    xt = torch.from_numpy(np.array(x)).requires_grad_(True)
    yt = twin(xt)
    yt.backward(torch.from_numpy(np.array(dy)))
    out = {"y": (y, yt.detach().numpy()), "dx": (dx, xt.grad.numpy())}
    tgrads = dict(twin.named_parameters())
    for name, p in module.named_parameters():
        out["grad:" + name] = (p.grad, tgrads[name].grad.numpy())
    return out


def worst(pairs: dict) -> tuple[str, float]:
    """The key and value of the largest relative error among (ours, reference) pairs."""
    errs = {k: rel_err(a, b) for k, (a, b) in pairs.items()}
    k = max(errs, key=errs.get)
    return k, errs[k]
