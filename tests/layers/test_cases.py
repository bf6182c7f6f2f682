"""Every layer case of ``barenet.testing.LAYER_CASES`` through the properties every layer
must have: hand-derived gradients that match central differences and PyTorch, fast
kernels equal to the reference ones, round trips through state dicts and model files,
clear errors for bad input, and the Module contract (dy untouched, gradients added,
the parameters' dtype). A layer whose output is a tuple (a recurrent layer's ``(y, h)``)
is compared array by array, and its backward gets a gradient of the same nesting."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.fast.cpu import tuned
from barenet.fast.cpu.layout import empty_in
from barenet.testing import (
    LAYER_CASES,
    TORCH_TWINS,
    grad_like,
    output_arrays,
    registered_layer_types,
)
from helpers import rel_err, tol, worst

CASES = {c.id: c for c in LAYER_CASES}
IDS = sorted(CASES)
MODES = ["fast", "reference"]


def _reseeded(case):
    """Stochastic layers: the same draws on every run."""
    if "stochastic" in case.flags:
        bn.seed(11)


def _run(layer, x, dy=None, seed_case=None):
    """Forward and backward; returns y, dx, the parameters' gradients and the buffers."""
    if seed_case is not None:
        _reseeded(seed_case)
    layer.zero_grad()
    y = layer(x)
    if dy is None:
        dy = grad_like(y, np.random.default_rng(5))
    dx = layer.backward(dy)
    grads = {k: p.grad.copy() for k, p in layer.named_parameters()}
    buffers = {k: np.array(v) for k, v in layer.named_buffers()}
    return y, dx, grads, buffers


def _outputs(name: str, got, want) -> dict:
    """(ours, reference) pairs of every array of two outputs (tuples: y, then states)."""
    a, b = output_arrays(got), output_arrays(want)
    assert len(a) == len(b), (name, len(a), len(b))
    return {f"{name}[{i}]" if len(a) > 1 else name: pair for i, pair in enumerate(zip(a, b))}


def _assert_same(got, want):
    for a, b in zip(output_arrays(got), output_arrays(want), strict=True):
        np.testing.assert_array_equal(a, b)


def test_case_ids_are_unique():
    assert len(IDS) == len(LAYER_CASES)


def test_every_registered_layer_type_has_a_case():
    covered = {c.layer_type for c in LAYER_CASES}
    missing = sorted(n for n, t in registered_layer_types().items() if t not in covered)
    assert not missing, f"layer types without a case in barenet.testing: {missing}"


def test_every_registered_layer_type_has_a_torch_twin():
    missing = sorted(n for n, t in registered_layer_types().items() if t not in TORCH_TWINS)
    assert not missing, f"layer types without a PyTorch twin in barenet.testing: {missing}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case_id", IDS)
def test_gradients_match_central_differences(case_id, mode, f64):
    case = CASES[case_id]
    layer, x = case.make(), case.make_input(seed=1)
    pad = getattr(layer, "padding_idx", None)
    if pad is not None:  # its row gets no gradient by convention (PyTorch's), not by calculus
        x[x == pad] = (pad + 1) % layer.num_embeddings
    with bn.kernels(mode):
        res = bn.gradcheck(layer, x)
    assert res.max_error < 1e-6, str(res)
    assert set(res.param_errors) == {k for k, _ in case.make().named_parameters()}


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case_id", IDS)
def test_matches_torch(case_id, mode, dtype):
    pytest.importorskip("torch")
    import torch

    case = CASES[case_id]
    if "stochastic" in case.flags:
        pytest.skip("random masks differ between frameworks")
    bn.set_default_dtype(dtype)
    layer = case.make()
    twin = case.torch_twin(layer)
    x = case.make_input(dtype)
    with bn.kernels(mode):
        y, dx, grads, buffers = _run(layer, x)
    dy = grad_like(y, np.random.default_rng(5))
    indices = "indices" in case.flags
    xt = torch.from_numpy(x.copy())
    if not indices:
        xt.requires_grad_(True)
    yt = twin(xt)
    outs = [t for t in output_arrays(yt)]
    torch.autograd.backward(outs, [torch.from_numpy(g) for g in output_arrays(dy)])
    pairs = _outputs("y", y, [t.detach().numpy() for t in outs])
    if not indices:
        pairs["dx"] = (dx, xt.grad.numpy())
    tgrads = dict(twin.named_parameters())
    pairs.update({f"grad:{k}": (g, tgrads[k].grad.numpy()) for k, g in grads.items()})
    tstate = twin.state_dict()
    pairs.update({f"buffer:{k}": (b, tstate[k].numpy()) for k, b in buffers.items()})
    key, err = worst(pairs)
    assert err < tol(dtype), f"{case_id} {np.dtype(dtype)}: {key} off by {err:.2e}"
    assert all(a.dtype == dtype for a in output_arrays(y))
    assert dx is None if indices else dx.dtype == dtype


