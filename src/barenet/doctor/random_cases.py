"""Random correct layers, for measuring how often the doctor calls a right gradient wrong
(``benchmarks/doctor_false_alarms.py``, and a smaller run in the tests).

``random_case(rng)`` draws one: a case of ``barenet.testing.LAYER_CASES`` on a random
input and kernel mode, or a layer of random configuration (shapes, strides, paddings,
slopes, dropout rates, batch sizes from 1), as a barenet layer or as the pair of
``barenet.reference`` functions, or a small random model whose inner ReLUs and max-pools
meet values near their kinks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import layers as L
from .. import reference as R
from ..core.config import get_default_dtype, set_default_dtype
from ..core.module import Sequential
from ..losses import SoftmaxCrossEntropy
from ..testing import LAYER_CASES

__all__ = ["RandomCase", "random_case"]


@dataclass
class RandomCase:
    """One correct layer: ``check_layer(make(), input_shape, **kwargs)`` under kernel
    ``mode`` must say ok."""

    label: str
    make: Callable[[], object]
    input_shape: tuple[int, ...]
    kwargs: dict = field(default_factory=dict)
    mode: str = "fast"
    seed: int = 0


def _i(rng, lo, hi) -> int:
    return int(rng.integers(lo, hi + 1))


def _from_table(rng) -> RandomCase:
    case = LAYER_CASES[int(rng.integers(len(LAYER_CASES)))]
    return RandomCase(f"table:{case.id}", case.make, case.input_shape)


def _conv(rng) -> RandomCase:
    cin, cout = _i(rng, 1, 3), _i(rng, 1, 4)
    kh, kw = _i(rng, 1, 4), _i(rng, 1, 4)
    sh, sw = _i(rng, 1, 3), _i(rng, 1, 3)
    ph, pw = _i(rng, 0, min(2, kh - 1)), _i(rng, 0, min(2, kw - 1))
    n = _i(rng, 1, 3)
    h = max(1, kh - 2 * ph) + _i(rng, 0, 6)
    w = max(1, kw - 2 * pw) + _i(rng, 0, 6)
    bias = bool(rng.integers(2))
    label = f"conv {cin}->{cout} k{kh}x{kw} s{sh}x{sw} p{ph}x{pw} on {n}x{cin}x{h}x{w}"
    if rng.integers(2):
        return RandomCase(
            "Conv2d " + label,
            lambda: L.Conv2d(cin, cout, (kh, kw), (sh, sw), (ph, pw), bias=bias),
            (n, cin, h, w),
        )
    params = {"w": (cout, cin, kh, kw), "b": (cout,) if bias else None}
    args = {"stride": (sh, sw), "padding": (ph, ph, pw, pw)}
    return RandomCase(
        "conv2d_forward " + label,
        lambda: (R.conv2d_forward, R.conv2d_backward),
        (n, cin, h, w),
        {"params": params, "args": args},
    )


def _pool(rng) -> RandomCase:
    kind = ["max", "avg"][int(rng.integers(2))]
    kh, kw = _i(rng, 1, 3), _i(rng, 1, 3)
    sh, sw = _i(rng, 1, 3), _i(rng, 1, 3)
    shape = (_i(rng, 1, 3), _i(rng, 1, 3), kh + _i(rng, 0, 6), kw + _i(rng, 0, 6))
    label = f"{kind}pool k{kh}x{kw} s{sh}x{sw} on {'x'.join(map(str, shape))}"
    if rng.integers(2):
        cls = L.MaxPool2d if kind == "max" else L.AvgPool2d
        return RandomCase(cls.__name__ + " " + label, lambda: cls((kh, kw), (sh, sw)), shape)
    fns = {
        "max": (R.maxpool2d_forward, R.maxpool2d_backward),
        "avg": (R.avgpool2d_forward, R.avgpool2d_backward),
    }[kind]
    return RandomCase(
        f"{kind}pool2d_forward " + label,
        lambda: fns,
        shape,
        {"args": {"kernel": (kh, kw), "stride": (sh, sw)}},
    )


def _linear(rng) -> RandomCase:
    fin, fout = _i(rng, 1, 8), _i(rng, 1, 6)
    lead = (_i(rng, 1, 5),) if rng.integers(3) else (_i(rng, 1, 3), _i(rng, 1, 3))
    bias = bool(rng.integers(2))
    label = f"linear {fin}->{fout} on {lead + (fin,)}"
    if rng.integers(2):
        return RandomCase("Linear " + label, lambda: L.Linear(fin, fout, bias=bias), lead + (fin,))
    params = {"w": (fout, fin), "b": (fout,) if bias else None}
    return RandomCase(
        "linear_forward " + label,
        lambda: (R.linear_forward, R.linear_backward),
        lead + (fin,),
        {"params": params},
    )


def _batchnorm(rng) -> RandomCase:
    c = _i(rng, 1, 4)
    four = bool(rng.integers(2))
    shape = (_i(rng, 2, 4), c, _i(rng, 1, 4), _i(rng, 1, 4)) if four else (_i(rng, 2, 6), c)
    affine = bool(rng.integers(3))
    cls = L.BatchNorm2d if four else L.BatchNorm1d
    seed = int(rng.integers(2**31))

    def make():
        m = cls(c, affine=affine)
        r = np.random.default_rng(seed)
        if affine:
            m.weight.data[...] = r.uniform(0.5, 1.5, c)
            m.bias.data[...] = r.standard_normal(c)
        return m

    return RandomCase(f"{cls.__name__}({c}) affine={affine} on {shape}", make, shape)


def _elementwise(rng) -> RandomCase:
    shape = tuple(_i(rng, 1, 4) for _ in range(_i(rng, 2, 4)))
    choice = int(rng.integers(6))
    if choice == 0:
        slope = float(rng.choice([0.01, 0.1, 0.2, 2.0]))
        return RandomCase(f"LeakyReLU({slope}) on {shape}", lambda: L.LeakyReLU(slope), shape)
    if choice == 1:
        slope = float(rng.choice([0.01, 0.3]))
        return RandomCase(
            f"leaky_relu_forward({slope}) on {shape}",
            lambda: (R.leaky_relu_forward, R.leaky_relu_backward),
            shape,
            {"args": {"slope": slope}},
        )
    if choice == 2:
        axis = int(rng.integers(-1, len(shape)))
        return RandomCase(f"Softmax(axis={axis}) on {shape}", lambda: L.Softmax(axis), shape)
    cls = [L.ReLU, L.Sigmoid, L.Tanh][choice - 3]
    return RandomCase(f"{cls.__name__} on {shape}", cls, shape)


def _dropout(rng) -> RandomCase:
    p = float(rng.choice([0.1, 0.3, 0.5, 0.8]))
    shape = (_i(rng, 1, 6), _i(rng, 1, 8))
    seed = int(rng.integers(2**31))
    if rng.integers(2):
        return RandomCase(f"Dropout({p}) on {shape}", lambda: L.Dropout(p, seed=seed), shape)
    return RandomCase(
        f"dropout_forward({p}) on {shape}",
        lambda: (R.dropout_forward, R.dropout_backward),
        shape,
        {"args": {"p": p}, "fresh": {"rng": lambda: np.random.default_rng(seed)}},
    )


def _loss(rng) -> RandomCase:
    n, k = _i(rng, 1, 6), _i(rng, 2, 7)
    smooth = float(rng.choice([0.0, 0.0, 0.1]))
    target = None
    if rng.integers(3) == 0:
        t = np.random.default_rng(int(rng.integers(2**31))).random((n, k))
        target = t / t.sum(axis=1, keepdims=True)
    return RandomCase(
        f"SoftmaxCrossEntropy(label_smoothing={smooth}) on {(n, k)}",
        lambda: SoftmaxCrossEntropy(label_smoothing=smooth),
        (n, k),
        {"target": target} if target is not None else {},
    )


def _model(rng) -> RandomCase:
    c, h = _i(rng, 1, 2), _i(rng, 4, 7)
    mid = _i(rng, 2, 3)
    pool = bool(rng.integers(2))
    hh = h // 2 if pool else h

    def make():
        layers = [L.Conv2d(c, mid, 3, padding=1), L.ReLU()]
        if pool:
            layers.append(L.MaxPool2d(2))
        layers += [L.Flatten(), L.Linear(mid * hh * hh, 3), L.Tanh()]
        return Sequential(*layers)

    return RandomCase(f"model conv-relu{'-maxpool' if pool else ''}-linear on {h}x{h}",
                      make, (_i(rng, 1, 3), c, h, h))  # fmt: skip


_DRAWS = (_from_table, _conv, _conv, _pool, _pool, _linear, _batchnorm, _elementwise,
          _dropout, _loss, _model)  # fmt: skip


def random_case(rng: np.random.Generator) -> RandomCase:
    """One correct layer, drawn from ``rng`` (see the module docstring)."""
    case = _DRAWS[int(rng.integers(len(_DRAWS)))](rng)
    case.mode = "reference" if rng.integers(2) else "fast"
    case.seed = int(rng.integers(2**31))
    return case


def build(case: RandomCase):
    """``case.make()`` in float64 (the default dtype restored after)."""
    old = get_default_dtype()
    set_default_dtype(np.float64)
    try:
        return case.make()
    finally:
        set_default_dtype(old)
