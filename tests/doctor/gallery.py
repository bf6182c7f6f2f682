"""Planted bugs: each a small variation of a correct barenet layer or reference function,
the mistake people make, and the diagnosis the doctor must give it.

``GALLERY`` lists ``Bug``s: ``make()`` returns what ``check_layer`` takes and the keyword
arguments it needs; ``tensor`` is the tensor the diagnosis is read from, ``expected`` what
it must be, ``hint_words`` what its hint must say and ``factor`` the k of ``scaled``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import barenet as bn
from barenet import reference as R


@dataclass(frozen=True)
class Bug:
    id: str
    what: str
    make: Callable[[], tuple[object, dict]]
    input_shape: tuple[int, ...]
    expected: str
    tensor: str = "input"
    # words the hint must hold (the overlapping rows, the sample, the factor...)
    hint_words: tuple[str, ...] = ()
    factor: float | None = None


def _conv_args(stride, padding):
    return {"stride": (stride, stride), "padding": (padding,) * 4}


def _conv_backward(col2im):
    """The reference conv2d backward with another col2im."""

    def backward(dy, cache):
        cols, x_pad_shape, w, has_bias, (sh, sw), (pt, pb, pl, pr) = cache
        n, o, oh, ow = dy.shape
        kh, kw = w.shape[2:]
        dy2 = dy.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
        dw = (dy2 @ cols.T).reshape(w.shape)
        db = dy2.sum(axis=1)
        dx_pad = col2im(w.reshape(o, -1).T @ dy2, x_pad_shape, kh, kw, sh, sw, oh, ow)
        hp, wp = x_pad_shape[2:]
        return dx_pad[:, :, pt : hp - pb, pl : wp - pr], dw, db

    return backward


def col2im_assign(dcols, x_pad_shape, kh, kw, sh, sw, oh, ow):
    """col2im that assigns (=) where it must add (+=)."""
    n, c = x_pad_shape[:2]
    dx_pad = np.zeros(x_pad_shape)
    d = dcols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        for j in range(kw):
            dx_pad[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] = d[
                :, i, j
            ].transpose(1, 0, 2, 3)
    return dx_pad


def col2im_inside_only(pad):
    """col2im that skips every window reaching into the padding (written by someone who
    avoided negative indices instead of padding)."""

    def col2im(dcols, x_pad_shape, kh, kw, sh, sw, oh, ow):
        n, c, hp, wp = x_pad_shape
        dx_pad = np.zeros(x_pad_shape)
        d = dcols.reshape(c, kh, kw, n, oh, ow)
        for p in range(oh):
            for q in range(ow):
                r0, c0 = p * sh, q * sw
                if r0 < pad or c0 < pad or r0 + kh > hp - pad or c0 + kw > wp - pad:
                    continue
                dx_pad[:, :, r0 : r0 + kh, c0 : c0 + kw] += d[:, :, :, :, p, q].transpose(
                    3, 0, 1, 2
                )
        return dx_pad

    return col2im


def conv_backward_no_unpad(dy, cache):
    """Returns the gradient of the padded input."""
    cols, x_pad_shape, w, has_bias, (sh, sw), _ = cache
    n, o, oh, ow = dy.shape
    kh, kw = w.shape[2:]
    dy2 = dy.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
    dx_pad = R.col2im(w.reshape(o, -1).T @ dy2, x_pad_shape, kh, kw, sh, sw, oh, ow)
    return dx_pad, (dy2 @ cols.T).reshape(w.shape), dy2.sum(axis=1)


def _conv(backward, stride=2, padding=1):
    def make():
        return (R.conv2d_forward, backward), {
            "params": {"w": (4, 3, 3, 3), "b": (4,)},
            "args": _conv_args(stride, padding),
        }

    return make


def linear_backward_transposed(dy, cache):
    """dW = xᵀ·dy, of shape (in, out)."""
    x, w, _ = cache
    return dy @ w, x.T @ dy, dy.sum(axis=0)


def linear_backward_mean_bias(dy, cache):
    """db = mean of dy over the batch, where the sum belongs."""
    x, w, _ = cache
    return dy @ w, dy.T @ x, dy.mean(axis=0)


def linear_backward_last_sample(dy, cache):
    """dW assigned in a loop over samples: only the last sample's share survives."""
    x, w, _ = cache
    dw = np.zeros_like(w)
    for n in range(x.shape[0]):
        dw = np.outer(dy[n], x[n])  # = where += belongs
    return dy @ w, dw, dy.sum(axis=0)


def _linear(backward):
    def make():
        return (R.linear_forward, backward), {"params": {"w": (4, 6), "b": (4,)}}

    return make


