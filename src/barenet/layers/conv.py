"""2-D convolution by im2col and one GEMM."""

from __future__ import annotations

import math

import numpy as np

from .. import init
from ..core.checks import as_input, check_backward, config_bool, config_int, config_pair
from ..core.config import get_default_dtype
from ..core.functional import (
    batch_chunks,
    col2im_add,
    col2im_nhwc_add,
    flat_offsets,
    im2col_flat,
    im2col_flat_times,
    im2col_into,
    im2col_nhwc,
    matmul_k_chunks,
    matmul_pieces,
    out_size,
    unpad2d,
)
from ..core.memory import check_parameters_fit
from ..core.module import Module, Parameter, register
from ..core.parallel import copy_into, for_each, scratch

# Columns are built and consumed a run of images at a time, about _RUN_BYTES of them per
# run so that the run's GEMMs read them from cache, and at least _MIN_RUNS runs when the
# batch allows, so that every thread has work (runs go to the threads, each with a
# one-thread GEMM). Runs depend on the shapes only, never on the thread count, so the
# results are bit-identical whatever the number of threads.
_RUN_BYTES = 2 << 20
_MIN_RUNS = 4
# Stride-1 layers whose padded image has at most this many times the output's pixels use
# the flat (shifted-row) columns: contiguous copies, for slightly wider GEMMs.
_FLAT_MAX_RATIO = 1.25
_FLAT_MIN_ROWS_PER_OUTPUT = 1  # ... and whose C·kh·kw is at least the output channels
# Other layers whose window rows hold at least this many numbers (C·kw) use pixel-major
# columns over (N, H, W, C) memory: long contiguous copies where OW is small.
_PIXEL_MIN_ROW = 32
# Channel columns write the output in (N, OH, OW, O) memory from this many output channels:
# measured, a 2x2 max-pool over 32 channels runs twice as fast in that order (16: no gain).
_NHWC_OUT_MIN_CHANNELS = 32