def _orders(shape):
    """The memory orders a fast kernel may be handed an input in."""
    orders = {"c-order": lambda a: a}
    if len(shape) == 4:
        for layout in ("cnhw", "nhwc"):

            def make(a, layout=layout):
                out = empty_in(layout, a.shape, a.dtype)
                out[...] = a
                return out

            orders[layout] = make
    return orders


def _layer_types(case):
    return {type(m) for m in case.make().modules()}


def _fast_variants(case):
    """The fast paths a case can take: every column layout of a convolution (one image
    per run, or the default runs), both max-pool paths, threads on the smallest jobs."""
    types = _layer_types(case)
    variants = [{}, {"parallel_min_bytes": 0}]
    if bn.Conv2d in types:
        variants += [
            {"conv_layout": "flat", "run_bytes": 1},
            {"conv_layout": "channel", "run_bytes": 1, "small_gemm_mnk": 50},
            {"conv_layout": "channel", "nhwc_out_min_channels": 1},
            {"conv_layout": "pixel"},
            {"conv_layout": "pixel", "run_bytes": 1, "small_gemm_mnk": 50},
        ]
    if bn.MaxPool2d in types:
        variants += [{"maxpool_2x2": False}, {"pool_piece_bytes": 16}]
    return variants


FAST_PARAMS = [
    pytest.param(c.id, v, order, id=f"{c.id}-{'-'.join(f'{k}={x}' for k, x in v.items())}-{order}")
    for c in LAYER_CASES
    for v in _fast_variants(c)
    for order in _orders(c.input_shape)
]


@pytest.mark.parametrize("case_id, variant, order", FAST_PARAMS)
def test_fast_kernels_equal_the_reference(case_id, variant, order, f64, monkeypatch):
    """float64: within 1e-12 of the reference kernels' outputs, input gradients,
    parameter gradients and buffers (BatchNorm's running statistics)."""
    case = CASES[case_id]
    monkeypatch.setenv("BARENET_NUM_THREADS", "2")
    x = case.make_input(seed=2)
    xin = _orders(case.input_shape)[order](x)
    bn.seed(3)
    fast_layer = case.make()
    bn.seed(3)
    ref_layer = case.make()
    with tuned(**variant):
        got = _run(fast_layer, xin, seed_case=case)
    with bn.kernels("reference"):
        want = _run(ref_layer, x, seed_case=case)
    pairs = _outputs("y", got[0], want[0])
    if "indices" in case.flags:
        assert got[1] is None and want[1] is None
    else:
        pairs["dx"] = (got[1], want[1])
    for name, (a, b) in pairs.items():
        assert rel_err(a, b) < 1e-12, (name, rel_err(a, b))
    for part in (2, 3):
        assert got[part].keys() == want[part].keys()
        for k in got[part]:
            assert rel_err(got[part][k], want[part][k]) < 1e-12, (
                k,
                rel_err(got[part][k], want[part][k]),
            )
    np.testing.assert_array_equal(xin, x)  # the input is never written


@pytest.mark.parametrize("case_id", IDS)
def test_state_dict_and_spec_round_trip(case_id):
    case = CASES[case_id]
    layer = case.make()
    x = case.make_input(np.float32)
    _run(layer, x, seed_case=case)  # move gradients and running statistics
    rebuilt = bn.build(layer.spec())
    assert rebuilt.spec() == layer.spec() and repr(rebuilt) == repr(layer)
    rebuilt.load_state_dict(layer.state_dict())
    rebuilt.train(layer.training)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(rebuilt.state_dict()[k], v)
    _reseeded(case)
    want = layer(x)
    _reseeded(case)
    _assert_same(rebuilt(x), want)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("case_id", IDS)
def test_model_file_round_trip(case_id, suffix, tmp_path):
    case = CASES[case_id]
    layer = case.make()
    x = case.make_input(np.float32)
    _run(layer, x, seed_case=case)
    path = bn.save(layer, tmp_path / f"m{suffix}")
    loaded = bn.load(path)
    assert loaded.spec() == layer.spec()
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v)
    loaded.train(layer.training)
    _reseeded(case)
    want = layer(x)
    _reseeded(case)
    _assert_same(loaded(x), want)