def maxpool_backward_assign(dy, cache):
    """Routes dy with = instead of +=: overlapping windows overwrite each other."""
    arg, x_shape, (kh, kw), (sh, sw) = cache
    oh, ow = dy.shape[2:]
    dx = np.zeros(x_shape)
    for t in range(kh * kw):
        i, j = divmod(t, kw)
        dx[..., i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] = dy * (arg == t)
    return dx


def maxpool_backward_skips_channel_0(dy, cache):
    """A channel loop that starts at 1."""
    dx = R.maxpool2d_backward(dy, cache)
    dx[:, 0] = 0
    return dx


def avgpool_backward_no_division(dy, cache):
    """Spreads dy over the window without dividing by kh·kw."""
    return R.avgpool2d_backward(dy, cache) * (cache[1][0] * cache[1][1])


def _pool(forward, backward, kernel, stride):
    def make():
        return (forward, backward), {"args": {"kernel": (kernel, kernel), "stride": (stride,) * 2}}

    return make


def _bn_forward(x, gamma, beta):
    y, _, _, cache = R.batchnorm_forward_train(x, gamma, beta, 1e-5)
    return y, cache


def bn_backward_mean_beta(dy, cache):
    """dβ = mean of dy where the sum belongs."""
    dx, dgamma, dbeta = R.batchnorm_backward(dy, cache)
    return dx, dgamma, dbeta / (dy.size // dy.shape[1])


def bn_backward_constant_statistics(dy, cache):
    """dx = dy·γ/σ: the batch mean and variance treated as constants."""
    xhat, invstd, gamma, _ = cache
    dx, dgamma, dbeta = R.batchnorm_backward(dy, cache)
    return dy * (gamma * invstd).reshape(1, -1, 1, 1), dgamma, dbeta


def _bn(backward):
    def make():
        rng = np.random.default_rng(5)
        return (_bn_forward, backward), {
            "params": {"gamma": rng.uniform(0.5, 1.5, 3), "beta": rng.standard_normal(3)}
        }

    return make


class CrossEntropyNotAveraged(bn.SoftmaxCrossEntropy):
    """The loss is a mean over the batch, its gradient is not divided by N."""

    def backward(self, dloss=1.0):
        return super().backward(dloss) * self._grad.shape[0]


class CrossEntropyFlipped(bn.SoftmaxCrossEntropy):
    """dL/dz = onehot - p where p - onehot belongs."""

    def backward(self, dloss=1.0):
        return -super().backward(dloss)


class SigmoidSignSlip(bn.Sigmoid):
    """dx = dy · y (y - 1) where dy · y (1 - y) belongs."""

    def backward(self, dy):
        y = self._cache
        return dy * y * (y - 1)


def leaky_relu_backward_as_relu(dy, cache):
    """The derivative of ReLU (0 for x < 0) where LeakyReLU's is the slope."""
    mask, _ = cache
    return dy * mask


def leaky_relu_backward_in_place(dy, cache):
    """Right values, written into the dy it was handed."""
    mask, slope = cache
    dy[~mask] *= slope
    return dy


class ReLUInPlace(bn.ReLU):
    """forward as np.maximum(x, 0, out=x): the caller's input changes."""

    def forward(self, x):
        self._mask = x > 0
        return np.maximum(x, 0, out=x)

    def backward(self, dy):
        return dy * self._mask


class DropoutGlobalRandom(bn.Module):
    """Draws its mask from np.random's global state in every forward."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        self.mask = (np.random.rand(*x.shape) >= self.p) / (1 - self.p)
        return x * self.mask

    def backward(self, dy):
        return dy * self.mask


def dropout_backward_unscaled(dy, mask):
    """Forgets the 1/(1-p) of inverted dropout in backward."""
    return dy * (mask != 0)


def _dropout(backward, p=0.4):
    def make():
        return (R.dropout_forward, backward), {
            "args": {"p": p},
            "fresh": {"rng": lambda: np.random.default_rng(0)},
        }

    return make


class AssignsGrad(bn.Linear):
    """Sets .grad where it must add into it."""

    def backward(self, dy):
        x = self._cache[0]
        self.weight.grad = dy.T @ x
        self.bias.grad = dy.sum(axis=0)
        return dy @ self.weight.data


class ConvAssign(bn.Conv2d):
    """A Conv2d on the reference kernels whose col2im assigns."""

    def forward(self, x):
        b = self.bias.data
        y, self._ref = R.conv2d_forward(x, self.weight.data, b, self.stride, self._pad)
        return y

    def backward(self, dy):
        dx, dw, db = _conv_backward(col2im_assign)(dy, self._ref)
        self.weight.grad += dw
        self.bias.grad += db
        return dx


def _model_with_broken_conv():
    return bn.Sequential(bn.Conv2d(2, 3, 3, padding=1), bn.ReLU(), ConvAssign(3, 2, 3, stride=2))


def _layer(make_layer, **kw):
    def make():
        return make_layer(), kw

    return make


GALLERY: tuple[Bug, ...] = (
    Bug("conv-col2im-assign", "col2im assigns where windows overlap (stride 2 < kernel 3)",
        _conv(_conv_backward(col2im_assign)), (2, 3, 9, 9), "missing-accumulation",
        hint_words=("rows 1, 3, 5, 7", "columns 1, 3, 5, 7")),
    Bug("conv-col2im-assign-s1", "col2im assigns, stride 1, no padding",
        _conv(_conv_backward(col2im_assign), stride=1, padding=0), (1, 3, 6, 6),
        "missing-accumulation"),
    Bug("conv-border", "col2im drops the windows that reach into the padding",
        _conv(_conv_backward(col2im_inside_only(1)), stride=1, padding=1), (2, 3, 7, 7),
        "border", hint_words=("rows 0, 1, 5, 6",)),
    Bug("conv-no-unpad", "dx of the padded input returned", _conv(conv_backward_no_unpad),
        (2, 3, 9, 9), "shape", hint_words=("padding",)),
    Bug("linear-dw-transposed", "dW = xᵀ·dy", _linear(linear_backward_transposed), (5, 6),
        "transposed", tensor="w"),
    Bug("linear-db-mean", "db = mean of dy", _linear(linear_backward_mean_bias), (5, 6),
        "scaled", tensor="b", hint_words=("1/N = 1/5",), factor=0.2),
    Bug("linear-dw-last-sample", "dW assigned in a loop over the samples",
        _linear(linear_backward_last_sample), (3, 6), "missing-accumulation", tensor="w"),
    Bug("linear-assigns-grad", "sets .grad instead of adding into it", _layer(
        lambda: AssignsGrad(6, 4)), (5, 6), "missing-accumulation", tensor="weight"),
    Bug("maxpool-assign", "max-pool backward assigns where windows overlap (3x3, stride 2)",
        _pool(R.maxpool2d_forward, maxpool_backward_assign, 3, 2), (2, 2, 9, 9),
        "missing-accumulation", hint_words=("rows 2, 4, 6",)),
    Bug("maxpool-channel-0", "a channel loop that starts at 1",
        _pool(R.maxpool2d_forward, maxpool_backward_skips_channel_0, 2, 2), (2, 3, 6, 6),
        "partial", hint_words=("channel 0",)),
    Bug("avgpool-no-division", "avg-pool backward without 1/(kh·kw)",
        _pool(R.avgpool2d_forward, avgpool_backward_no_division, 2, 2), (2, 2, 6, 6),
        "scaled", hint_words=("kh·kw = 4",), factor=4.0),
    Bug("batchnorm-dbeta-mean", "dβ = mean of dy", _bn(bn_backward_mean_beta), (2, 3, 4, 4),
        "scaled", tensor="beta", hint_words=("1/(N·H·W) = 1/32",), factor=1 / 32),
    Bug("batchnorm-constant-statistics", "dx ignores the batch statistics' dependence on x",
        _bn(bn_backward_constant_statistics), (2, 3, 4, 4), "wrong"),
    Bug("cross-entropy-not-averaged", "dL/dz not divided by N",
        _layer(CrossEntropyNotAveraged), (4, 5), "scaled", hint_words=("N = 4",), factor=4.0),
    Bug("cross-entropy-flipped", "dL/dz = onehot - p", _layer(CrossEntropyFlipped), (4, 5),
        "sign", factor=-1.0),
    Bug("sigmoid-sign", "dx = dy·y(y - 1)", _layer(SigmoidSignSlip), (4, 7), "sign"),
    Bug("leaky-relu-as-relu", "LeakyReLU's backward with ReLU's derivative",
        lambda: ((R.leaky_relu_forward, leaky_relu_backward_as_relu), {"args": {"slope": 0.1}}),
        (4, 7), "zero", hint_words=("where the input is negative",)),
    Bug("leaky-relu-in-place", "writes into dy",
        lambda: ((R.leaky_relu_forward, leaky_relu_backward_in_place), {"args": {"slope": 0.1}}),
        (4, 7), "mutates-input", hint_words=("dy",)),
    Bug("relu-in-place-forward", "np.maximum(x, 0, out=x)", _layer(ReLUInPlace), (4, 7),
        "mutates-input", hint_words=("forward",)),
    Bug("dropout-global-random", "mask from np.random in every forward",
        _layer(DropoutGlobalRandom), (4, 6), "not-deterministic"),
    Bug("dropout-unscaled-backward", "backward forgets 1/(1-p)",
        _dropout(dropout_backward_unscaled), (4, 6), "scaled", hint_words=("1-p = 0.6",),
        factor=0.6),
    Bug("model-broken-conv", "a model whose third layer's col2im assigns",
        _layer(_model_with_broken_conv), (2, 2, 7, 7), "missing-accumulation",
        tensor="2:input"),
)  # fmt: skip
