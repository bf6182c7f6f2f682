"""Every layer case on the GPU: the same numbers as on the CPU (forward, input and
parameter gradients, buffers), in both kernel modes, and as PyTorch on CUDA."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.testing import LAYER_CASES, copy_on

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
        dy = np.random.default_rng(5).standard_normal(y.shape).astype(y.dtype)
    dx = layer.backward(dy)
    grads = {k: p.grad.copy() for k, p in layer.named_parameters()}
    buffers = {k: v.copy() for k, v in layer.named_buffers()}
    return y, dx, grads, buffers, dy


def _pairs(got, want):
    pairs = {"y": (got[0], want[0]), "dx": (got[1], want[1])}
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
        got = _run(gpu, cupy.asarray(x), cupy.asarray(want[4]), case)
    assert isinstance(got[0], cupy.ndarray) and got[0].dtype == dtype
    assert isinstance(got[1], cupy.ndarray) and got[1].dtype == dtype
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
    dy = np.random.default_rng(5).standard_normal(y.shape).astype(dtype)
    dx = layer.backward(cupy.asarray(dy))
    xt = torch.from_numpy(x.copy()).to("cuda").requires_grad_(True)
    yt = twin(xt)
    yt.backward(torch.from_numpy(dy).to("cuda"))
    pairs = {"y": (y, yt.detach().cpu().numpy()), "dx": (dx, xt.grad.cpu().numpy())}
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
