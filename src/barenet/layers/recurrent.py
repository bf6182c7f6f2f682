"""RNN, LSTM and GRU: stacks of recurrent layers, in one or both directions.

Names, shapes, gate order, initialisation and returns are ``torch.nn``'s, so a state
dict moves across unchanged:

    y, h = rnn(x)              y, (h, c) = lstm(x, (h0, c0))          y, h = gru(x, h0)

x: (T, N, input_size), or (N, T, input_size) with ``batch_first``, or (T, input_size)
unbatched; y: (T, N, D·hidden_size) with D = 2 when ``bidirectional``; every state
(num_layers·D, N, hidden_size), layer-major and forward direction first. Parameters
``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (suffix
``_reverse`` for the backward direction), all drawn from U(-1/√H, 1/√H).

``lengths`` (N,) (ints in [1, T]) marks sequences padded at the end: their padded steps
give 0 and leave the state alone, so the final state is that of each sequence's last
step and the reverse direction starts there (PyTorch's packed sequences).
Dropout between layers (not after the last) is applied in training mode.

Backward: ``backward(dy)`` or ``backward((dy, dstate))`` with dstate shaped like the
final state (``(dh, dc)`` for the LSTM; any part may be None, and so may dy) returns
dx, adds into every parameter's ``.grad`` and leaves the gradient of the initial state
in ``.dhx`` (shaped like it). Each layer and direction runs its family's kernels
(``reference.recurrent``: the loop over time and BPTT; ``fast.cpu.recurrent``), the
reverse direction as the forward one on the time-reversed sequence.
"""

from __future__ import annotations

import math

import numpy as np

from .. import init
from ..core.backend import array_module
from ..core.checks import as_input, config_bool, config_int
from ..core.config import get_default_dtype, get_rng
from ..core.device import device_random
from ..core.dispatch import kernels_for
from ..core.memory import check_parameters_fit
from ..core.module import Module, Parameter, register


