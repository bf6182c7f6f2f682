"""Optimizers with the update rules and defaults of ``torch.optim``.

One base class owns the parameter groups, ``zero_grad`` and the state dict; each
optimizer only writes its update in ``_update(p, g, state, group)``.

Every optimizer takes ``clip_norm=``: before each update the gradients of all its
parameters are scaled together so that their global L2 norm is at most ``clip_norm``
(:func:`clip_grad_norm`, PyTorch's ``clip_grad_norm_``); ``last_grad_norm`` keeps the
norm measured before that step's clipping.

State (momentum, moment estimates) lives where its parameter lives: it is created with
the parameter's array module, follows the parameter when the model moves between CPU and
GPU (checked at each step), and ``state_dict()`` gives it as NumPy arrays, as a model's
state dict does.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .core.backend import array_module
from .core.device import as_numpy, device_of, to_device
from .core.module import Parameter


def clip_grad_norm(params, max_norm: float):
    """Scale the gradients of ``params`` in place so that their global L2 norm
    ‖g‖ = √(Σ ‖gᵢ‖²) is at most ``max_norm``: g ← g · min(1, max_norm / (‖g‖ + 1e-6)),
    PyTorch's ``clip_grad_norm_``. Returns ‖g‖ before clipping, a float (on a GPU, a 0-d
    array on the device: no wait for it)."""
    grads = [p.grad for p in params]
    if not grads:
        return 0.0
    xp = array_module(*grads)
    total = xp.sqrt(sum((g.astype(xp.float64) ** 2).sum() for g in grads))
    if xp is np:
        total = float(total)
        coef = max_norm / (total + 1e-6)
        if coef < 1.0:
            for g in grads:
                g *= g.dtype.type(coef)
        return total
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)  # no host round trip on a GPU
    for g in grads:
        g *= coef.astype(g.dtype)
    return total


def _check_clip(who: str, clip_norm) -> float | None:
    if clip_norm is None:
        return None
    if (
        isinstance(clip_norm, bool)
        or not isinstance(clip_norm, (int, float))
        or not (math.isfinite(clip_norm) and clip_norm > 0)
    ):
        raise ValueError(f"{who}: clip_norm must be a positive number or None, got {clip_norm!r}")
    return float(clip_norm)


class Optimizer:
    """Base of the optimizers: parameter groups, ``zero_grad``, ``step`` and the state
    dict.

    ``params`` is a list of Parameters or of groups (dicts with ``params`` and their own
    hyperparameters, PyTorch's format); keyword arguments set every group's defaults.
    ``step()`` applies the update rule of the subclass to every parameter with its
    ``grad``.
    """

    defaults: dict = {}

    def __init__(self, params, clip_norm: float | None = None, **hyper):
        self.clip_norm = _check_clip(type(self).__name__, clip_norm)
        self.last_grad_norm = None
        unknown = set(hyper) - set(self.defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown arguments {sorted(unknown)}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list[dict] = []
        for g in groups:
            group = {**self.defaults, **hyper, **g}
            group["params"] = list(group["params"])
            for p in group["params"]:
                if not isinstance(p, Parameter):
                    raise TypeError(
                        f"{type(self).__name__}: expected Parameters, got {type(p).__name__}"
                    )
            self._check(group)
            self.param_groups.append(group)
        self.state: dict[int, dict] = {}  # keyed by the parameter's index over all groups
        self.step_count = 0  # completed step() calls: a step stopped part-way does not count

    def _check(self, group: dict) -> None:
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {group['lr']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0")

    def _indexed(self):
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield i, p, group
                i += 1

    @property
    def lr(self) -> float:
        """Learning rate of the first group (setting it sets every group's)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for g in self.param_groups:
            g["lr"] = float(value)

    def zero_grad(self) -> None:
        """Set the ``grad`` of every parameter to 0."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad[...] = 0

    def step(self) -> None:
        """One update of every parameter from its ``grad`` (the rule of the subclass)."""
        if self.clip_norm is not None:
            self.last_grad_norm = clip_grad_norm(
                [p for g in self.param_groups for p in g["params"]], self.clip_norm
            )
        for i, p, group in self._indexed():
            st = self.state.setdefault(i, {"step": 0})
            _follow(st, p.data)
            st["step"] += 1
            self._update(p, p.grad, st, group)
        self.step_count += 1

    def _update(self, p: Parameter, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define an update rule")

    def state_dict(self) -> dict:
        """{"state": {index: {name: array or number}}, "param_groups": [hyperparameters]}."""
        groups = [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]
        for g, src in zip(groups, self.param_groups):
            g["num_params"] = len(src["params"])
        state = {i: {k: _host_copy(v) for k, v in st.items()} for i, st in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, sd: dict) -> None:
        """Restore what ``state_dict()`` gave, checked against this optimizer's groups first."""
        groups = sd.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: parameter groups differ")
        for g, mine in zip(groups, self.param_groups):
            if g.get("num_params", len(mine["params"])) != len(mine["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: group sizes differ")
        params = [p for _, p, _ in self._indexed()]
        state = {}
        for k, st in sd.get("state", {}).items():
            i = int(k)
            if not 0 <= i < len(params):
                raise ValueError(f"{type(self).__name__}.load_state_dict: no parameter {i}")
            new = {}
            for name, v in st.items():
                if hasattr(v, "shape") or np.ndim(v) > 0:  # an array (from any device)
                    v = np.array(as_numpy(v) if hasattr(v, "shape") else v, dtype=params[i].dtype)
                    if v.shape != params[i].shape:
                        raise ValueError(
                            f"{type(self).__name__}.load_state_dict: state {name!r} of "
                            f"parameter {i} has shape {v.shape}, expected {params[i].shape}"
                        )
                    v = to_device(v, device_of(params[i].data))
                elif name == "step":
                    v = int(v)
                new[name] = v
            state[i] = new
        for g, mine in zip(groups, self.param_groups):
            for k, v in g.items():
                if k not in ("params", "num_params"):
                    mine[k] = v
        self.state = state


def _follow(state: dict, data) -> None:
    """Move the arrays of one parameter's ``state`` to the device of its ``data``."""
    for k, v in state.items():
        if not hasattr(v, "shape") or (type(v) is np.ndarray and type(data) is np.ndarray):
            continue
        if device_of(v) != device_of(data):
            state[k] = to_device(v, device_of(data))


def _host_copy(v):
    """A NumPy copy of a state array (from any device); other values deep-copied."""
    return np.array(as_numpy(v), copy=True) if hasattr(v, "shape") else copy.deepcopy(v)


class SGD(Optimizer):
    r"""$g \leftarrow g + \lambda\theta$;  $b \leftarrow \mu b + (1-\tau) g$ ($b = g$ at the
    first step); $g \leftarrow g + \mu b$ if Nesterov else $b$;
    $\theta \leftarrow \theta - \eta g$."""

    defaults = {
        "lr": 1e-3,
        "momentum": 0.0,
        "dampening": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
    }

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        clip_norm: float | None = None,
    ):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening 0")
        super().__init__(
            params,
            clip_norm,
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            dampening=dampening,
        )

    def _update(self, p, g, state, group):
        wd, mu = group["weight_decay"], group["momentum"]
        if wd:
            g = g + wd * p.data
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.astype(p.dtype, copy=True)
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        p.data -= group["lr"] * g


class AdaGrad(Optimizer):
    r"""$s \leftarrow s + g^2$;  $\theta \leftarrow \theta - \eta g / (\sqrt{s} + \epsilon)$."""

    defaults = {"lr": 0.01, "eps": 1e-10, "weight_decay": 0.0, "lr_decay": 0.0}

    def __init__(
        self,
        params,
        lr: float = 0.01,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        lr_decay: float = 0.0,
        clip_norm: float | None = None,
    ):
        super().__init__(
            params, clip_norm, lr=lr, eps=eps, weight_decay=weight_decay, lr_decay=lr_decay
        )

    def _update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        s = state.setdefault("sum", array_module(p.data).zeros_like(p.data))
        s += g * g
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        p.data -= clr * g / (array_module(s).sqrt(s) + group["eps"])


class RMSprop(Optimizer):
    r"""$v \leftarrow \alpha v + (1-\alpha) g^2$;
    $\theta \leftarrow \theta - \eta g / (\sqrt{v} + \epsilon)$
    (with optional momentum / centering)."""

    defaults = {
        "lr": 0.01,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    }

    def __init__(
        self,
        params,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        clip_norm: float | None = None,
    ):
        super().__init__(
            params,
            clip_norm,
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )

    def _update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        a = group["alpha"]
        v = state.setdefault("square_avg", array_module(p.data).zeros_like(p.data))
        v *= a
        v += (1 - a) * g * g
        if group["centered"]:
            m = state.setdefault("grad_avg", array_module(p.data).zeros_like(p.data))
            m *= a
            m += (1 - a) * g
            avg = array_module(v).sqrt(v - m * m) + group["eps"]
        else:
            avg = array_module(v).sqrt(v) + group["eps"]
        if group["momentum"]:
            buf = state.setdefault("momentum_buffer", array_module(p.data).zeros_like(p.data))
            buf *= group["momentum"]
            buf += g / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * g / avg


class Adam(Optimizer):
    r"""$m \leftarrow \beta_1 m + (1-\beta_1) g$;  $v \leftarrow \beta_2 v + (1-\beta_2) g^2$;
    $\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t} \cdot
    \frac{m}{\sqrt{v} / \sqrt{1-\beta_2^t} + \epsilon}$
    (L2 weight decay adds $\lambda\theta$ to g)."""

    defaults = {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
    }
    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        clip_norm: float | None = None,
    ):
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(
            params,
            clip_norm,
            lr=lr,
            betas=(float(b1), float(b2)),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
        )

    def _update(self, p, g, state, group):
        lr, wd = group["lr"], group["weight_decay"]
        b1, b2 = group["betas"]
        if wd:
            if self._decoupled:
                p.data *= 1 - lr * wd
            else:
                g = g + wd * p.data
        m = state.setdefault("exp_avg", array_module(p.data).zeros_like(p.data))
        v = state.setdefault("exp_avg_sq", array_module(p.data).zeros_like(p.data))
        m += (g - m) * (1 - b1)
        v *= b2
        v += (1 - b2) * g * g
        t = state["step"]
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        if group["amsgrad"]:
            vmax = state.setdefault("max_exp_avg_sq", array_module(p.data).zeros_like(p.data))
            array_module(v).maximum(vmax, v, out=vmax)
            v = vmax
        denom = array_module(v).sqrt(v) / math.sqrt(bc2) + group["eps"]
        p.data -= (lr / bc1) * m / denom


class AdamW(Adam):
    r"""Adam with decoupled weight decay: $\theta \leftarrow \theta (1 - \eta\lambda)$ before
    the Adam step."""

    defaults = {**Adam.defaults, "weight_decay": 0.01}
    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
        clip_norm: float | None = None,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, clip_norm)
