"""2-D convolution: the layer (validation, parameters, kernel choice, gradients)."""

from __future__ import annotations

import math

import numpy as np

from .. import init
from ..core.checks import as_input, check_backward, config_bool, config_int, config_pair, pair
from ..core.config import get_default_dtype
from ..core.dispatch import kernels_for
from ..core.memory import check_parameters_fit
from ..core.module import Module, Parameter, register
from ..reference.conv import out_size


@register
class Conv2d(Module):
    r"""Cross-correlation of x (N, C, H, W) with W (O, C, kh, kw), stride s, zero padding.

    Forward:   $\mathrm{cols} = \text{im2col}(\mathrm{pad}(x))$  (C·kh·kw, N·OH·OW);
    $y_2 = W_2\, \mathrm{cols} + b$

    Backward:  $dW \mathrel{+}= dy_2\, \mathrm{cols}^\top$,
    $db \mathrel{+}= \sum_{n,p,q} dy$,
    $dx = \mathrm{unpad}(\text{col2im}(W_2^\top dy_2))$

    with $W_2$ = W as (O, C·kh·kw) and $y_2$, $dy_2$ the output as (O, N·OH·OW). The
    kernels are ``reference.conv`` (these lines, as code) or ``fast.cpu.conv`` (the same
    numbers, a run of images at a time on every core). dx is skipped (None returned)
    when ``needs_input_grad`` is False. Initialised like PyTorch:
    $W, b \sim U(-1/\sqrt{\mathit{fan_{in}}},\ 1/\sqrt{\mathit{fan_{in}}})$.
    """

    init_weight = "weight"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        bias: bool = True,
    ):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "Conv2d", "kernel_size")
        self.stride = pair(stride, "Conv2d", "stride")
        kh, kw = self.kernel_size
        if min(self.in_channels, self.out_channels, kh, kw) < 1 or min(self.stride) < 1:
            raise ValueError(
                f"Conv2d: channels, kernel and stride must be positive, got in={in_channels}, "
                f"out={out_channels}, kernel={kernel_size}, stride={stride}"
            )
        self.padding = padding if isinstance(padding, str) else pair(padding, "Conv2d", "padding")
        self._pad = self._padding_sides(padding)
        dt = get_default_dtype()
        shapes = [(self.out_channels, self.in_channels, kh, kw), (self.out_channels,)]
        check_parameters_fit(shapes, dt, f"{self._label()} (weights and gradients)")
        bound = 1.0 / math.sqrt(self.in_channels * kh * kw)  # PyTorch's kaiming_uniform(a=√5)
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels, kh, kw), dtype=dt))
        init.uniform(self.weight, -bound, bound)
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dt))
            init.uniform(self.bias, -bound, bound)
        else:
            self.bias = None
        self._clear_cache()

    def _padding_sides(self, padding) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) from an int, a pair, "valid" or "same"."""
        kh, kw = self.kernel_size
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if self.stride != (1, 1):
                raise ValueError("Conv2d: padding='same' needs stride 1 (as in PyTorch)")
            # Like PyTorch: the extra pixel of an even kernel goes bottom/right.
            return ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)
        if isinstance(padding, str):
            raise ValueError(f"Conv2d: padding must be an int, 'same' or 'valid', got {padding!r}")
        ph, pw = pair(padding, "Conv2d", "padding")
        if ph < 0 or pw < 0:
            raise ValueError(f"Conv2d: padding must be >= 0, got {padding!r}")
        return (ph, ph, pw, pw)

    def _clear_cache(self):
        self._kernels = self._cache = self._out_shape = None

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(N, O, OH, OW) for an input of shape (N, C, H, W)."""
        n, _, h, w = in_shape
        (kh, kw), (sh, sw), (pt, pb, pl, pr) = self.kernel_size, self.stride, self._pad
        return (n, self.out_channels, out_size(h, kh, sh, pt, pb), out_size(w, kw, sw, pl, pr))

    def flops(self, in_shape: tuple[int, ...]) -> int:
        kh, kw = self.kernel_size
        _, o, oh, ow = self.output_shape((1, *in_shape))
        return 2 * self.in_channels * kh * kw * o * oh * ow

    def forward(self, x):
        x = as_input(self, x, self.weight.data.dtype, like=self.weight.data)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self._label()}: expected (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        out_shape = self.output_shape(x.shape)
        if min(out_shape[2:]) < 1:
            raise ValueError(
                f"{self._label()}: input {x.shape[2]}x{x.shape[3]} with padding {self._pad} "
                f"is smaller than the {self.kernel_size[0]}x{self.kernel_size[1]} kernel"
            )
        kernels = kernels_for("conv2d", x)
        b = None if self.bias is None else self.bias.data
        y, cache = kernels.forward(x, self.weight.data, b, self.stride, self._pad)
        self._kernels, self._cache, self._out_shape = kernels, cache, out_shape
        return y

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape, self.weight.data.dtype)
        dx, dw, db = self._kernels.backward(dy, self._cache, self.needs_input_grad)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def config(self):
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "bias": self.bias is not None,
        }

    @classmethod
    def state_shapes(cls, config):
        c_in = config_int("Conv2d", config, "in_channels")
        c_out = config_int("Conv2d", config, "out_channels")
        kh, kw = config_pair("Conv2d", config, "kernel_size")
        shapes = {"weight": (c_out, c_in, kh, kw)}
        if config_bool("Conv2d", config, "bias", True):
            shapes["bias"] = (c_out,)
        return shapes

    def _label(self):
        return f"Conv2d({self.in_channels}→{self.out_channels})"
