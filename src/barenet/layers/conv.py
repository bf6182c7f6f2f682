"""2-D convolution by im2col and one GEMM."""

from __future__ import annotations

import math

import numpy as np

from .. import init
from ..core.checks import as_input, check_backward
from ..core.config import get_default_dtype
from ..core.functional import col2im, im2col, out_size, pad2d, unpad2d
from ..core.module import Module, Parameter, register


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"Conv2d: {name} must be an int or a pair, got {v!r}")
        a, b = int(v[0]), int(v[1])
    else:
        a = b = int(v)
    return a, b


@register
class Conv2d(Module):
    """Cross-correlation of x (N, C, H, W) with W (O, C, kh, kw), stride s, zero padding.

    Forward:  cols = im2col(x) (N, C·kh·kw, OH·OW);  y = W₂ cols + b   (W₂: (O, C·kh·kw))
    Backward: dW += Σₙ dyₙ colsₙᵀ,  db += Σ_{n,p,q} dy,  dx = col2im(W₂ᵀ dy).
    """

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
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        kh, kw = self.kernel_size
        if min(self.in_channels, self.out_channels, kh, kw) < 1 or min(self.stride) < 1:
            raise ValueError(
                f"Conv2d: channels, kernel and stride must be positive, got in={in_channels}, "
                f"out={out_channels}, kernel={kernel_size}, stride={stride}"
            )
        if isinstance(padding, str):
            if padding == "valid":
                pad = (0, 0, 0, 0)
            elif padding == "same":
                if self.stride != (1, 1):
                    raise ValueError("Conv2d: padding='same' needs stride 1 (as in PyTorch)")
                # Like PyTorch: the extra pixel of an even kernel goes bottom/right.
                pad = ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)
            else:
                raise ValueError(
                    f"Conv2d: padding must be an int, 'same' or 'valid', got {padding!r}"
                )
        else:
            ph, pw = _pair(padding, "padding")
            if ph < 0 or pw < 0:
                raise ValueError(f"Conv2d: padding must be >= 0, got {padding!r}")
            pad = (ph, ph, pw, pw)
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding")
        self._pad = pad
        dt = get_default_dtype()
        fan_in = self.in_channels * kh * kw
        bound = 1.0 / math.sqrt(fan_in)  # PyTorch's kaiming_uniform(a=√5) and bias rule
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels, kh, kw), dtype=dt))
        init.uniform(self.weight, -bound, bound)
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dt))
            init.uniform(self.bias, -bound, bound)
        else:
            self.bias = None
        self._clear_cache()

    def _clear_cache(self):
        self._cols = None
        self._xp_shape = None
        self._out_shape = None
        self._pad_buf = None

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(N, O, OH, OW) for an input of shape (N, C, H, W)."""
        n, _, h, w = in_shape
        (kh, kw), (sh, sw), (pt, pb, pl, pr) = self.kernel_size, self.stride, self._pad
        return (n, self.out_channels, out_size(h, kh, sh, pt, pb), out_size(w, kw, sw, pl, pr))

    def forward(self, x):
        x = as_input(self, x, self.weight.data.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self._label()}: expected (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        n, _, oh, ow = self.output_shape(x.shape)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"{self._label()}: input {x.shape[2]}x{x.shape[3]} with padding {self._pad} "
                f"is smaller than the {kh}x{kw} kernel"
            )
        xp = pad2d(x, self._pad, self._pad_buf)
        if xp is not x:
            self._pad_buf = xp
        cols = im2col(xp, kh, kw, sh, sw, oh, ow, out=self._cols)
        w2 = self.weight.data.reshape(self.out_channels, -1)
        y = np.matmul(w2, cols)  # (N, O, OH*OW): lands in NCHW, no transpose copy
        if self.bias is not None:
            y += self.bias.data[:, None]
        self._cols, self._xp_shape = cols, xp.shape
        self._out_shape = (n, self.out_channels, oh, ow)
        return y.reshape(self._out_shape)

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        n, o, oh, ow = self._out_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        dy3 = dy.reshape(n, o, oh * ow).astype(self.weight.data.dtype, copy=False)
        cols = self._cols
        self.weight.grad += (dy3 @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(self.weight.shape)
        if self.bias is not None:
            self.bias.grad += dy3.sum(axis=(0, 2))
        dcols = np.matmul(self.weight.data.reshape(o, -1).T, dy3)  # (N, C*kh*kw, OH*OW)
        dxp = col2im(dcols, self._xp_shape, kh, kw, sh, sw, oh, ow)
        return np.ascontiguousarray(unpad2d(dxp, self._pad))

    def config(self):
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "bias": self.bias is not None,
        }

    def _label(self):
        return f"Conv2d({self.in_channels}→{self.out_channels})"
