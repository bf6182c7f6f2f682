"""Conv2d, fast: the columns built and consumed a run of images at a time, on every core.

Same numbers as ``barenet.reference.conv`` (y₂ = W₂ cols + b, dW = dy₂ colsᵀ,
dx = col2im(W₂ᵀ dy₂)), computed differently:

- Runs of images: each run's columns are written into a per-thread buffer and used by
  the run's GEMMs while they are still in cache; runs go to the threads, each GEMM on
  one core (``parallel.for_each``). Backward rebuilds the columns instead of keeping
  them. Runs depend on the shapes only, so results do not depend on the thread count.
- Three column layouts (``columns.py``), chosen by shape (``choose_layout``):
  "flat" for stride-1 layers with little padding (shifted rows: contiguous copies,
  slightly wider GEMMs), "channel" (strided windows) and "pixel" for many input
  channels (one receptive field per row over (N, H, W, C) memory: long copies where
  the maps are small).
- The bias rides in the GEMM as one more column of W against a row of ones.
- The output keeps the memory order its GEMM wrote: (O, N, OH, OW), or (N, OH, OW, O)
  for pixel columns and for channel columns with many outputs (y₂ᵀ = colsᵀ W₂ᵀ), handed
  on as an (N, O, OH, OW) view; the next layers read it in that order.
"""

from __future__ import annotations

import numpy as np

from .columns import (
    batch_chunks,
    col2im_add,
    col2im_nhwc_add,
    flat_offsets,
    im2col_flat,
    im2col_flat_times,
    im2col_into,
    im2col_nhwc,
)
from .gemm import matmul_k_chunks, matmul_pieces
from .parallel import copy_into, for_each, scratch
from .tuning import settings

# Stride-1 layers whose padded image has at most this many times the output's pixels use
# the flat columns (the GEMM also computes the garbage positions, so this bounds the waste)
FLAT_MAX_RATIO = 1.25
# ... and whose C·kh·kw is at least the output channels: flat columns trade a cheaper
# im2col (C·kh·kw rows) for an extra copy of the output (O rows) out of the wider result.
FLAT_MIN_ROWS_PER_OUTPUT = 1
# Other layers whose window rows hold at least this many numbers (C·kw) use pixel-major
# columns: long contiguous copies where OW is small.
PIXEL_MIN_ROW = 32


class ConvCache:
    """What the backward of a fast convolution needs from its forward."""

    __slots__ = (
        "src",
        "runs",
        "layout",
        "out_nhwc",
        "in_shape",
        "out_shape",
        "w",
        "has_bias",
        "stride",
        "padding",
    )

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)

    @property
    def padded_size(self) -> tuple[int, int]:
        pt, pb, pl, pr = self.padding
        return self.in_shape[2] + pt + pb, self.in_shape[3] + pl + pr


