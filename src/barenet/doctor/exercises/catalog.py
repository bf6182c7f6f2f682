"""The exercises, one entry each (their stubs are in ``stubs/``)."""

from __future__ import annotations

import numpy as np

from .entry import Exercise, ShapeCase

__all__ = ["EXERCISES"]


def _conv_cases() -> tuple[ShapeCase, ...]:
    def case(label, shape, out, k, stride, pad, bias=True):
        kh, kw = k
        return ShapeCase(
            label,
            shape,
            {"w": (out, shape[1], kh, kw), "b": (out,) if bias else None},
            {"stride": stride, "padding": pad},
        )

    return (
        case("overlapping windows, stride 1", (2, 3, 6, 6), 4, (3, 3), (1, 1), (0, 0, 0, 0)),
        case("stride 2, padding 1", (2, 3, 9, 9), 4, (3, 3), (2, 2), (1, 1, 1, 1)),
        case("windows that do not overlap", (2, 2, 6, 6), 3, (2, 2), (2, 2), (0, 0, 0, 0)),
        case("1x1 kernel, no bias", (2, 3, 4, 5), 2, (1, 1), (1, 1), (0, 0, 0, 0), bias=False),
        case("batch of 1", (1, 2, 7, 7), 3, (3, 3), (2, 2), (0, 0, 0, 0)),
        case("3x2 kernel, stride (2, 1), padding (1, 0)", (2, 2, 7, 5), 3, (3, 2), (2, 1),
             (1, 1, 0, 0)),
    )  # fmt: skip


def _pool_cases() -> tuple[ShapeCase, ...]:
    def case(label, shape, k, s):
        return ShapeCase(label, shape, {}, {"kernel": k, "stride": s})

    return (
        case("2x2 windows, stride 2", (2, 3, 6, 6), (2, 2), (2, 2)),
        case("overlapping 3x3 windows, stride 2", (2, 2, 9, 9), (3, 3), (2, 2)),
        case("overlapping 2x2 windows, stride 1", (2, 1, 5, 5), (2, 2), (1, 1)),
        case("odd size: the last row and column dropped", (2, 2, 5, 7), (2, 2), (2, 2)),
        case("batch of 1", (1, 2, 6, 6), (3, 3), (3, 3)),
    )


def _unit_gamma(c):
    return lambda rng: rng.uniform(0.5, 1.5, c)


def _bn_case(label, shape):
    c = shape[1]
    return ShapeCase(label, shape, {"gamma": _unit_gamma(c), "beta": (c,)}, {"eps": 1e-5})


def _labels(case, rng):
    n, k = case.input_shape
    return rng.integers(0, k, n)