def _runs(n: int, bytes_per_image: int) -> list[tuple[int, int]]:
    step = max(1, min(_RUN_BYTES // max(1, bytes_per_image), -(-n // _MIN_RUNS)))
    return batch_chunks(n, 1, step)


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
    Backward: dW += dy₂ colsᵀ,  db += Σ_{n,p,q} dy,  dx = col2im(W₂ᵀ dy₂)   (dy₂: (O, N·OH·OW));
    (the flat path computes the same dx as a full convolution of dy with W rotated by
    180°: dx = W_rot₂ im2col(dy zero-padded by kh-1, kw-1), whose columns are contiguous);
    dx is skipped (None returned) when ``needs_input_grad`` is False.
    The GEMMs run a few images at a time (runs spread over the threads, the columns
    rebuilt in backward rather than kept). Three ways to build the columns, chosen by
    shape (``_path``): "flat" for stride-1 layers with little padding (shifted rows,
    see core.functional.im2col_flat) and "channel" (strided windows), both giving y as
    an (N, O, OH, OW) view of (O, N, OH, OW) memory, except that channel columns with
    32 or more outputs compute y₂ᵀ = colsᵀ W₂ᵀ, in (N, OH, OW, O) memory; and "pixel"
    for many input channels: the transposed columns over (N, H, W, C) memory,
    cols (N·OH·OW, kh·kw·C), y₂ = cols W₂ᵀ, y an (N, O, OH, OW) view of (N, OH, OW, O)
    memory (see core.functional.im2col_nhwc). The output is never copied from one
    memory order into another.
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
        shapes = [(self.out_channels, self.in_channels, kh, kw), (self.out_channels,)]
        check_parameters_fit(shapes, dt, f"{self._label()} (weights and gradients)")
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
        self._src = None  # the (padded) input the columns are built from
        self._runs = None
        self._path = None  # "flat", "channel" or "pixel": how the columns are laid out
        self._out_nhwc = False  # the output in (N, OH, OW, O) memory, else (O, N, OH, OW)
        self._in_shape = None
        self._out_shape = None
        self._pad_buf = None  # ((layout, shape, dtype), zero-bordered buffer)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(N, O, OH, OW) for an input of shape (N, C, H, W)."""
        n, _, h, w = in_shape
        (kh, kw), (sh, sw), (pt, pb, pl, pr) = self.kernel_size, self.stride, self._pad
        return (n, self.out_channels, out_size(h, kh, sh, pt, pb), out_size(w, kw, sw, pl, pr))

    def _choose_path(self, hp: int, wp: int, oh: int, ow: int) -> str:
        c, o = self.in_channels, self.out_channels
        kh, kw = self.kernel_size
        # Flat columns trade a cheaper im2col (C·kh·kw rows) for an extra copy of the
        # output (O rows) out of the wider GEMM result: worth it with many input rows.
        if (
            self.stride == (1, 1)
            and hp * wp <= _FLAT_MAX_RATIO * oh * ow
            and c * kh * kw >= o * _FLAT_MIN_ROWS_PER_OUTPUT
        ):
            return "flat"
        return "pixel" if c * kw >= _PIXEL_MIN_ROW else "channel"

    def forward(self, x):
        x = as_input(self, x, self.weight.data.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self._label()}: expected (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        kh, kw = self.kernel_size
        n, o, oh, ow = self.output_shape(x.shape)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"{self._label()}: input {x.shape[2]}x{x.shape[3]} with padding {self._pad} "
                f"is smaller than the {kh}x{kw} kernel"
            )
        hp, wp = self._padded_size(x.shape)
        p, rows = oh * ow, self._rows()
        path = self._choose_path(hp, wp, oh, ow)
        span = hp * wp if path == "flat" else p  # columns (pixel: rows) per image
        runs = _runs(n, rows * span * x.dtype.itemsize)
        if path == "flat":
            src = self._padded_flat(x, tail=flat_offsets(kh, kw, wp)[-1])
        elif path == "pixel":
            src = self._padded_nhwc(x)
        else:
            src = self._padded_nchw(x)
        w2 = self._w2(path)
        if self.bias is not None:  # the bias rides in the GEMM, against a row of ones
            w2 = np.concatenate([w2, self.bias.data[:, None]], axis=1)
        self._src, self._runs, self._path = src, runs, path
        self._in_shape, self._out_shape = x.shape, (n, o, oh, ow)
        # Pixel columns give the output in (N, OH, OW, O) memory; so do channel columns
        # for many output channels (y₂ᵀ = colsᵀ W₂ᵀ), whose rows of O numbers then serve
        # the element-wise and pooling layers and the next convolution's pixel columns.
        self._out_nhwc = path == "pixel" or (path == "channel" and o >= _NHWC_OUT_MIN_CHANNELS)
        if self._out_nhwc:
            y2 = np.empty((n * p, o), dtype=x.dtype)
            w2t = np.ascontiguousarray(w2.T)

            def job(i: int, _slot: int) -> None:
                n0, n1 = runs[i]
                cols = self._columns(n0, n1)
                a = cols.T if path == "channel" else cols
                matmul_pieces(a, w2t, y2[n0 * p : n1 * p])

            for_each(job, len(runs), gemm=True)
            return y2.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

        y2 = np.empty((o, n * p), dtype=x.dtype)  # the output in (O, N, OH, OW) memory order

        def job(i: int, _slot: int) -> None:
            n0, n1 = runs[i]
            cols = self._columns(n0, n1)
            if path == "flat":  # every padded position is computed; the valid ones are kept
                yf = scratch("conv_out", (o, cols.shape[1]), x.dtype)
                matmul_pieces(w2, cols, yf)
                y2[:, n0 * p : n1 * p].reshape(o, n1 - n0, oh, ow)[...] = yf.reshape(
                    o, n1 - n0, hp, wp
                )[:, :, :oh, :ow]
            else:
                matmul_pieces(w2, cols, y2[:, n0 * p : n1 * p])

        for_each(job, len(runs), gemm=True)
        return y2.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)

    def _w2(self, path: str) -> np.ndarray:
        """W as (O, C·kh·kw), its columns in the order of the column rows: (c, i, j), or
        (i, j, c) for pixel-major columns (a copy)."""
        w = self.weight.data
        if path == "pixel":
            return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)
        return w.reshape(w.shape[0], -1)

    def _rows(self) -> int:
        return self.weight.data[0].size + (self.bias is not None)

    def _padded_size(self, shape) -> tuple[int, int]:
        pt, pb, pl, pr = self._pad
        return shape[2] + pt + pb, shape[3] + pl + pr

    def _pad_buffer(self, layout: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A zeroed buffer this layer keeps across calls for one layout of padded input;
        only its interior is ever written, so its padding border stays zero."""
        key = (layout, shape, np.dtype(dtype))
        if self._pad_buf is None or self._pad_buf[0] != key:
            self._pad_buf = (key, np.zeros(shape, dtype=dtype))
        return self._pad_buf[1]

    def _padded_flat(self, x, tail: int):
        """x zero-padded into a (C, N·Hp·Wp + tail) buffer (border and tail zero)."""
        pt, _, pl, _ = self._pad
        n, c, h, w = x.shape
        hp, wp = self._padded_size(x.shape)
        buf = self._pad_buffer("flat", (c, n * hp * wp + tail), x.dtype)
        img = buf[:, : n * hp * wp].reshape(c, n, hp, wp)
        copy_into(img[:, :, pt : pt + h, pl : pl + w], x.transpose(1, 0, 2, 3))
        return buf

    def _padded_nchw(self, x):
        """x zero-padded, as an (N, C, Hp, Wp) view of (C, N, Hp, Wp) memory; x itself
        when there is no padding."""
        pt, pb, pl, pr = self._pad
        if pt == pb == pl == pr == 0:
            return x
        n, c, h, w = x.shape
        hp, wp = self._padded_size(x.shape)
        img = self._pad_buffer("cnhw", (c, n, hp, wp), x.dtype)
        copy_into(img[:, :, pt : pt + h, pl : pl + w], x.transpose(1, 0, 2, 3))
        return img.transpose(1, 0, 2, 3)

    def _padded_nhwc(self, x):
        """x zero-padded into a C-contiguous (N, Hp, Wp, C) array; x's own memory when
        it is already laid out that way and there is no padding."""
        pt, pb, pl, pr = self._pad
        xt = x.transpose(0, 2, 3, 1)
        if pt == pb == pl == pr == 0 and xt.flags.c_contiguous:
            return xt
        n, c, h, w = x.shape
        hp, wp = self._padded_size(x.shape)
        buf = self._pad_buffer("nhwc", (n, hp, wp, c), x.dtype)
        copy_into(buf[:, pt : pt + h, pl : pl + w], xt)
        return buf

    def _columns(self, n0: int, n1: int) -> np.ndarray:
        """The columns of images n0..n1-1 in this thread's scratch, with a row (pixel
        path: a column) of ones when there is a bias."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        _, _, oh, ow = self._out_shape
        src, ck, rows = self._src, self.weight.data[0].size, self._rows()
        if self._path == "pixel":
            cols = scratch("conv_cols", ((n1 - n0) * oh * ow, rows), src.dtype)
            im2col_nhwc(src[n0:n1], kh, kw, sh, sw, oh, ow, cols)
            cols[:, ck:] = 1
            return cols
        if self._path == "flat":
            hp, wp = self._padded_size(self._in_shape)
            width = (n1 - n0) * hp * wp
            cols = scratch("conv_cols", (rows, width), src.dtype)
            im2col_flat(src, n0 * hp * wp, width, kh, kw, wp, cols)
        else:
            cols = scratch("conv_cols", (rows, (n1 - n0) * oh * ow), src.dtype)
            im2col_into(src[n0:n1], kh, kw, sh, sw, oh, ow, cols)
        cols[ck:] = 1
        return cols

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        n, o, oh, ow = self._out_shape
        kh, kw = self.kernel_size
        w = self.weight.data
        c, ck, rows = self.in_channels, w[0].size, self._rows()
        runs = self._runs
        dwb = np.empty((len(runs), rows, o), dtype=w.dtype)  # per-run dWᵀ (and db): summed below
        if self._path == "pixel":
            dx = self._backward_pixel(dy, dwb)
        else:
            dx = self._backward_channel(dy, dwb)
        total = dwb.sum(axis=0)  # in run order: the same sum whatever the thread count
        if self._path == "pixel":  # rows in (i, j, c) order
            self.weight.grad += total[:ck].reshape(kh, kw, c, o).transpose(3, 2, 0, 1)
        else:
            self.weight.grad += total[:ck].T.reshape(w.shape)
        if self.bias is not None:
            self.bias.grad += total[ck]
        return dx

    def _backward_channel(self, dy, dwb):
        """dWᵀ per run into dwb; dx (None when not wanted) for the flat and channel paths."""
        n, o, oh, ow = self._out_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        w = self.weight.data
        c, ck, p = self.in_channels, w[0].size, oh * ow
        hp, wp = self._padded_size(self._in_shape)
        wt = w.reshape(o, ck).T
        runs, flat, want_dx = self._runs, self._path == "flat", self.needs_input_grad
        rows, lead = self._rows(), flat_offsets(kh, kw, wp)[-1]
        # dx, padded, in (C, N, Hp, Wp) order
        dxp = np.empty((c, n * hp * wp), dtype=w.dtype) if want_dx else None

        if flat and want_dx:  # W rotated by 180°, as (C, O·kh·kw) in (o, i, j) order
            wrot = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(c, -1)

        def flat_job(i: int, _slot: int) -> None:
            n0, n1 = runs[i]
            width = (n1 - n0) * hp * wp
            # dy spread over every padded position, zero at the garbage ones, after `lead`
            # zero columns (positions before the run: they hold no output of these images)
            dl = scratch("conv_out", (o, lead + width), w.dtype)
            dl[:, :lead] = 0
            d = dl[:, lead:]
            d4 = d.reshape(o, n1 - n0, hp, wp)
            d4[:, :, :oh, :ow] = dy[n0:n1].transpose(1, 0, 2, 3)
            d4[:, :, oh:] = 0
            d4[:, :, :oh, ow:] = 0
            # [dWᵀ; dbᵀ] of these images, straight from the shifted input rows
            im2col_flat_times(self._src, n0 * hp * wp, width, kh, kw, wp, d, dwb[i, :ck])
            if rows > ck:
                d.sum(axis=1, out=dwb[i, ck])
            if want_dx:  # dx[c, s] = Σ_{o,i,j} W[o,c,i,j] d[o, s - i·wp - j]: a convolution
                # of the lead-padded d (its flat columns read dl[o, s + i'·wp + j'], i.e.
                # the rotated offset i' = kh-1-i, j' = kw-1-j) with the rotated W
                cols = scratch("conv_cols", (o * kh * kw, width), w.dtype)
                im2col_flat(dl, 0, width, kh, kw, wp, cols)
                matmul_pieces(wrot, cols, dxp[:, n0 * hp * wp : n1 * hp * wp])

        def channel_job(i: int, _slot: int) -> None:
            n0, n1 = runs[i]
            m = n1 - n0
            if self._out_nhwc:  # dy₂ as the transpose of an (m·OH·OW, O) array
                d = dy[n0:n1].transpose(0, 2, 3, 1).astype(w.dtype, copy=False)
                d = d.reshape(m * p, o).T
            else:
                d = dy[n0:n1].transpose(1, 0, 2, 3).astype(w.dtype, copy=False)
                d = d.reshape(o, m * p)
            cols = self._columns(n0, n1)
            matmul_k_chunks(cols, d.T, dwb[i])  # [dWᵀ; dbᵀ] of these images
            if want_dx:
                dcols = cols[:ck]  # the columns are spent: their rows take dcols = W₂ᵀ dy₂
                np.matmul(wt, d, out=dcols)
                dxs = dxp[:, n0 * hp * wp : n1 * hp * wp]
                dxs[...] = 0
                d6 = dxs.reshape(c, m, hp, wp).transpose(1, 0, 2, 3)
                col2im_add(dcols, d6, kh, kw, sh, sw, oh, ow)

        for_each(flat_job if flat else channel_job, len(runs), gemm=True)
        if not want_dx:
            return None
        return unpad2d(dxp.reshape(c, n, hp, wp).transpose(1, 0, 2, 3), self._pad)

    def _backward_pixel(self, dy, dwb):
        """The pixel path: dWᵀ per run = colsᵀ dy₂, dcols = dy₂ W₂ (dy₂: (N·OH·OW, O)),
        dx = col2im of dcols, in (N, H, W, C) memory."""
        n, o, oh, ow = self._out_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        dt = self.weight.data.dtype
        c, p = self.in_channels, oh * ow
        hp, wp = self._padded_size(self._in_shape)
        runs, want_dx = self._runs, self.needs_input_grad
        dyt = dy.transpose(0, 2, 3, 1)  # (N, OH, OW, O): the output's own memory order
        if not dyt.flags.c_contiguous or dyt.dtype != dt:
            dyt = copy_into(np.empty(dyt.shape, dtype=dt), dyt)
        d2 = dyt.reshape(n * p, o)
        # W split by kernel offset, (kh·kw, O, C): dy₂ times each part is that offset's
        # share of dcols = dy₂ W₂ as one contiguous block, for contiguous adds
        w_parts = np.ascontiguousarray(self.weight.data.transpose(2, 3, 0, 1)).reshape(-1, o, c)
        dxp = np.empty((n, hp, wp, c), dtype=dt) if want_dx else None

        def job(i: int, _slot: int) -> None:
            n0, n1 = runs[i]
            cols = self._columns(n0, n1)
            d = d2[n0 * p : n1 * p]
            matmul_k_chunks(cols.T, d, dwb[i])  # [dWᵀ; dbᵀ] of these images
            if not want_dx:
                return
            # the columns are spent: their memory takes dcols, split by kernel offset
            parts = cols.reshape(-1)[: kh * kw * d.shape[0] * c].reshape(kh * kw, -1, c)
            matmul_pieces(d, w_parts, parts)
            dxs = dxp[n0:n1]
            dxs[...] = 0
            col2im_nhwc_add(parts, dxs, kh, kw, sh, sw, oh, ow)

        for_each(job, len(runs), gemm=True)
        if not want_dx:
            return None
        return unpad2d(dxp.transpose(0, 3, 1, 2), self._pad)

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
