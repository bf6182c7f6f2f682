"""The three column layouts of a convolution: channel-major, flat (shifted rows) and
pixel-major, each with its col2im.

Shapes: x is (N, C, H, W); a kernel is kh x kw with strides (sh, sw); the output
is OH = (H + pt + pb - kh) // sh + 1 by OW = (W + pl + pr - kw) // sw + 1.
The textbook im2col/col2im (barenet.reference.conv) build one (C·kh·kw, N·OH·OW)
matrix for the whole batch; these write a run of images at a time into a buffer the
caller keeps in cache, in the memory order that makes the copies longest.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .gemm import matmul_k_chunks
from .parallel import chunked, copy_into


def windows(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> np.ndarray:
    """Read-only strided view (N, C, kh, kw, OH, OW) of every window of xp."""
    s0, s1, s2, s3 = xp.strides
    return as_strided(
        xp,
        shape=(xp.shape[0], xp.shape[1], kh, kw, oh, ow),
        strides=(s0, s1, s2, s3, s2 * sh, s3 * sw),
        writeable=False,
    )


# -- channel-major kernels ----------------------------------------------------------------------
# Conv2d lays its columns out as (C·kh·kw, N·OH·OW), so that y = W₂ cols is a GEMM over
# the whole batch (run by run of images, see batch_chunks) whose (O, N·OH·OW) result is the
# output in (C, N, H, W) memory order, handed on as an (N, C, H, W) view (a transpose of
# axes, no copy). NumPy's element-wise ops keep that order, and the next layer's windows
# read it through strides.


def batch_chunks(n: int, bytes_per_image: int, budget: int = 1 << 20) -> list[tuple[int, int]]:
    """Split images 0..n-1 into runs (n0, n1) of about ``budget`` bytes of columns each,
    so that a GEMM consuming a run right after it is written reads it from cache. The runs
    are about equal (the last one at most a few images shorter), never a small remainder."""
    step = max(1, min(n, budget // max(1, bytes_per_image)))
    runs = -(-n // step)
    step = -(-n // runs)
    return [(n0, min(n, n0 + step)) for n0 in range(0, n, step)]


def im2col_into(xp: np.ndarray, kh, kw, sh, sw, oh, ow, out: np.ndarray) -> np.ndarray:
    """Write the columns of xp (n, C, Hp, Wp) into the first C*kh*kw rows of ``out``
    (rows, n*OH*OW), which may be a strided view (rows past C*kh*kw are left alone)."""
    n, c = xp.shape[:2]
    win = windows(xp, kh, kw, sh, sw, oh, ow).transpose(1, 2, 3, 0, 4, 5)
    copy_into(out[: c * kh * kw].reshape(c, kh, kw, n, oh, ow), win)  # on every core
    return out


def col2im_add(dcols: np.ndarray, dxp: np.ndarray, kh, kw, sh, sw, oh, ow) -> np.ndarray:
    """dxp[n, c, p*sh+i, q*sw+j] += dcols[(c, i, j), (n, p, q)]: kh*kw strided in-place adds
    into dxp (n, C, Hp, Wp) (any strides, e.g. a slice of a larger batch). Channels are
    split over threads; each pixel gets its adds in the same order whatever the split."""
    n, c = dxp.shape[:2]
    c6 = dcols.reshape(c, kh, kw, n, oh, ow)
    d = dxp.transpose(1, 0, 2, 3)

    def add(c0: int, c1: int) -> None:
        dc, cc = d[c0:c1], c6[c0:c1]
        for i in range(kh):
            for j in range(kw):
                dc[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += cc[
                    :, i, j
                ]

    chunked(add, c, dcols.nbytes)
    return dxp


# -- flat (shifted-row) kernels, stride 1 ----------------------------------------------------------
# With stride 1, the window offset (i, j) of a padded image stored row after row is a plain
# shift by i*Wp + j. Laying the padded batch out as xf (C, N*Hp*Wp [+ tail]) and computing the
# output at every one of the N*Hp*Wp positions — not only the N*OH*OW valid ones — turns each
# row of the columns into one contiguous copy:  cols[(c, t), s] = xf[c, s + off_t].
# Output positions with p >= OH or q >= OW are garbage and are dropped; the columns are a
# factor Hp*Wp / (OH*OW) wider, which pays while that factor is small.


def flat_offsets(kh: int, kw: int, wp: int) -> list[int]:
    """The shift off_t = i*wp + j of each window offset t = i*kw + j."""
    return [i * wp + j for i in range(kh) for j in range(kw)]


def _flat_windows(xf: np.ndarray, start: int, width: int, kh: int, kw: int, wp: int):
    """Read-only view (kh, kw, C, width): [i, j, c, s] = xf[c, start + i*wp + j + s]."""
    s0, s1 = xf.strides
    return as_strided(
        xf[:, start:], (kh, kw, xf.shape[0], width), (wp * s1, s1, s0, s1), writeable=False
    )


def im2col_flat(xf: np.ndarray, start: int, width: int, kh, kw, wp, out: np.ndarray):
    """out[(c, i, j), s] = xf[c, start + i*wp + j + s] for s < width, into the first
    C*kh*kw rows of ``out`` (rows, >= width), in one copy; xf must reach
    start + (kh-1)*wp + kw-1 + width."""
    c = xf.shape[0]
    win = _flat_windows(xf, start, width, kh, kw, wp)
    out[: c * kh * kw, :width].reshape(c, kh, kw, width)[...] = win.transpose(2, 0, 1, 3)
    return out


def im2col_flat_times(
    xf: np.ndarray, start: int, width: int, kh, kw, wp, d: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """out[(c, i, j), o] = Σ_s xf[c, start + i*wp + j + s] · d[o, s]  (s < width): the flat
    columns times dᵀ (d: (O, width)) without building the columns, one stacked GEMM over
    shifted views of xf (a weight gradient reads each column row only once). ``out`` is
    (C*kh*kw, O), any row stride."""
    c, o = xf.shape[0], d.shape[0]
    win = _flat_windows(xf, start, width, kh, kw, wp)
    prod = matmul_k_chunks(win, d.T, np.empty((kh, kw, c, o), dtype=out.dtype))
    out.reshape(c, kh, kw, o)[...] = prod.transpose(2, 0, 1, 3)
    return out


# -- pixel-major kernels ---------------------------------------------------------------------------
# With many channels and small feature maps, the channel-major columns copy rows of only OW
# (4 to 14) numbers at a time, and NumPy's per-row cost dominates. Pixel-major columns put
# one receptive field per row instead: cols[(n, p, q), (i, j, c)] = xp[n, p·sh + i, q·sw + j, c],
# read from the padded input in (N, Hp, Wp, C) memory order, where a window row (j, c) is
# kw·C contiguous numbers when sw = 1. Then y (N·OH·OW, O) = cols W₂ᵀ is the output in
# (N, OH, OW, O) memory order, handed on as an (N, O, OH, OW) view.


def im2col_nhwc(xp: np.ndarray, kh, kw, sh, sw, oh, ow, out: np.ndarray) -> np.ndarray:
    """Write the pixel-major columns of xp (n, Hp, Wp, C) into the first kh*kw*C columns of
    ``out`` (n*OH*OW, >= kh*kw*C), which may have longer rows (the columns past are left
    alone)."""
    n, _, _, c = xp.shape
    s0, s1, s2, s3 = xp.strides
    k = kh * kw * c
    if sw == 1 and s2 == c * s3:  # (j, c) is one contiguous run of kw·C numbers
        win = as_strided(xp, (n, oh, ow, kh, kw * c), (s0, s1 * sh, s2, s1, s3), writeable=False)
    else:
        win = as_strided(
            xp, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1, s2, s3), writeable=False
        )
    out[: n * oh * ow, :k].reshape(win.shape)[...] = win  # splitting axes: always a view
    return out


def col2im_nhwc_add(dparts: np.ndarray, dxp: np.ndarray, kh, kw, sh, sw, oh, ow) -> np.ndarray:
    """dxp[n, p*sh+i, q*sw+j, c] += dparts[i*kw + j, (n, p, q), c]: the adjoint of
    im2col_nhwc, with the columns' gradient split by kernel offset (kh*kw, n*OH*OW, C)
    (so each part is one contiguous block), added into dxp (n, Hp, Wp, C) by kh*kw
    strided in-place adds whose rows are OW·C numbers long when sw = 1."""
    n, _, _, c = dxp.shape
    d5 = dparts.reshape(kh, kw, n, oh, ow, c)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += d5[i, j]
    return dxp
