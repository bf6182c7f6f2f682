"""Choosing kernels: the switch, the fallback to the reference kernels, and a second
array module slotting in family by family."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.core import dispatch
from barenet.core.dispatch import ANY, Kernels, kernels_for


def test_fast_is_the_default_and_the_switch_restores_the_mode():
    x = np.zeros(3)
    assert dispatch.current_mode() == "fast"
    assert kernels_for("conv2d", x).forward.__module__ == "barenet.fast.cpu.conv"
    with bn.kernels("reference") as switch:
        assert dispatch.current_mode() == "reference" and "reference" in repr(switch)
        assert kernels_for("conv2d", x).forward is bn.reference.conv2d_forward
        with bn.kernels("fast"):
            assert dispatch.current_mode() == "fast"
        assert dispatch.current_mode() == "reference"
    assert dispatch.current_mode() == "fast"
    with pytest.raises(ValueError, match="fast"):
        bn.kernels("quick")
    with pytest.raises(RuntimeError):
        with bn.kernels("reference"):
            raise RuntimeError
    assert dispatch.current_mode() == "fast"


def test_families_without_fast_kernels_run_the_reference_ones_in_both_modes():
    x = np.zeros(3)
    for family in ("dropout", "sigmoid", "softmax_cross_entropy"):
        assert (family, "fast", "numpy") not in dispatch.registered()
        assert kernels_for(family, x) is bn.reference.KERNELS[family]
    with pytest.raises(LookupError, match="no fast kernels for 'nope'"):
        kernels_for("nope", x)


def test_every_fast_set_has_the_names_of_its_reference_set():
    for (family, mode, module), kernels in dispatch.registered().items():
        if mode == "fast":
            ref = dispatch.registered()[family, "reference", ANY]
            assert set(vars(kernels)) == set(vars(ref)), (family, module)


class FakeGpuArray:
    """Stands for an array of another array module (only its type's module is read)."""

    __module__ = "cupy._core.fake"


def test_another_array_module_slots_in_per_family_by_mode():
    gpu = FakeGpuArray()
    fast_relu = Kernels(forward=lambda x: (x, None), backward=lambda dy, cache: dy)
    dispatch.register("relu", "fast", "cupy", fast_relu)
    try:
        assert kernels_for("relu", gpu) is fast_relu  # its own fast kernels
        assert kernels_for("relu", np.zeros(2)) is not fast_relu  # NumPy's stay
        assert kernels_for("conv2d", gpu) is bn.reference.KERNELS["conv2d"]  # none: reference
        with bn.kernels("reference"):
            assert kernels_for("relu", gpu) is bn.reference.KERNELS["relu"]
    finally:
        dispatch.unregister("relu", "fast", "cupy")
    assert kernels_for("relu", gpu) is bn.reference.KERNELS["relu"]
    with pytest.raises(ValueError, match="mode"):
        dispatch.register("relu", "turbo", "cupy", fast_relu)


def test_a_layer_runs_its_backward_with_the_kernels_of_its_forward():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    layer = bn.Conv2d(3, 4, 3).to(np.float64)
    y = layer(x)  # fast
    with bn.kernels("reference"):
        dx = layer.backward(np.ones_like(y))  # the fast forward's cache, the fast backward
        layer.zero_grad()
        want = layer.backward(np.ones_like(layer(x)))
    np.testing.assert_allclose(dx, want, rtol=1e-12, atol=1e-12)


def test_array_module_is_numpy_for_numpy_and_plain_values():
    from barenet.core.backend import array_module, backend_name

    assert array_module(np.zeros(2), 3.0) is np
    assert backend_name(FakeGpuArray()) == "cupy" and backend_name([1]) == "numpy"