class _Recurrent(Module):
    """What RNN, LSTM and GRU share: the stack, the directions, the checks."""

    gates = 1  # gate blocks stacked in the weights
    family = "rnn"
    cell_states = 1  # 1: h; 2: (h, c)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ):
        super().__init__()
        name = type(self).__name__
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"{name}: {what} must be a positive integer, got {v!r}")
        if isinstance(num_layers, bool) or int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
        dropout = float(dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.dropout = int(num_layers), dropout
        self.batch_first, self.bidirectional = bool(batch_first), bool(bidirectional)
        self.has_bias = bool(bias)
        dt = get_default_dtype()
        shapes = [s for k in range(self.num_layers) for s in self._shapes(k)] * self.directions
        check_parameters_fit(shapes, dt, f"{self._label()} (weights and gradients)")
        bound = 1.0 / math.sqrt(self.hidden_size)
        for k in range(self.num_layers):
            for suffix in self._suffixes():
                for pname, shape in zip(self._names(k, suffix), self._shapes(k)):
                    p = Parameter(np.empty(shape, dtype=dt))
                    init.uniform(p, -bound, bound)
                    setattr(self, pname, p)
        self._device_rngs: dict = {}
        self._clear_cache()

    # -- the parameters ---------------------------------------------------------
    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self) -> list[str]:
        return ["", "_reverse"][: self.directions]

    def _names(self, k: int, suffix: str) -> list[str]:
        names = [f"weight_ih_l{k}{suffix}", f"weight_hh_l{k}{suffix}"]
        return names + ([f"bias_ih_l{k}{suffix}", f"bias_hh_l{k}{suffix}"] if self.has_bias else [])

    def _shapes(self, k: int) -> list[tuple[int, ...]]:
        gh, h = self.gates * self.hidden_size, self.hidden_size
        n_in = self.input_size if k == 0 else h * self.directions
        return [(gh, n_in), (gh, h)] + ([(gh,), (gh,)] if self.has_bias else [])

    def _weights(self, k: int, d: int):
        ps = [self.__dict__[n].data for n in self._names(k, self._suffixes()[d])]
        return ps if self.has_bias else ps + [None, None]

    @property
    def _first(self):
        return self.__dict__["weight_ih_l0"].data

    def _clear_cache(self):
        self._caches = None
        self._out_shape = None
        self.dhx = None

    # -- forward ----------------------------------------------------------------
    def __call__(self, x, hx=None, lengths=None):
        return self.forward(x, hx, lengths)

    def forward(self, x, hx=None, lengths=None):
        """(y, final state) for x (T, N, input_size) (``batch_first``: (N, T, ...)),
        from ``hx`` (zeros when None); ``lengths`` (N,): see the module docstring."""
        w = self._first
        x = as_input(self, x, w.dtype, like=w)
        xp = array_module(x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            order = "N, T" if self.batch_first else "T, N"
            raise ValueError(
                f"{self._label()}: expected input ({order}, {self.input_size}) or "
                f"(T, {self.input_size}) unbatched, got {tuple(x.shape)}"
            )
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        steps, n = x.shape[:2]
        if steps < 1 or n < 1:
            raise ValueError(f"{self._label()}: empty input {tuple(x.shape)}")
        states = self._initial_states(hx, n, unbatched, xp, x.dtype)
        mask = self._mask(lengths, steps, n, unbatched, x)
        caches, inp = [], x
        for k in range(self.num_layers):
            drop = None
            if k > 0 and self.dropout and self.training:
                inp, drop = self._dropout(inp)
            outs, layer_caches = [], []
            for d in range(self.directions):
                j = k * self.directions + d
                kernels = kernels_for(self.family, inp)
                state0 = tuple(s[j] for s in states)
                xin, m = (
                    (inp, mask) if d == 0 else (inp[::-1], None if mask is None else mask[::-1])
                )
                y, state, cache = kernels.forward(
                    xin, state0, *self._weights(k, d), mask=m, **self._options()
                )
                outs.append(y if d == 0 else y[::-1])
                layer_caches.append((kernels, cache))
                for s, part in zip(states, state):
                    s[j] = part
            inp = outs[0] if len(outs) == 1 else xp.concatenate(outs, axis=2)
            caches.append((drop, layer_caches))
        y = inp[:, 0] if unbatched else (inp.transpose(1, 0, 2) if self.batch_first else inp)
        final = tuple(s if not unbatched else s[:, 0] for s in (xp.stack(s) for s in states))
        self._caches, self._out_shape = caches, y.shape
        self._unbatched, self._state_shape = unbatched, final[0].shape
        self._n = n
        self.dhx = None
        return y, self._pack(final)

    def _options(self) -> dict:
        return {}

    def _pack(self, parts: tuple):
        """The state as this layer's users see it: h, or (h, c)."""
        return parts[0] if self.cell_states == 1 else parts

    def _parts(self, state) -> tuple:
        """``state`` (h, or (h, c); parts may be None) as a tuple of its parts."""
        if self.cell_states == 1:
            return (state,)
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(
                f"{self._label()}: the state is a pair (h, c), got {type(state).__name__}"
            )
        return tuple(state)

    def _initial_states(self, hx, n: int, unbatched: bool, xp, dtype) -> list[list]:
        """Per part (h, c), the list of every layer and direction's (N, H) state."""
        lead = self.num_layers * self.directions
        shape = (lead, self.hidden_size) if unbatched else (lead, n, self.hidden_size)
        if hx is None:
            parts = [xp.zeros(shape, dtype) for _ in range(self.cell_states)]
        else:
            parts = []
            for name, part in zip(("h0", "c0"), self._parts(hx)):
                part = as_input(self, part, dtype, like=self._first)
                if part.shape != shape:
                    raise ValueError(
                        f"{self._label()}: expected {name} of shape {shape}, got "
                        f"{tuple(part.shape)}"
                    )
                parts.append(part)
        if unbatched:
            parts = [p[:, None] for p in parts]
        return [[p[j] for j in range(lead)] for p in parts]

    def _mask(self, lengths, steps: int, n: int, unbatched: bool, x):
        """(T, N) bools: step t of sequence i exists (t < lengths[i]); None for all."""
        if lengths is None:
            return None
        xp = array_module(x)
        lens = np.asarray(lengths if array_module(lengths) is np else lengths.get())
        if lens.dtype.kind not in "iu":
            raise TypeError(f"{self._label()}: lengths must be integers, got {lens.dtype}")
        want = () if unbatched else (n,)
        lens = lens.reshape(()) if unbatched and lens.size == 1 else lens
        if lens.shape != want or lens.min(initial=steps) < 1 or lens.max(initial=1) > steps:
            raise ValueError(
                f"{self._label()}: lengths must be {want or 'one'} integer(s) in [1, {steps}] "
                f"(the input's steps), got {lens.tolist()!r:.80}"
            )
        mask = np.arange(steps)[:, None] < lens.reshape(-1)[None, :]
        return mask if xp is np else xp.asarray(mask)

    def _dropout(self, x):
        kernels = kernels_for("dropout", x)
        rng = get_rng() if type(x) is np.ndarray else device_random(x, None, self._device_rngs)
        y, cache = kernels.forward(x, self.dropout, rng)
        return y, (kernels, cache)

    # -- backward ---------------------------------------------------------------
    def backward(self, grad):
        """dx for ``grad`` = dy or (dy, dstate); see the module docstring."""
        if self._caches is None:
            raise RuntimeError(f"{self._label()}: backward called before forward")
        dy, dstate = self._split_grad(grad)
        xp = array_module(self._first)
        unbatched = self._unbatched
        if dy is not None:
            dy = dy[:, None] if unbatched else (dy.transpose(1, 0, 2) if self.batch_first else dy)
        lead = self.num_layers * self.directions
        dparts = [
            None if p is None else (p[:, None] if unbatched else p) for p in dstate
        ]  # each (lead, N, H) or None
        dstate0 = [[None] * lead for _ in dparts]
        grads: dict[str, object] = {}
        h = self.hidden_size
        d_out = dy
        for k in reversed(range(self.num_layers)):
            drop, layer_caches = self._caches[k]
            need_dx = k > 0 or self.needs_input_grad
            d_in = None
            for d, (kernels, cache) in enumerate(layer_caches):
                j = k * self.directions + d
                if d_out is None:
                    dyd = xp.zeros(self._steps_shape(), self._first.dtype)
                else:
                    dyd = d_out[..., d * h : (d + 1) * h] if self.directions == 2 else d_out
                dst = tuple(None if p is None else p[j] for p in dparts)
                if d == 1:
                    dyd = dyd[::-1]
                dx, ds0, *dws = kernels.backward(dyd, dst, cache, need_dx)
                for s, part in zip(dstate0, ds0):
                    s[j] = part
                for name, g in zip(self._names(k, self._suffixes()[d]), dws):
                    grads[name] = g
                if need_dx:
                    dx = dx if d == 0 else dx[::-1]
                    d_in = dx if d_in is None else d_in + dx
            if drop is not None and d_in is not None:
                kernels, cache = drop
                d_in = kernels.backward(d_in, cache)
            d_out = d_in
        for name, g in grads.items():
            self.__dict__[name].grad += g
        parts = tuple(xp.stack(s) for s in dstate0)
        self.dhx = self._pack(tuple(p[:, 0] if unbatched else p for p in parts))
        if not self.needs_input_grad:
            return None
        dx = d_out
        return dx[:, 0] if unbatched else (dx.transpose(1, 0, 2) if self.batch_first else dx)

    def _steps_shape(self) -> tuple[int, int, int]:
        t = self._out_shape[0] if (self._unbatched or not self.batch_first) else self._out_shape[1]
        return (t, self._n, self.hidden_size)

    def _split_grad(self, grad):
        """(dy or None, tuple of state-part gradients or Nones), each checked."""
        if isinstance(grad, tuple):
            if len(grad) != 2:
                raise ValueError(
                    f"{self._label()}: backward takes dy or (dy, dstate), got a tuple of "
                    f"{len(grad)}"
                )
            dy, dstate = grad
        else:
            dy, dstate = grad, None
        dtype = self._first.dtype
        if dy is not None:
            dy = self._checked(dy, self._out_shape, "dy", dtype)
        parts = (None,) * self.cell_states if dstate is None else self._parts(dstate)
        parts = tuple(
            None if p is None else self._checked(p, self._state_shape, "dstate", dtype)
            for p in parts
        )
        return dy, parts

    def _checked(self, a, shape, what: str, dtype):
        if not isinstance(a, np.ndarray) and array_module(a) is np:
            a = np.asarray(a)
        if a.shape != tuple(shape):
            raise ValueError(
                f"{self._label()}: backward expected {what} of shape {tuple(shape)}, got "
                f"{tuple(a.shape)}"
            )
        return a.astype(dtype, copy=False)

    # -- description --------------------------------------------------------------
    def flops(self, in_shape: tuple[int, ...]) -> int:
        """Per sample of (T, input_size): 2·T·Σₖ D·G·H·(inₖ + H)."""
        steps = int(in_shape[0]) if len(in_shape) >= 2 else 1
        total = 0
        for k in range(self.num_layers):
            (gh, n_in), (_, h) = self._shapes(k)[:2]
            total += self.directions * gh * (n_in + h)
        return 2 * steps * total

    def output_shape(self, in_shape):
        if len(in_shape) != 3 or in_shape[-1] != self.input_size:
            return None
        return tuple(in_shape[:2]) + (self.directions * self.hidden_size,)

    def config(self) -> dict:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.has_bias,
            "batch_first": self.batch_first,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
        }

    @classmethod
    def state_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        who = cls.__name__
        n_in = config_int(who, config, "input_size")
        h = config_int(who, config, "hidden_size")
        layers = config_int(who, config, "num_layers", 1)
        bias = config_bool(who, config, "bias", True)
        dirs = 2 if config_bool(who, config, "bidirectional", False) else 1
        shapes: dict[str, tuple[int, ...]] = {}
        g = cls.gates * h
        for k in range(layers):
            for suffix in ["", "_reverse"][:dirs]:
                inp = n_in if k == 0 else dirs * h
                shapes[f"weight_ih_l{k}{suffix}"] = (g, inp)
                shapes[f"weight_hh_l{k}{suffix}"] = (g, h)
                if bias:
                    shapes[f"bias_ih_l{k}{suffix}"] = (g,)
                    shapes[f"bias_hh_l{k}{suffix}"] = (g,)
        return shapes

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())

    def _label(self) -> str:
        more = f", num_layers={self.num_layers}" if self.num_layers > 1 else ""
        more += ", bidirectional" if self.bidirectional else ""
        return f"{type(self).__name__}({self.input_size}→{self.hidden_size}{more})"


