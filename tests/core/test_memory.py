"""Sizes known before allocating: the memory budget, state shapes from a spec, and
output shapes without a forward."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import barenet as bn
from barenet.core.memory import (
    MemoryLimitError,
    available_bytes,
    check_fits,
    format_bytes,
    forward_bytes,
    nbytes_of,
)
from barenet.core.module import spec_state_shapes
from barenet.models import MODELS, build_model


def test_format_bytes():
    assert format_bytes(512) == "512 bytes"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(37 * 2**30) == "37.0 GiB"
    assert format_bytes(7 * 2**40) == "7.0 TiB"


def test_nbytes_of_does_not_wrap():
    # 2**40 * 2**40 elements overflow int64; Python ints do not.
    assert nbytes_of([(2**40, 2**40)], np.float32) == 2**82
    assert nbytes_of([(3, 4), (5,)], np.float64) == 136
    assert nbytes_of([()], np.int64) == 8


def test_small_requests_skip_the_check_and_huge_ones_fail():
    check_fits(1000, "tiny")
    with pytest.raises(MemoryLimitError, match=r"the thing needs 1\.0 EiB"):
        check_fits(2**60, "the thing")
    assert issubclass(MemoryLimitError, ValueError)
    assert available_bytes() is None or available_bytes() > 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: bn.Linear(10**7, 10**7),
        lambda: bn.Conv2d(10**5, 10**5, 30),
        lambda: bn.BatchNorm1d(10**17),
    ],
    ids=["Linear", "Conv2d", "BatchNorm1d"],
)
def test_layers_refuse_sizes_beyond_memory_before_allocating(make):
    with pytest.raises(MemoryLimitError, match="needs .* more than the"):
        make()


def test_the_address_space_limit_is_part_of_the_budget():
    code = textwrap.dedent(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY))
        import barenet as bn
        from barenet.core.memory import MemoryLimitError
        try:
            bn.Linear(20000, 20000)  # 3.0 GiB with its gradient
        except MemoryLimitError as e:
            print("refused:", e)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("refused: Linear(20000→20000)"), r.stdout


def _every_layer_kind() -> bn.Sequential:
    return bn.Sequential(
        bn.Conv2d(3, 4, 3, padding=1),
        bn.BatchNorm2d(4),
        bn.ReLU(),
        bn.Residual(bn.Sequential(bn.Conv2d(4, 4, (3, 1), padding=(1, 0)), bn.Tanh())),
        bn.Residual(bn.Conv2d(4, 6, 1, bias=False), bn.Conv2d(4, 6, 1)),
        bn.MaxPool2d(2),
        bn.AvgPool2d(2, stride=1),
        bn.Dropout(0.2),
        bn.Flatten(),
        bn.Linear(6 * 3 * 3, 5, bias=False),
        bn.BatchNorm1d(5, affine=False),
        bn.LeakyReLU(0.1),
        bn.Sigmoid(),
        bn.Linear(5, 2),
        bn.Softmax(),
    )


def test_state_shapes_from_the_spec_match_the_built_model():
    m = _every_layer_kind()
    built = {k: v.shape for k, v in m.state_dict().items()}
    assert spec_state_shapes(m.spec()) == built


@pytest.mark.parametrize("name", list(MODELS))
def test_state_and_output_shapes_of_every_named_model(name):
    m = build_model(name, (1, 28, 28), 10)
    assert spec_state_shapes(m.spec()) == {k: v.shape for k, v in m.state_dict().items()}
    m.eval()
    assert m.output_shape((3, 1, 28, 28)) == m(np.zeros((3, 1, 28, 28), np.float32)).shape


def test_output_shape_and_forward_bytes_of_a_model_with_every_layer():
    m = _every_layer_kind().eval()
    x = np.zeros((2, 3, 8, 8), np.float32)
    assert m.output_shape(x.shape) == m(x).shape == (2, 2)
    assert forward_bytes(m, x.shape, np.float32) > x.nbytes
    assert m.output_shape((2, 3, 8)) is None  # a rank the layers cannot take


def test_forward_bytes_is_none_for_modules_that_cannot_tell():
    class Custom(bn.Module):
        def forward(self, x):
            return x

    assert forward_bytes(bn.Sequential(bn.ReLU(), Custom()), (2, 3), np.float32) is None
    got = forward_bytes(bn.Sequential(bn.Flatten(), bn.Linear(12, 5)), (2, 3, 4), np.float64)
    assert got == 8 * (2 * 12 + 2 * 12 + 2 * 5)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"type": "Linear", "config": {"in_features": 1.5, "out_features": 2}}, "integer"),
        ({"type": "Linear", "config": {"in_features": "784", "out_features": 2}}, "integer"),
        ({"type": "Linear", "config": {"in_features": True, "out_features": 2}}, "integer"),
        ({"type": "Linear", "config": {"in_features": 3, "out_features": 0}}, ">= 1"),
        ({"type": "Linear", "config": {"in_features": 3, "out_features": 2, "bias": 1}}, "true"),
        ({"type": "Linear", "config": {"out_features": 2}}, "lacks"),
        ({"type": "Conv2d", "config": {"in_channels": 1, "out_channels": 2}}, "kernel_size"),
        ({"type": "Conv2d", "config": {"in_channels": 1, "out_channels": 2,
                                       "kernel_size": [3, 3, 3]}}, "pair"),
        ({"type": "BatchNorm2d", "config": {"num_features": 1e30}}, "integer"),
        ({"type": "Sequential", "config": []}, "config of Sequential must be a dict"),
        ({"type": "Sequential", "config": None}, "must be a dict"),
        ({"type": "Sequential", "config": {"layers": None}}, "'layers' must be a list"),
        ({"type": "Sequential", "config": {"layers": [3]}}, "a module spec is a dict"),
        ({"type": "Residual", "config": {}}, "no 'body'"),
        ({"type": 7}, "a module spec is a dict with a 'type'"),
        ({"type": "Nope"}, "unknown layer type"),
    ],
)  # fmt: skip
def test_bad_specs_are_refused_before_anything_is_built(spec, message):
    with pytest.raises(ValueError, match=message):
        spec_state_shapes(spec)
    if spec.get("type") in ("Sequential", "Residual", 7, "Nope"):
        with pytest.raises(ValueError, match=message):
            bn.build(spec)


def test_a_huge_spec_is_described_without_allocating():
    spec = {"type": "Linear", "config": {"in_features": 10**6, "out_features": 10**7}}
    assert spec_state_shapes(spec) == {"weight": (10**7, 10**6), "bias": (10**7,)}