BAD = [
    pytest.param(c.id, shape, words, id=f"{c.id}-{'x'.join(map(str, shape))}")
    for c in LAYER_CASES
    for shape, words in c.bad_inputs
]


BAD_VALUES = [
    pytest.param(c.id, i, id=f"{c.id}-{i}") for c in LAYER_CASES for i in range(len(c.bad_values))
]


def _refuses(case, bad, kind, words):
    """``bad`` raises ``kind`` with ``words`` in its message, and the layer's weights,
    buffers and the cache of its last forward are as they were."""
    layer = case.make()
    x = case.make_input(np.float32)
    _reseeded(case)
    y = layer(x)
    state = layer.state_dict()
    dy = grad_like(y, np.random.default_rng(1))
    expected = layer.backward(dy)
    layer.zero_grad()
    with pytest.raises(kind) as info:
        layer(bad)
    for w in words:
        assert w in str(info.value), (w, str(info.value))
    for k, v in layer.state_dict().items():  # running statistics and weights untouched
        np.testing.assert_array_equal(v, state[k])
    got = layer.backward(dy)  # the cache survived
    if expected is None:
        assert got is None
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("case_id, shape, words", BAD)
def test_bad_shape_raises_before_any_state_changes(case_id, shape, words):
    bad = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _refuses(CASES[case_id], bad, ValueError, words)


@pytest.mark.parametrize("case_id, i", BAD_VALUES)
def test_bad_values_raise_before_any_state_changes(case_id, i):
    bad, kind, words = CASES[case_id].bad_values[i]
    _refuses(CASES[case_id], bad, kind, words)


@pytest.mark.parametrize("case_id", IDS)
def test_non_numeric_input_and_misuse_of_backward(case_id):
    case = CASES[case_id]
    layer = case.make()
    with pytest.raises(TypeError):
        layer(np.full(case.input_shape, "a"))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros(case.input_shape, np.float32))
    y = output_arrays(layer(case.make_input(np.float32)))[0]
    with pytest.raises(ValueError, match="backward expected dy of shape"):
        layer.backward(np.zeros(y.shape + (1,), np.float32))


@pytest.mark.parametrize("case_id", IDS)
def test_backward_never_writes_into_dy(case_id):
    case = CASES[case_id]
    layer = case.make()
    y = layer(case.make_input(np.float32))
    dy = grad_like(y, np.random.default_rng(1))
    for a in output_arrays(dy):
        a[..., 0] = -1.0  # negative entries: a ReLU that zeroes dy in place would show
    before = [a.copy() for a in output_arrays(dy)]
    dx = layer.backward(dy)
    _assert_same(dy, before)
    assert dx is None if "indices" in case.flags else dx.shape == case.input_shape


@pytest.mark.parametrize("case_id", IDS)
def test_backward_adds_into_grad(case_id):
    case = CASES[case_id]
    layer = case.make()
    x = case.make_input(np.float32)
    _reseeded(case)
    y = layer(x)
    dy = grad_like(y, np.random.default_rng(2))
    layer.zero_grad()
    dx1 = layer.backward(dy)
    once = {k: p.grad.copy() for k, p in layer.named_parameters()}
    _reseeded(case)
    layer(x)
    dx2 = layer.backward(dy)
    np.testing.assert_array_equal(dx1, dx2)
    for k, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[k], rtol=1e-5, atol=1e-6)
    layer.zero_grad()
    assert all((p.grad == 0).all() for p in layer.parameters())


@pytest.mark.parametrize("case_id", IDS)
def test_layers_compute_in_their_parameter_dtype(case_id):
    """With parameters (or float buffers): their dtype wins. Without: the input's float
    dtype passes through."""
    case = CASES[case_id]
    layer = case.make()
    has_params = bool(layer.parameters()) or any(
        b.dtype.kind == "f" for _, b in layer.named_buffers()
    )
    for model_dt in (np.float32, np.float64):
        layer.to(model_dt)
        for in_dt in (np.float32, np.float64):
            y = layer(case.make_input(in_dt))
            want = model_dt if has_params else in_dt
            assert all(a.dtype == want for a in output_arrays(y)), (model_dt, in_dt)
            dx = layer.backward(grad_like(y, np.random.default_rng(0)))
            assert dx is None if "indices" in case.flags else dx.dtype == want
    assert layer.to(np.float64) is layer
