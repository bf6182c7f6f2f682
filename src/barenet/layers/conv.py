"""2-D convolution by im2col and one GEMM."""

from __future__ import annotations

import math

import numpy as np

from .. import init
from ..core.checks import as_input, check_backward
from ..core.config import get_default_dtype
from ..core.functional import (
    batch_chunks,
    cnhw_empty,
    col2im_add,
    im2col_into,
    out_size,
    unpad2d,
)
from ..core.module import Module, Parameter, register
from ..core.parallel import copy_into

# Columns up to this size are kept from forward to backward; bigger ones are rebuilt a
# run of images (_CHUNK_BYTES of columns) at a time; inference takes bigger runs, as it
# keeps nothing for backward. Each run costs a multi-threaded GEMM call whose start-up is
# milliseconds on a busy machine, so runs are not made cache-sized.
_KEEP_COLS_BYTES = 16 << 20
_CHUNK_BYTES = 8 << 20
_EVAL_CHUNK_BYTES = 16 << 20


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

    Forward:  cols = im2col(x) (C·kh·kw, N·OH·OW);  y = W₂ cols + b   (W₂: (O, C·kh·kw))
    Backward: dW += dy₂ colsᵀ,  db += Σ_{n,p,q} dy,  dx = col2im(W₂ᵀ dy₂)   (dy₂: (O, N·OH·OW)).
    One GEMM each over the whole batch; y comes back as an (N, O, OH, OW) view of
    (O, N, OH, OW) memory, so no transpose is copied.
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
        self._keep = True
        self._budget = _CHUNK_BYTES
        self._xp = None

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
        has_b = self.bias is not None
        o, ck, p = self.out_channels, self.in_channels * kh * kw, oh * ow
        rows, per_image = ck + has_b, (ck + has_b) * p * x.dtype.itemsize
        # Columns of a big batch are not kept for backward (it rebuilds them a slice at a
        # time): that bounds memory at a small cost in time.
        keep = n * per_image <= _KEEP_COLS_BYTES
        budget = self._budget = _CHUNK_BYTES if self.training else _EVAL_CHUNK_BYTES
        xp = self._padded(x, copy=not keep)
        width = n * p if keep else batch_chunks(n, per_image, budget)[0][1] * p
        cols = self._cols
        if cols is None or cols.shape != (rows, width) or cols.dtype != x.dtype:
            cols = np.empty((rows, width), dtype=x.dtype)
            cols[ck:] = 1  # the ones row: the bias rides in the GEMM
        w2 = self.weight.data.reshape(o, ck)
        if has_b:
            w2 = np.concatenate([w2, self.bias.data[:, None]], axis=1)
        y2 = np.empty((o, n * p), dtype=x.dtype)  # the output in (O, N, OH, OW) memory order
        for n0, n1 in batch_chunks(n, per_image, budget):
            part = cols[:, n0 * p : n1 * p] if keep else cols[:, : (n1 - n0) * p]
            im2col_into(xp[n0:n1], kh, kw, sh, sw, oh, ow, part)
            np.matmul(w2, part, out=y2[:, n0 * p : n1 * p])
        self._cols, self._keep, self._xp = cols, keep, (None if keep else xp)
        self._xp_shape = xp.shape
        self._out_shape = (n, o, oh, ow)
        return y2.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)

    def _padded(self, x, copy: bool = False):
        """x zero-padded into a (C, N)-ordered buffer this layer owns (border stays zero);
        x itself when there is no padding, unless ``copy``."""
        pt, pb, pl, pr = self._pad
        if pt == pb == pl == pr == 0 and not copy:
            return x
        n, c, h, w = x.shape
        shape = (n, c, h + pt + pb, w + pl + pr)
        buf = self._pad_buf
        if buf is None or buf.shape != shape or buf.dtype != x.dtype:
            buf = self._pad_buf = cnhw_empty(shape, x.dtype, zero=True)
        copy_into(buf[:, :, pt : pt + h, pl : pl + w], x)
        return buf

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        n, o, oh, ow = self._out_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        w, p, cols = self.weight.data, oh * ow, self._cols
        dy2 = dy.astype(w.dtype, copy=False).transpose(1, 0, 2, 3).reshape(o, n * p)
        ck = w[0].size
        wt = w.reshape(o, ck).T
        dxp = cnhw_empty(self._xp_shape, w.dtype, zero=True)
        if self._keep:
            dwb = dy2 @ cols.T  # (O, C*kh*kw [+1]): dW, and db from the ones row
            col2im_add(wt @ dy2, dxp, kh, kw, sh, sw, oh, ow)
        else:
            dwb = np.zeros((o, cols.shape[0]), dtype=w.dtype)
            for n0, n1 in batch_chunks(n, cols.shape[0] * p * cols.itemsize, self._budget):
                part = cols[:, : (n1 - n0) * p]
                im2col_into(self._xp[n0:n1], kh, kw, sh, sw, oh, ow, part)
                dyc = dy2[:, n0 * p : n1 * p]
                dwb += dyc @ part.T
                col2im_add(wt @ dyc, dxp[n0:n1], kh, kw, sh, sw, oh, ow)
        self.weight.grad += dwb[:, :ck].reshape(w.shape)
        if self.bias is not None:
            self.bias.grad += dwb[:, ck]
        return unpad2d(dxp, self._pad)

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
