from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.models import MODELS, build_model

SHAPES = [(1, 28, 28), (1, 8, 8), (3, 16, 16)]


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_every_model_builds_and_runs_forward_and_backward(name, shape):
    bn.seed(0)
    model = build_model(name, shape, 7)
    x = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    y = model(x)
    assert y.shape == (2, 7) and np.isfinite(y).all()
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape
    assert any(np.abs(p.grad).sum() > 0 for p in model.parameters())
    rebuilt = bn.build(model.spec())  # the architecture survives a model file
    assert rebuilt.num_parameters() == model.num_parameters()


def test_cnn_small_layout():
    m = build_model("cnn-small", (1, 28, 28), 10)
    kinds = [type(l).__name__ for l in m]
    assert kinds == [
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Flatten",
        "Linear",
        "ReLU",
        "Linear",
    ]
    assert (m[7].in_features, m[7].out_features) == (64 * 7 * 7, 128)
    assert "BatchNorm2d" in [type(l).__name__ for l in build_model("cnn-bn", (1, 28, 28), 10)]


def test_cnn_deep_is_the_21_layer_network_with_a_256_flatten():
    m = build_model("cnn-deep", (1, 28, 28), 10)
    assert len(m) == 21
    convs = [l for l in m if type(l).__name__ == "Conv2d"]
    assert [c.out_channels for c in convs] == [16, 16, 32, 32, 64, 64]
    assert [c.padding[0] for c in convs] == [0, 0, 0, 0, 1, 1]
    lin = [l for l in m if type(l).__name__ == "Linear"]
    assert (lin[0].in_features, lin[0].out_features, lin[1].out_features) == (256, 50, 10)
    assert type(m[-1]).__name__ == "Dropout"


def test_mlp_widths_include_input_and_output():
    m = build_model("mlp", (1,), 1, widths=[1, 16, 32, 1], activation="leaky_relu")
    assert [type(l).__name__ for l in m] == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"]
    assert m.num_parameters() == (1 * 16 + 16) + (16 * 32 + 32) + (32 + 1)
    h = build_model("mlp", (1, 28, 28), 10, hidden=[256, 128], dropout=0.2, batchnorm=True)
    assert [l.out_features for l in h if type(l).__name__ == "Linear"] == [256, 128, 10]
    assert sum(type(l).__name__ == "Dropout" for l in h) == 2
    with pytest.raises(ValueError, match="must start with the input size 784"):
        build_model("mlp", (1, 28, 28), 10, widths=[100, 10])


def test_init_schemes_set_the_weight_scale():
    bn.seed(0)
    m = build_model("mlp", (1, 28, 28), 10, hidden=[512], init="he_normal")
    w = m[1].weight.data
    assert w.std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)
    assert np.all(m[1].bias.data == 0)
    m = build_model("mlp", (1, 28, 28), 10, hidden=[512], init="xavier_uniform")
    assert np.abs(m[1].weight.data).max() <= np.sqrt(6 / (784 + 512)) + 1e-7


def test_bad_names_and_arguments():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet", (1, 28, 28), 10)
    with pytest.raises(ValueError, match="unknown activation"):
        build_model("mlp", (4,), 2, activation="swish")
    with pytest.raises(TypeError, match="bad model arguments"):
        build_model("cnn-small", (1, 28, 28), 10, depth=3)
    with pytest.raises(ValueError, match="image input_shape"):
        build_model("cnn-small", (784,), 10)
    with pytest.raises(ValueError, match="too small"):
        build_model("cnn-small", (1, 3, 3), 10)


def test_cnn_vgg_stages():
    m = build_model("cnn-vgg", (1, 28, 28), 10)
    kinds = [type(l).__name__ for l in m]
    assert kinds.count("Conv2d") == 4 and kinds.count("BatchNorm2d") == 4
    assert kinds.count("MaxPool2d") == 3
    assert kinds[-6:] == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert [l.out_channels for l in m if type(l).__name__ == "Conv2d"] == [32, 64, 128, 128]
    assert m[16].in_features == 128 * 3 * 3 and m[-1].out_features == 10
    small = build_model("cnn-vgg", (3, 8, 8), 4, stages=[[8, 8], [16]], hidden=32, dropout=0)
    assert sum(type(l).__name__ == "Dropout" for l in small) == 0
    assert small(np.zeros((2, 3, 8, 8), np.float32)).shape == (2, 4)
    with pytest.raises(ValueError, match="stages must be non-empty"):
        build_model("cnn-vgg", (1, 28, 28), 10, stages=[[32], []])
    with pytest.raises(ValueError, match="too small"):
        build_model("cnn-vgg", (1, 4, 4), 10, stages=[[8], [8], [8]])