def choose_layout(in_shape, w_shape, stride, padding) -> str:
    """The column layout a convolution of input ``in_shape`` (N, C, H, W) with weights
    ``w_shape`` (O, C, kh, kw) takes: ``settings.conv_layout`` when set (a forced "flat"
    on a strided layer gives "channel"), else chosen by shape."""
    o, c, kh, kw = w_shape
    pt, pb, pl, pr = padding
    hp, wp = in_shape[2] + pt + pb, in_shape[3] + pl + pr
    oh, ow = (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1
    forced = settings.conv_layout
    if forced is not None:
        return "channel" if forced == "flat" and tuple(stride) != (1, 1) else forced
    if (
        tuple(stride) == (1, 1)
        and hp * wp <= FLAT_MAX_RATIO * oh * ow
        and c * kh * kw >= o * FLAT_MIN_ROWS_PER_OUTPUT
    ):
        return "flat"
    return "pixel" if c * kw >= PIXEL_MIN_ROW else "channel"


def _runs(n: int, bytes_per_image: int) -> list[tuple[int, int]]:
    """Runs of about ``settings.run_bytes`` of columns, at least ``settings.min_runs`` of
    them when the batch allows (so that every thread has work)."""
    step = max(1, min(settings.run_bytes // max(1, bytes_per_image), -(-n // settings.min_runs)))
    return batch_chunks(n, 1, step)


def _zero_border(img: np.ndarray, padding, h: int, w: int) -> None:
    """Zero what lies outside the interior [pt : pt+h, pl : pl+w] of the last two axes of
    ``img`` (any view): the border of a buffer from np.empty, whose interior the caller
    fills (cheaper than zeroing the whole buffer)."""
    pt, _, pl, _ = padding
    img[..., :pt, :] = 0
    img[..., pt + h :, :] = 0
    img[..., pt : pt + h, :pl] = 0
    img[..., pt : pt + h, pl + w :] = 0


def _padded_flat(x: np.ndarray, padding, tail: int) -> np.ndarray:
    """x zero-padded into a (C, N·Hp·Wp + tail) buffer (border and tail zero)."""
    pt, pb, pl, pr = padding
    n, c, h, w = x.shape
    hp, wp = h + pt + pb, w + pl + pr
    buf = np.empty((c, n * hp * wp + tail), dtype=x.dtype)
    img = buf[:, : n * hp * wp].reshape(c, n, hp, wp)
    _zero_border(img, padding, h, w)
    buf[:, n * hp * wp :] = 0
    copy_into(img[:, :, pt : pt + h, pl : pl + w], x.transpose(1, 0, 2, 3))
    return buf


def _padded_nchw(x: np.ndarray, padding) -> np.ndarray:
    """x zero-padded, as an (N, C, Hp, Wp) view of (C, N, Hp, Wp) memory; x itself when
    there is no padding."""
    pt, pb, pl, pr = padding
    if pt == pb == pl == pr == 0:
        return x
    n, c, h, w = x.shape
    img = np.empty((c, n, h + pt + pb, w + pl + pr), dtype=x.dtype)
    _zero_border(img, padding, h, w)
    copy_into(img[:, :, pt : pt + h, pl : pl + w], x.transpose(1, 0, 2, 3))
    return img.transpose(1, 0, 2, 3)


def _padded_nhwc(x: np.ndarray, padding) -> np.ndarray:
    """x zero-padded into a C-contiguous (N, Hp, Wp, C) array; x's own memory when it is
    already laid out that way and there is no padding."""
    pt, pb, pl, pr = padding
    xt = x.transpose(0, 2, 3, 1)
    if pt == pb == pl == pr == 0 and xt.flags.c_contiguous:
        return xt
    n, c, h, w = x.shape
    buf = np.empty((n, h + pt + pb, w + pl + pr, c), dtype=x.dtype)
    _zero_border(buf.transpose(0, 3, 1, 2), padding, h, w)
    copy_into(buf[:, pt : pt + h, pl : pl + w], xt)
    return buf


def _w2(w: np.ndarray, layout: str) -> np.ndarray:
    """W as (O, C·kh·kw), its columns in the order of the column rows: (c, i, j), or
    (i, j, c) for pixel-major columns (a copy)."""
    if layout == "pixel":
        return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)
    return w.reshape(w.shape[0], -1)


def _columns(cache: ConvCache, n0: int, n1: int) -> np.ndarray:
    """The columns of images n0..n1-1 in this thread's scratch, with a row (pixel
    layout: a column) of ones when there is a bias."""
    w, src = cache.w, cache.src
    (_, _, kh, kw), (sh, sw) = w.shape, cache.stride
    _, _, oh, ow = cache.out_shape
    ck = w[0].size
    rows = ck + cache.has_bias
    if cache.layout == "pixel":
        cols = scratch("conv_cols", ((n1 - n0) * oh * ow, rows), src.dtype)
        im2col_nhwc(src[n0:n1], kh, kw, sh, sw, oh, ow, cols)
        cols[:, ck:] = 1
        return cols
    if cache.layout == "flat":
        hp, wp = cache.padded_size
        width = (n1 - n0) * hp * wp
        cols = scratch("conv_cols", (rows, width), src.dtype)
        im2col_flat(src, n0 * hp * wp, width, kh, kw, wp, cols)
    else:
        cols = scratch("conv_cols", (rows, (n1 - n0) * oh * ow), src.dtype)
        im2col_into(src[n0:n1], kh, kw, sh, sw, oh, ow, cols)
    cols[ck:] = 1
    return cols


def conv2d_forward(x: np.ndarray, w: np.ndarray, b, stride, padding):
    """y = W ⋆ x + b (see ``reference.conv.conv2d_forward``); returns (y, ConvCache)."""
    o, c, kh, kw = w.shape
    pt, pb, pl, pr = padding
    n, _, h, wd = x.shape
    hp, wp = h + pt + pb, wd + pl + pr
    oh, ow = (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1
    p, rows = oh * ow, w[0].size + (b is not None)
    layout = choose_layout(x.shape, w.shape, stride, padding)
    span = hp * wp if layout == "flat" else p  # columns (pixel: rows) per image
    runs = _runs(n, rows * span * x.dtype.itemsize)
    if layout == "flat":
        src = _padded_flat(x, padding, tail=flat_offsets(kh, kw, wp)[-1])
    elif layout == "pixel":
        src = _padded_nhwc(x, padding)
    else:
        src = _padded_nchw(x, padding)
    w2 = _w2(w, layout)
    if b is not None:  # the bias rides in the GEMM, against a row of ones
        w2 = np.concatenate([w2, b[:, None]], axis=1)
    # Pixel columns give the output in (N, OH, OW, O) memory; so do channel columns
    # for many output channels (y₂ᵀ = colsᵀ W₂ᵀ), whose rows of O numbers then serve
    # the element-wise and pooling layers and the next convolution's pixel columns.
    out_nhwc = layout == "pixel" or (layout == "channel" and o >= settings.nhwc_out_min_channels)
    cache = ConvCache(
        src=src,
        runs=runs,
        layout=layout,
        out_nhwc=out_nhwc,
        in_shape=x.shape,
        out_shape=(n, o, oh, ow),
        w=w,
        has_bias=b is not None,
        stride=tuple(stride),
        padding=tuple(padding),
    )
    if out_nhwc:
        y2 = np.empty((n * p, o), dtype=x.dtype)
        w2t = np.ascontiguousarray(w2.T)

        def job(i: int, _slot: int) -> None:
            n0, n1 = runs[i]
            cols = _columns(cache, n0, n1)
            a = cols.T if layout == "channel" else cols
            matmul_pieces(a, w2t, y2[n0 * p : n1 * p])

        for_each(job, len(runs), gemm=True)
        return y2.reshape(n, oh, ow, o).transpose(0, 3, 1, 2), cache

    y2 = np.empty((o, n * p), dtype=x.dtype)  # the output in (O, N, OH, OW) memory order

    def job(i: int, _slot: int) -> None:
        n0, n1 = runs[i]
        cols = _columns(cache, n0, n1)
        if layout == "flat":  # every padded position is computed; the valid ones are kept
            yf = scratch("conv_out", (o, cols.shape[1]), x.dtype)
            matmul_pieces(w2, cols, yf)
            y2[:, n0 * p : n1 * p].reshape(o, n1 - n0, oh, ow)[...] = yf.reshape(
                o, n1 - n0, hp, wp
            )[:, :, :oh, :ow]
        else:
            matmul_pieces(w2, cols, y2[:, n0 * p : n1 * p])

    for_each(job, len(runs), gemm=True)
    return y2.reshape(o, n, oh, ow).transpose(1, 0, 2, 3), cache


def conv2d_backward(dy: np.ndarray, cache: ConvCache, need_dx: bool = True):
    """(dx, dW, db) as in ``reference.conv.conv2d_backward``; dx None when not
    ``need_dx``, db None without a bias."""
    w = cache.w
    o, c, kh, kw = w.shape
    ck = w[0].size
    rows = ck + cache.has_bias
    dwb = np.empty((len(cache.runs), rows, o), dtype=w.dtype)  # per-run dWᵀ (and db)
    if cache.layout == "pixel":
        dx = _backward_pixel(dy, cache, dwb, need_dx)
    else:
        dx = _backward_channel(dy, cache, dwb, need_dx)
    total = dwb.sum(axis=0)  # in run order: the same sum whatever the thread count
    if cache.layout == "pixel":  # rows in (i, j, c) order
        dw = total[:ck].reshape(kh, kw, c, o).transpose(3, 2, 0, 1)
    else:
        dw = total[:ck].T.reshape(w.shape)
    return dx, dw, (total[ck] if cache.has_bias else None)


def _unpad(dxp: np.ndarray, padding) -> np.ndarray:
    """The (N, C, H, W) interior of the padded (N, C, Hp, Wp) gradient (a view)."""
    pt, pb, pl, pr = padding
    hp, wp = dxp.shape[2:]
    return dxp[:, :, pt : hp - pb, pl : wp - pr]


def _backward_channel(dy, cache: ConvCache, dwb, need_dx: bool):
    """dWᵀ per run into dwb; dx (None when not wanted) for the flat and channel layouts."""
    n, o, oh, ow = cache.out_shape
    w = cache.w
    _, c, kh, kw = w.shape
    sh, sw = cache.stride
    ck, p = w[0].size, oh * ow
    hp, wp = cache.padded_size
    wt = w.reshape(o, ck).T
    runs, flat = cache.runs, cache.layout == "flat"
    rows, lead = ck + cache.has_bias, flat_offsets(kh, kw, wp)[-1]
    # dx, padded, in (C, N, Hp, Wp) order
    dxp = np.empty((c, n * hp * wp), dtype=w.dtype) if need_dx else None

    if flat and need_dx:  # W rotated by 180°, as (C, O·kh·kw) in (o, i, j) order
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
        im2col_flat_times(cache.src, n0 * hp * wp, width, kh, kw, wp, d, dwb[i, :ck])
        if rows > ck:
            d.sum(axis=1, out=dwb[i, ck])
        if need_dx:  # dx[c, s] = Σ_{o,i,j} W[o,c,i,j] d[o, s - i·wp - j]: a convolution
            # of the lead-padded d (its flat columns read dl[o, s + i'·wp + j'], i.e.
            # the rotated offset i' = kh-1-i, j' = kw-1-j) with the rotated W
            cols = scratch("conv_cols", (o * kh * kw, width), w.dtype)
            im2col_flat(dl, 0, width, kh, kw, wp, cols)
            matmul_pieces(wrot, cols, dxp[:, n0 * hp * wp : n1 * hp * wp])

    def channel_job(i: int, _slot: int) -> None:
        n0, n1 = runs[i]
        m = n1 - n0
        if cache.out_nhwc:  # dy₂ as the transpose of an (m·OH·OW, O) array
            d = dy[n0:n1].transpose(0, 2, 3, 1).astype(w.dtype, copy=False)
            d = d.reshape(m * p, o).T
        else:
            d = dy[n0:n1].transpose(1, 0, 2, 3).astype(w.dtype, copy=False)
            d = d.reshape(o, m * p)
        cols = _columns(cache, n0, n1)
        matmul_k_chunks(cols, d.T, dwb[i])  # [dWᵀ; dbᵀ] of these images
        if need_dx:
            dcols = cols[:ck]  # the columns are spent: their rows take dcols = W₂ᵀ dy₂
            np.matmul(wt, d, out=dcols)
            dxs = dxp[:, n0 * hp * wp : n1 * hp * wp]
            dxs[...] = 0
            d6 = dxs.reshape(c, m, hp, wp).transpose(1, 0, 2, 3)
            col2im_add(dcols, d6, kh, kw, sh, sw, oh, ow)

    for_each(flat_job if flat else channel_job, len(runs), gemm=True)
    if not need_dx:
        return None
    return _unpad(dxp.reshape(c, n, hp, wp).transpose(1, 0, 2, 3), cache.padding)


def _backward_pixel(dy, cache: ConvCache, dwb, need_dx: bool):
    """The pixel layout: dWᵀ per run = colsᵀ dy₂, dcols = dy₂ W₂ (dy₂: (N·OH·OW, O)),
    dx = col2im of dcols, in (N, H, W, C) memory."""
    n, o, oh, ow = cache.out_shape
    w = cache.w
    _, c, kh, kw = w.shape
    sh, sw = cache.stride
    dt, p = w.dtype, oh * ow
    hp, wp = cache.padded_size
    runs = cache.runs
    dyt = dy.transpose(0, 2, 3, 1)  # (N, OH, OW, O): the output's own memory order
    if not dyt.flags.c_contiguous or dyt.dtype != dt:
        dyt = copy_into(np.empty(dyt.shape, dtype=dt), dyt)
    d2 = dyt.reshape(n * p, o)
    # W split by kernel offset, (kh·kw, O, C): dy₂ times each part is that offset's
    # share of dcols = dy₂ W₂ as one contiguous block, for contiguous adds
    w_parts = np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(-1, o, c)
    dxp = np.empty((n, hp, wp, c), dtype=dt) if need_dx else None

    def job(i: int, _slot: int) -> None:
        n0, n1 = runs[i]
        cols = _columns(cache, n0, n1)
        d = d2[n0 * p : n1 * p]
        matmul_k_chunks(cols.T, d, dwb[i])  # [dWᵀ; dbᵀ] of these images
        if not need_dx:
            return
        # the columns are spent: their memory takes dcols, split by kernel offset
        parts = cols.reshape(-1)[: kh * kw * d.shape[0] * c].reshape(kh * kw, -1, c)
        matmul_pieces(d, w_parts, parts)
        dxs = dxp[n0:n1]
        dxs[...] = 0
        col2im_nhwc_add(parts, dxs, kh, kw, sh, sw, oh, ow)

    for_each(job, len(runs), gemm=True)
    if not need_dx:
        return None
    return _unpad(dxp.transpose(0, 3, 1, 2), cache.padding)
