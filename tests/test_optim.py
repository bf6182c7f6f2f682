"""Optimizers against torch.optim: 20 steps on the same gradients give the same parameters."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import barenet as bn
from barenet import optim
from helpers import rel_err

SHAPES = [(3, 4), (4,), (2, 1, 3, 3)]


def _params():
    rng = np.random.default_rng(0)
    return [bn.Parameter(rng.standard_normal(s), dtype=np.float64) for s in SHAPES]


def _grad(theta: np.ndarray, step: int) -> np.ndarray:
    """A gradient that depends on the parameters and on time (signs flip)."""
    return np.sin(3 * theta + step) + 0.1 * theta * (step % 3 - 1)


def _run_barenet(opt, params, steps, start=0):
    for t in range(start, start + steps):
        for p in params:
            p.grad[...] = _grad(p.data, t)
        opt.step()


CONFIGS = {
    "sgd": ("SGD", "SGD", dict(lr=0.1)),
    "sgd-momentum": ("SGD", "SGD", dict(lr=0.1, momentum=0.9)),
    "sgd-nesterov-wd": ("SGD", "SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    "sgd-dampening-wd": (
        "SGD",
        "SGD",
        dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.01),
    ),
    "adagrad": ("AdaGrad", "Adagrad", dict(lr=0.1)),
    "adagrad-wd-decay": ("AdaGrad", "Adagrad", dict(lr=0.1, weight_decay=0.1, lr_decay=0.01)),
    "rmsprop": ("RMSprop", "RMSprop", dict(lr=0.01)),
    "rmsprop-momentum": ("RMSprop", "RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.05)),
    "rmsprop-centered": ("RMSprop", "RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    "rmsprop-centered-momentum": (
        "RMSprop",
        "RMSprop",
        dict(lr=0.01, centered=True, momentum=0.5),
    ),
    "adam": ("Adam", "Adam", dict(lr=0.01)),
    "adam-wd": ("Adam", "Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "adam-amsgrad": ("Adam", "Adam", dict(lr=0.01, amsgrad=True, eps=1e-6)),
    "adamw": ("AdamW", "AdamW", dict(lr=0.01)),
    "adamw-amsgrad": ("AdamW", "AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_optimizer_matches_torch_over_20_steps(name):
    torch = pytest.importorskip("torch")
    ours_name, theirs_name, kw = CONFIGS[name]
    params = _params()
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    opt = getattr(optim, ours_name)(params, **kw)
    topt = getattr(torch.optim, theirs_name)(tparams, **kw)
    for t in range(20):
        for p in params:
            p.grad[...] = _grad(p.data, t)
        for tp in tparams:
            tp.grad = torch.from_numpy(_grad(tp.detach().numpy(), t))
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams):
        err = rel_err(p.data, tp.detach().numpy())
        assert err < 1e-9, f"{name}: parameters off by {err:.2e}"
    assert rel_err(params[0].data, _params()[0].data) > 1e-3  # they did move


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_state_dict_round_trip_resumes_exactly(name):
    ours_name, _, kw = CONFIGS[name]
    cls = getattr(optim, ours_name)
    ref = _params()
    ref_opt = cls(ref, **kw)
    _run_barenet(ref_opt, ref, 20)

    first = _params()
    opt = cls(first, **kw)
    _run_barenet(opt, first, 10)
    sd = opt.state_dict()
    before = copy.deepcopy(sd)
    resumed = [bn.Parameter(p.data) for p in first]
    opt2 = cls(resumed, lr=123.0) if "lr" in kw else cls(resumed)
    opt2.load_state_dict(sd)
    assert opt2.lr == kw["lr"]
    _run_barenet(opt2, resumed, 10, start=10)
    for a, b in zip(resumed, ref):
        np.testing.assert_array_equal(a.data, b.data)
    # Loading copied the arrays: stepping the new optimizer left the snapshot alone.
    for i, st in before["state"].items():
        for k, v in st.items():
            np.testing.assert_array_equal(sd["state"][i][k], v)


def test_zero_grad_and_lr_setter():
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad[...] = 1.0
    opt.zero_grad()
    assert all((p.grad == 0).all() for p in params)
    opt.lr = 0.5
    assert opt.param_groups[0]["lr"] == 0.5


def test_defaults_match_torch():
    p = _params()
    assert optim.SGD(p).lr == 1e-3
    assert optim.AdaGrad(p).param_groups[0]["eps"] == 1e-10
    g = optim.RMSprop(p).param_groups[0]
    assert (g["lr"], g["alpha"], g["eps"]) == (0.01, 0.99, 1e-8)
    g = optim.Adam(p).param_groups[0]
    assert (g["lr"], g["betas"], g["eps"], g["weight_decay"]) == (1e-3, (0.9, 0.999), 1e-8, 0)
    assert optim.AdamW(p).param_groups[0]["weight_decay"] == 0.01


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=-1),
        lambda p: optim.SGD(p, lr=0.1, nesterov=True),
        lambda p: optim.Adam(p, betas=(1.0, 0.9)),
        lambda p: optim.Adam(p, weight_decay=-1),
        lambda p: optim.SGD([], lr=0.1),
    ],
)
def test_bad_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make(_params())


def test_non_parameters_and_unknown_arguments_raise_type_error():
    with pytest.raises(TypeError, match="Parameter"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError):
        optim.Adam(_params(), lr=0.1, foo=1)


def test_load_state_dict_rejects_mismatched_state():
    params = _params()
    opt = optim.Adam(params, lr=0.1)
    _run_barenet(opt, params, 2)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="group sizes"):
        optim.Adam(params[:2]).load_state_dict(sd)
    bad = copy.deepcopy(sd)
    bad["state"][0]["exp_avg"] = np.zeros((9, 9))
    fresh = optim.Adam(params)
    with pytest.raises(ValueError, match="shape"):
        fresh.load_state_dict(bad)
    assert fresh.state == {} and fresh.lr == 1e-3  # unchanged after the failure


@pytest.mark.torch
@pytest.mark.parametrize("name", ["sgd-momentum", "adam", "rmsprop", "adagrad", "adamw"])
def test_clip_norm_matches_torch_clip_grad_norm_before_each_step(name):
    torch = pytest.importorskip("torch")
    ours_name, theirs_name, kw = CONFIGS[name]
    params = _params()
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    opt = getattr(optim, ours_name)(params, clip_norm=0.5, **kw)
    topt = getattr(torch.optim, theirs_name)(tparams, **kw)
    clipped = 0
    for t in range(20):
        for p in params:
            p.grad[...] = _grad(p.data, t) * (t % 4)  # some steps under the bound
        for tp in tparams:
            tp.grad = torch.from_numpy(_grad(tp.detach().numpy(), t) * (t % 4))
        opt.step()
        norm = torch.nn.utils.clip_grad_norm_(tparams, 0.5)
        assert opt.last_grad_norm == pytest.approx(norm.item(), rel=1e-12)
        clipped += norm.item() > 0.5
        topt.step()
    assert 0 < clipped < 20
    for p, tp in zip(params, tparams):
        assert rel_err(p.data, tp.detach().numpy()) < 1e-9


def test_clip_grad_norm_scales_all_gradients_together_and_checks_its_bound():
    a, b = bn.Parameter(np.zeros(2)), bn.Parameter(np.zeros(1))
    a.grad[...], b.grad[...] = [3.0, 0.0], [4.0]
    assert optim.clip_grad_norm([a, b], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), [0.6, 0.0, 0.8], rtol=1e-6)
    assert optim.clip_grad_norm([a, b], 10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-6)  # under the bound: unchanged
    for bad in (0, -1.0, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="clip_norm"):
            optim.Adam([a], clip_norm=bad)
