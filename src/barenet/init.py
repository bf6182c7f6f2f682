"""Weight initialisation: He (Kaiming) and Xavier (Glorot), normal and uniform.

Same formulas as ``torch.nn.init``; fan_in = in_ch * kh * kw, fan_out = out_ch * kh * kw.

- Xavier uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))
- Xavier normal:  N(0, σ²),  σ = gain * sqrt(2 / (fan_in + fan_out))
- He uniform:     U(-b, b), b = gain * sqrt(3 / fan)
- He normal:      N(0, σ²),  σ = gain / sqrt(fan)

Every function fills a Parameter (or array) in place, draws from ``rng`` or from
barenet's global generator (see ``barenet.seed``), and returns it.
"""

from __future__ import annotations

import math

import numpy as np

from .core.config import get_rng
from .core.device import device_of, to_device
from .core.module import Module, Parameter

_GAINS = {"linear": 1.0, "conv2d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0)}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity (torch.nn.init.calculate_gain)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")
    return _GAINS[nonlinearity]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"init: fan in/out needs a weight with at least 2 axes, got {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(t, sample) -> Parameter | np.ndarray:
    arr = t.data if isinstance(t, Parameter) else t
    values = sample(arr.shape).astype(arr.dtype, copy=False)  # drawn on the CPU
    arr[...] = values if type(arr) is np.ndarray else to_device(values, device_of(arr))
    return t


def _shape(t) -> tuple[int, ...]:
    return (t.data if isinstance(t, Parameter) else t).shape


def uniform(t, low: float, high: float, rng: np.random.Generator | None = None):
    r"""Fill ``t`` (a Parameter or array, any shape) with draws of $U(\text{low}, \text{high})$."""
    rng = rng or get_rng()
    return _fill(t, lambda s: rng.uniform(low, high, size=s))


def normal(t, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None):
    r"""Fill ``t`` (a Parameter or array, any shape) with draws of
    $\mathcal{N}(\text{mean}, \text{std}^2)$."""
    rng = rng or get_rng()
    return _fill(t, lambda s: rng.normal(mean, std, size=s))


def zeros(t):
    """Fill ``t`` (a Parameter or array) with 0."""
    return _fill(t, lambda s: np.zeros(s))


def ones(t):
    """Fill ``t`` (a Parameter or array) with 1."""
    return _fill(t, lambda s: np.ones(s))


def xavier_uniform(t, gain: float = 1.0, rng=None):
    r"""Glorot uniform (``glorot_uniform``): $U(-b, b)$ with
    $b = \text{gain} \sqrt{6 / (\text{fan}_\text{in} + \text{fan}_\text{out})}$, for a
    weight (out, in) or (out, in, kh, kw)."""
    fan_in, fan_out = fans(_shape(t))
    b = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(t, -b, b, rng)


def xavier_normal(t, gain: float = 1.0, rng=None):
    r"""Glorot normal (``glorot_normal``): $\mathcal{N}(0, \sigma^2)$ with
    $\sigma = \text{gain} \sqrt{2 / (\text{fan}_\text{in} + \text{fan}_\text{out})}$, for
    a weight (out, in) or (out, in, kh, kw)."""
    fan_in, fan_out = fans(_shape(t))
    return normal(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def _he_std(shape, a, mode, nonlinearity) -> float:
    fan_in, fan_out = fans(shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def he_uniform(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu", rng=None):
    r"""Kaiming uniform (``kaiming_uniform``): $U(-b, b)$ with
    $b = \text{gain} \sqrt{3 / \text{fan}}$, where fan is $\text{fan}_\text{in}$ or
    $\text{fan}_\text{out}$ (``mode``) and gain is ``calculate_gain(nonlinearity, a)``:
    $\sqrt{2}$ for ReLU, so $\operatorname{Var} W = 2 / \text{fan}_\text{in}$."""
    b = math.sqrt(3.0) * _he_std(_shape(t), a, mode, nonlinearity)
    return uniform(t, -b, b, rng)


def he_normal(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu", rng=None):
    r"""Kaiming normal (``kaiming_normal``): $\mathcal{N}(0, \sigma^2)$ with
    $\sigma = \text{gain} / \sqrt{\text{fan}}$, fan and gain as in ``he_uniform``: for
    ReLU, $\operatorname{Var} W = 2 / \text{fan}_\text{in}$, which keeps the variance of
    the signal the same from layer to layer through ReLUs."""
    return normal(t, 0.0, _he_std(_shape(t), a, mode, nonlinearity), rng)


# PyTorch's names, for users who carry them in their heads.
kaiming_uniform = he_uniform
kaiming_normal = he_normal
glorot_uniform = xavier_uniform
glorot_normal = xavier_normal

SCHEMES = {
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
}


def apply(model: Module, scheme: str = "he_normal", nonlinearity: str = "relu", rng=None):
    """Re-initialise the weight of every layer that names one (``Module.init_weight``:
    Linear, Conv2d) with ``scheme``, and set its bias to 0.

    ``scheme`` is one of ``he_normal``, ``he_uniform``, ``xavier_normal``,
    ``xavier_uniform``. Returns the model.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"init.apply: unknown scheme {scheme!r}; choose from {sorted(SCHEMES)}")
    fn = SCHEMES[scheme]
    for m in model.modules():
        w = m.__dict__.get(m.init_weight) if m.init_weight else None
        if isinstance(w, Parameter):
            if scheme.startswith("he"):
                fn(w, nonlinearity=nonlinearity, rng=rng)
            else:  # Glorot's own setting: gain 1, whatever the activation
                fn(w, rng=rng)
            b = m.__dict__.get("bias")
            if isinstance(b, Parameter):
                zeros(b)
    return model