def _dropout_properties(ns: dict) -> list[str]:
    """Inverted dropout: kept values are x / (1 - p), a fraction p dropped, p = 0 keeps
    everything, and the mask comes from the generator it is given."""
    problems = []
    x = np.ones((400, 100))
    for p in (0.3, 0.0):
        y, _ = ns["dropout_forward"](x, p, np.random.default_rng(1))
        y = np.asarray(y)
        kept = y[y != 0]
        if kept.size and not np.allclose(kept, 1 / (1 - p)):
            problems.append(
                f"p = {p}: kept values are {kept[0]:.4g}, expected x / (1 - p) = {1 / (1 - p):.4g} "
                "(inverted dropout scales at training time)"
            )
            break
        dropped = float(np.mean(y == 0))
        if abs(dropped - p) > 5 * np.sqrt(p * (1 - p) / x.size) + 1e-12:
            problems.append(f"p = {p}: {dropped:.1%} of the values dropped, expected {p:.0%}")
    return problems


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "linear", "write the forward and backward of a fully connected layer",
        ("linear_forward", "linear_backward"), "linear_forward", "linear_backward",
        (
            ShapeCase("batch of 5", (5, 6), {"w": (4, 6), "b": (4,)}),
            ShapeCase("batch of 1", (1, 6), {"w": (3, 6), "b": (3,)}),
            ShapeCase("no bias", (4, 5), {"w": (2, 5), "b": None}),
            ShapeCase("3-D input (N, T, in)", (2, 3, 4), {"w": (2, 4), "b": (2,)}),
        ),
        {"linear_forward": "linear_forward", "linear_backward": "linear_backward"},
        compare_forward=True,
    ),
    Exercise(
        "relu", "write ReLU's forward and backward", ("relu_forward", "relu_backward"),
        "relu_forward", "relu_backward",
        (ShapeCase("(N, features)", (4, 7)), ShapeCase("(N, C, H, W)", (2, 3, 4, 5)),
         ShapeCase("batch of 1", (1, 5))),
        {"relu_forward": "relu_forward", "relu_backward": "relu_backward"},
        compare_forward=True,
    ),
    Exercise(
        "leaky-relu", "write LeakyReLU's forward and backward",
        ("leaky_relu_forward", "leaky_relu_backward"), "leaky_relu_forward",
        "leaky_relu_backward",
        (ShapeCase("slope 0.1", (4, 7), {}, {"slope": 0.1}),
         ShapeCase("slope 2 (steeper than 1)", (2, 3, 4, 5), {}, {"slope": 2.0}),
         ShapeCase("batch of 1", (1, 6), {}, {"slope": 0.01})),
        {"leaky_relu_forward": "leaky_relu_forward", "leaky_relu_backward": "leaky_relu_backward"},
        compare_forward=True,
    ),
    Exercise(
        "sigmoid", "write the sigmoid's forward and backward",
        ("sigmoid_forward", "sigmoid_backward"), "sigmoid_forward", "sigmoid_backward",
        (ShapeCase("(N, features)", (4, 7)), ShapeCase("(N, C, H, W)", (2, 3, 4, 5)),
         ShapeCase("inputs up to ±30", (3, 5), scale=20.0), ShapeCase("batch of 1", (1, 4))),
        {"sigmoid_forward": "sigmoid_forward", "sigmoid_backward": "sigmoid_backward"},
        compare_forward=True,
    ),
    Exercise(
        "softmax-cross-entropy", "write the fused softmax and cross-entropy loss",
        ("softmax_cross_entropy",), "softmax_cross_entropy", None,
        (ShapeCase("4 samples, 5 classes", (4, 5)), ShapeCase("batch of 1", (1, 3)),
         ShapeCase("logits up to ±750 (exp overflows)", (3, 4), scale=500.0),
         ShapeCase("8 samples, 10 classes", (8, 10))),
        {"softmax_cross_entropy": "softmax_cross_entropy"},
        compare_forward=True, target=_labels,
    ),
    Exercise(
        "conv2d-forward", "write im2col and the convolution's forward",
        ("im2col", "conv2d_forward"), "conv2d_forward", "conv2d_backward", _conv_cases(),
        {"im2col": "im2col", "conv2d_forward": "conv2d_forward"}, compare_forward=True,
    ),
    Exercise(
        "conv2d-backward", "write col2im and the convolution's backward",
        ("col2im", "conv2d_backward"), "conv2d_forward", "conv2d_backward", _conv_cases(),
        {"col2im": "col2im", "conv2d_backward": "conv2d_backward"},
    ),
    Exercise(
        "maxpool-backward", "write max-pooling's backward", ("maxpool2d_backward",),
        "maxpool2d_forward", "maxpool2d_backward", _pool_cases(),
        {"maxpool2d_backward": "maxpool2d_backward"},
    ),
    Exercise(
        "avgpool-backward", "write average pooling's backward", ("avgpool2d_backward",),
        "avgpool2d_forward", "avgpool2d_backward", _pool_cases(),
        {"avgpool2d_backward": "avgpool2d_backward"},
    ),
    Exercise(
        "batchnorm-backward", "write batch normalisation's backward (training mode)",
        ("batchnorm_backward",), "batchnorm_forward_train", "batchnorm_backward",
        (_bn_case("(N, C)", (6, 3)), _bn_case("(N, C, H, W)", (2, 3, 4, 4)),
         _bn_case("batch of 1 with 3x3 maps", (1, 2, 3, 3)), _bn_case("(N, C, L)", (2, 3, 5))),
        {"batchnorm_backward": "batchnorm_backward"},
        adapt=lambda out: (out[0], out[3]),
    ),
    Exercise(
        "dropout", "write inverted dropout's forward and backward",
        ("dropout_forward", "dropout_backward"), "dropout_forward", "dropout_backward",
        (ShapeCase("p = 0.5", (4, 6), {}, {"p": 0.5}),
         ShapeCase("p = 0.2, batch of 1", (1, 10), {}, {"p": 0.2}),
         ShapeCase("p = 0.8 on (N, C, H, W)", (3, 3, 4, 4), {}, {"p": 0.8})),
        {"dropout_forward": "dropout_forward", "dropout_backward": "dropout_backward"},
        fresh=lambda: {"rng": lambda: np.random.default_rng(0)},
        extra=_dropout_properties,
    ),
)  # fmt: skip
