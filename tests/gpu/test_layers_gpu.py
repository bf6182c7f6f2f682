"""Every layer case on the GPU: the same numbers as on the CPU (forward, input and
parameter gradients, buffers), in both kernel modes, and as PyTorch on CUDA."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.testing import LAYER_CASES, copy_on, grad_like, output_arrays

from .conftest import TOL, rel_err

pytestmark = pytest.mark.gpu

CASES = {c.id: c for c in LAYER_CASES}
IDS = sorted(CASES)


def _run(layer, x, dy, case):
    """y, dx, gradients, buffers and dy (drawn for y's shape when None)."""
    if "stochastic" in case.flags:
        layer.eval()  # masks drawn on the GPU differ from the CPU's
    layer.zero_grad()
    y = layer(x)
    if dy is None:
        dy = grad_like(y, np.random.default_rng(5))
    dx = layer.backward(dy)
    grads = {k: p.grad.copy() for k, p in layer.named_parameters()}
    buffers = {k: v.copy() for k, v in layer.named_buffers()}
    return y, dx, grads, buffers, dy


def _on_gpu(grad):
    """A gradient (an array, or a recurrent layer's nested tuple) on the GPU."""
    import cupy

    return tuple(_on_gpu(g) for g in grad) if isinstance(grad, tuple) else cupy.asarray(grad)


def _pairs(got, want):
    """(GPU, CPU) pairs: every output array (a recurrent layer's y and state), dx (none
    for indices), gradients and buffers."""
    outs = zip(output_arrays(got[0]), output_arrays(want[0]), strict=True)
    pairs = {f"y[{i}]": pair for i, pair in enumerate(outs)}
    if want[1] is not None:
        pairs["dx"] = (got[1], want[1])
    pairs.update({f"grad:{k}": (got[2][k], want[2][k]) for k in want[2]})
    pairs.update({f"buffer:{k}": (got[3][k], want[3][k]) for k in want[3]})
    return pairs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["fast", "reference"])
@pytest.mark.parametrize("case_id", IDS)
def test_layer_case_on_the_gpu_matches_the_cpu(case_id, mode, dtype, record_error):
    import cupy

    case = CASES[case_id]
    bn.set_default_dtype(dtype)
    bn.seed(3)
    cpu = case.make()
    gpu = copy_on(cpu, "cuda")
    x = case.make_input(dtype, seed=2)
    want = _run(cpu, x, None, case)
    with bn.kernels(mode):
        got = _run(gpu, cupy.asarray(x), _on_gpu(want[4]), case)
    assert all(isinstance(a, cupy.ndarray) and a.dtype == dtype for a in output_arrays(got[0]))
    assert got[1] is None if "indices" in case.flags else got[1].dtype == dtype
    for name, (a, b) in _pairs(got, want).items():
        err = rel_err(a, b)
        record_error(f"gpu-vs-cpu {np.dtype(dtype).name} {mode}", err, f"{case_id} {name}")
        assert err < TOL[dtype], f"{case_id} {mode} {name}: {err:.2e}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case_id", IDS)
def test_layer_case_on_the_gpu_matches_torch_cuda(case_id, dtype, record_error):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA")
    import cupy

    case = CASES[case_id]
    if "stochastic" in case.flags:
        pytest.skip("random masks differ between frameworks")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    bn.set_default_dtype(dtype)
    layer = case.make()
    twin = case.torch_twin(layer).to("cuda")
    layer.to("cuda")
    x = case.make_input(dtype)
    y = layer(cupy.asarray(x))
    dy = grad_like(y, np.random.default_rng(5))
    dx = layer.backward(_on_gpu(dy))
    indices = "indices" in case.flags
    xt = torch.from_numpy(x.copy()).to("cuda")
    if not indices:
        xt.requires_grad_(True)
    outs = output_arrays(twin(xt))
    torch.autograd.backward(outs, [torch.from_numpy(g).to("cuda") for g in output_arrays(dy)])
    pairs = {
        f"y[{i}]": (a, b.detach().cpu().numpy())
        for i, (a, b) in enumerate(zip(output_arrays(y), outs, strict=True))
    }
    if not indices:
        pairs["dx"] = (dx, xt.grad.cpu().numpy())
    tparams = dict(twin.named_parameters())
    pairs.update(
        {f"grad:{k}": (p.grad, tparams[k].grad.cpu().numpy()) for k, p in layer.named_parameters()}
    )
    tstate = twin.state_dict()
    pairs.update({f"buffer:{k}": (b, tstate[k].cpu().numpy()) for k, b in layer.named_buffers()})
    for name, (a, b) in pairs.items():
        err = rel_err(a, b)
        record_error(f"torch-cuda {np.dtype(dtype).name}", err, f"{case_id} {name}")
        assert err < TOL[dtype], f"{case_id} {name}: {err:.2e}"


def test_a_layer_refuses_an_input_on_another_device():
    import cupy

    layer = bn.Conv2d(1, 2, 3).to("cuda")
    with pytest.raises(ValueError, match=r"Conv2d\(1→2\): input is on cpu .* on cuda:0"):
        layer(np.zeros((1, 1, 5, 5), np.float32))
    cpu = bn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear\(3→2\): input is on cuda:0 .* on cpu"):
        cpu(cupy.zeros((1, 3), np.float32))


def test_state_dict_is_numpy_and_load_state_dict_lands_on_the_gpu():
    import cupy

    model = bn.Sequential(bn.Conv2d(1, 2, 3), bn.BatchNorm2d(2), bn.Flatten(), bn.Linear(18, 3))
    model.to("cuda")
    state = model.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    other = bn.build(model.spec()).to("cuda")
    other.load_state_dict(state)
    for _, p in other.named_parameters():
        assert isinstance(p.data, cupy.ndarray) and isinstance(p.grad, cupy.ndarray)
    for _, b in other.named_buffers():
        assert isinstance(b, cupy.ndarray)
    back = other.to("cpu").state_dict()
    for k, v in state.items():
        np.testing.assert_array_equal(back[k], v)
