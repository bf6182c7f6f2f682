"""Test helpers: relative errors, and a PyTorch twin for any barenet module.

``torch_twin(module)`` builds the torch.nn equivalent of a barenet module tree
from its spec and copies the state dict across, so parity tests compare the
same weights on both sides.
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


def torch_twin(module: bn.Module, torch_dtype=None):
    """The torch.nn module with the same architecture and the same state dict."""
    import torch

    twin = _twin(module)
    dt = torch_dtype or (torch.float64 if module.dtype == np.float64 else torch.float32)
    twin = twin.to(dt)
    sd = {k: torch.from_numpy(np.array(v)) for k, v in module.state_dict().items()}
    twin.load_state_dict(sd, strict=True)
    twin.train(module.training)
    return twin


def _twin(m: bn.Module):
    from torch import nn

    name = type(m).__name__
    if name == "Sequential":
        return nn.Sequential(*[_twin(c) for c in m.children()])
    if name == "Residual":

        class TorchResidual(nn.Module):
            def __init__(self, body, shortcut):
                super().__init__()
                self.body = body
                self.shortcut = shortcut

            def forward(self, x):
                s = x if self.shortcut is None else self.shortcut(x)
                return self.body(x) + s

        return TorchResidual(_twin(m.body), None if m.shortcut is None else _twin(m.shortcut))
    if name == "Linear":
        return nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if name == "Conv2d":
        pad = m.padding if isinstance(m.padding, str) else tuple(m.padding)
        return nn.Conv2d(
            m.in_channels,
            m.out_channels,
            tuple(m.kernel_size),
            stride=tuple(m.stride),
            padding=pad,
            bias=m.bias is not None,
        )
    if name == "MaxPool2d":
        return nn.MaxPool2d(tuple(m.kernel_size), tuple(m.stride))
    if name == "AvgPool2d":
        return nn.AvgPool2d(tuple(m.kernel_size), tuple(m.stride))
    if name == "GlobalAvgPool2d":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if name in ("BatchNorm1d", "BatchNorm2d"):
        cls = getattr(nn, name)
        return cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.weight is not None)
    if name == "LeakyReLU":
        return nn.LeakyReLU(m.negative_slope)
    if name == "Softmax":
        return nn.Softmax(dim=m.axis)
    if name == "Dropout":
        return nn.Dropout(m.p)
    if name in ("Flatten", "ReLU", "Sigmoid", "Tanh"):
        return getattr(nn, name)()
    raise AssertionError(f"no torch twin for {name}")


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