@register
class RNN(_Recurrent):
    """Elman RNN: hₜ = φ(xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh), φ = tanh or relu.

    BPTT: daₜ = (dyₜ + δhₜ) ⊙ φ'(aₜ), δhₜ₋₁ = daₜ W_hh, dW_hh = Σₜ daₜᵀ hₜ₋₁ (see
    ``reference.recurrent.rnn_backward``). ``y, h_n = rnn(x, h0)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )
        self.nonlinearity = nonlinearity

    def _options(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    def config(self) -> dict:
        return {**super().config(), "nonlinearity": self.nonlinearity}


@register
class LSTM(_Recurrent):
    """Long short-term memory, gates i, f, g, o (PyTorch's order):
    cₜ = f ⊙ cₜ₋₁ + i ⊙ g,  hₜ = o ⊙ tanh cₜ.

    BPTT: δcₜ = δcₜ₊₁ ⊙ fₜ₊₁ + δhₜ ⊙ o ⊙ (1 - tanh² cₜ), di = δcₜ ⊙ g, df = δcₜ ⊙ cₜ₋₁,
    dg = δcₜ ⊙ i, do = δhₜ ⊙ tanh cₜ (see ``reference.recurrent.lstm_backward``).
    ``y, (h_n, c_n) = lstm(x, (h0, c0))``.
    """

    gates = 4
    family = "lstm"
    cell_states = 2


@register
class GRU(_Recurrent):
    """Gated recurrent unit, gates r, z, n (PyTorch's order):
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  hₜ = (1 - z) ⊙ n + z ⊙ hₜ₋₁.

    BPTT: dn = δhₜ (1 - z), dz = δhₜ (hₜ₋₁ - n), δhₜ₋₁ = dg_h W_hh + δhₜ ⊙ z (see
    ``reference.recurrent.gru_backward``). ``y, h_n = gru(x, h0)``.
    """

    gates = 3
    family = "gru"
