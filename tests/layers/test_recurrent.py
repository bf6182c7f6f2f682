"""RNN, LSTM and GRU beyond the case table: initial states, padded sequences (lengths),
the gradient of the initial state, backward from the final state alone, dropout between
layers, and the errors that name the layer."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.testing import grad_like, output_arrays, torch_twin
from helpers import rel_err

CONFIGS = [
    (bn.RNN, dict(nonlinearity="tanh")),
    (bn.RNN, dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    (bn.LSTM, dict()),
    (bn.LSTM, dict(num_layers=2, bidirectional=True, batch_first=True)),
    (bn.GRU, dict(bias=False)),
    (bn.GRU, dict(num_layers=3, bidirectional=True)),
]
IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for c, kw in CONFIGS]


def _inputs(layer, t=5, n=4, seed=0):
    """x, an initial state and lengths (one sequence full, the others shorter)."""
    rng = np.random.default_rng(seed)
    shape = (n, t, layer.input_size) if layer.batch_first else (t, n, layer.input_size)
    lead = layer.num_layers * layer.directions
    h0 = rng.standard_normal((lead, n, layer.hidden_size))
    hx = (h0, rng.standard_normal(h0.shape)) if isinstance(layer, bn.LSTM) else h0
    lengths = np.array([t, 2, 1, t - 1][:n])
    return rng.standard_normal(shape), hx, lengths


def _run(layer, x, hx, lengths, grad=None):
    layer.zero_grad()
    out = layer(x, hx, lengths=lengths)
    grad = grad_like(out, np.random.default_rng(7)) if grad is None else grad
    dx = layer.backward(grad)
    grads = {k: p.grad.copy() for k, p in layer.named_parameters()}
    return out, dx, layer.dhx, grads, grad


@pytest.mark.parametrize("cls, kw", CONFIGS, ids=IDS)
def test_fast_kernels_equal_the_reference_with_lengths_and_an_initial_state(cls, kw, f64):
    bn.seed(1)
    fast = cls(3, 4, **kw)
    ref = bn.build(fast.spec())
    ref.load_state_dict(fast.state_dict())
    x, hx, lengths = _inputs(fast)
    got = _run(fast, x, hx, lengths)
    with bn.kernels("reference"):
        want = _run(ref, x, hx, lengths, got[4])
    pairs = list(zip(output_arrays(got[0]), output_arrays(want[0])))
    pairs += [(got[1], want[1])] + list(zip(output_arrays(got[2]), output_arrays(want[2])))
    pairs += [(got[3][k], want[3][k]) for k in want[3]]
    assert max(rel_err(a, b) for a, b in pairs) < 1e-12


class _WithState(bn.Module):
    """A recurrent layer run from an initial state of its own (a Parameter here, so the
    gradient check perturbs it too) over padded sequences."""

    def __init__(self, layer, hx, lengths):
        super().__init__()
        self.layer, self.lengths = layer, lengths
        parts = hx if isinstance(hx, tuple) else (hx,)
        for i, part in enumerate(parts):
            setattr(self, f"s{i}", bn.Parameter(part))
        self.parts = len(parts)

    def _state(self):
        parts = tuple(getattr(self, f"s{i}").data for i in range(self.parts))
        return parts if self.parts == 2 else parts[0]

    def forward(self, x):
        return self.layer(x, self._state(), lengths=self.lengths)

    def backward(self, grad):
        dx = self.layer.backward(grad)
        parts = self.layer.dhx if self.parts == 2 else (self.layer.dhx,)
        for i, d in enumerate(parts):
            getattr(self, f"s{i}").grad += d
        return dx


@pytest.mark.parametrize("mode", ["fast", "reference"])
@pytest.mark.parametrize("cls, kw", CONFIGS[1::2] + CONFIGS[2:3], ids=IDS[1::2] + IDS[2:3])
def test_gradients_of_inputs_weights_and_initial_state_match_central_differences(
    cls, kw, mode, f64
):
    layer = cls(2, 3, **kw)
    x, hx, lengths = _inputs(layer, t=4, n=3, seed=2)
    with bn.kernels(mode):
        res = bn.gradcheck(_WithState(layer, hx, lengths), x)
    assert res.max_error < 1e-6, str(res)
    assert any(k.startswith("s0") for k in res.param_errors)


@pytest.mark.torch
@pytest.mark.parametrize("cls, kw", CONFIGS, ids=IDS)
def test_padded_sequences_match_torch_packed_sequences(cls, kw, f64):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    layer = cls(3, 4, **kw)
    twin = torch_twin(layer)
    x, hx, lengths = _inputs(layer)
    out, dx, dhx, grads, grad = _run(layer, x, hx, lengths)
    xt = torch.from_numpy(x).requires_grad_(True)
    hxt = tuple(torch.from_numpy(p).requires_grad_(True) for p in output_arrays(hx))
    packed = pack_padded_sequence(
        xt, torch.from_numpy(lengths), batch_first=layer.batch_first, enforce_sorted=False
    )
    yp, state = twin(packed, hxt if len(hxt) == 2 else hxt[0])
    yt, _ = pad_packed_sequence(yp, batch_first=layer.batch_first, total_length=5)
    outs = [yt, *output_arrays(state)]
    torch.autograd.backward(outs, [torch.from_numpy(g) for g in output_arrays(grad)])
    pairs = [(a, b.detach().numpy()) for a, b in zip(output_arrays(out), outs, strict=True)]
    pairs += [(dx, xt.grad.numpy())]
    pairs += [(a, b.grad.numpy()) for a, b in zip(output_arrays(dhx), hxt, strict=True)]
    tgrads = dict(twin.named_parameters())
    pairs += [(g, tgrads[k].grad.numpy()) for k, g in grads.items()]
    assert max(rel_err(a, b) for a, b in pairs) < 1e-9


@pytest.mark.torch
def test_a_torch_state_dict_loads_and_the_final_state_alone_backpropagates(f64):
    """An encoder uses only h_n: backward((None, (dh, None))) gives torch's gradients."""
    torch = pytest.importorskip("torch")
    twin = torch.nn.LSTM(3, 5, num_layers=2).double()
    lstm = bn.LSTM(3, 5, num_layers=2)
    lstm.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    _, (h, c) = lstm(x)
    dh = np.random.default_rng(1).standard_normal(h.shape)
    dx = lstm.backward((None, (dh, None)))
    xt = torch.from_numpy(x).requires_grad_(True)
    _, (ht, _) = twin(xt)
    ht.backward(torch.from_numpy(dh))
    assert rel_err(h, ht.detach().numpy()) < 1e-12
    assert rel_err(dx, xt.grad.numpy()) < 1e-12
    for k, p in twin.named_parameters():
        assert rel_err(dict(lstm.named_parameters())[k].grad, p.grad.numpy()) < 1e-12


def test_dropout_acts_between_layers_in_training_only_and_follows_the_seed():
    gru = bn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    bn.seed(3)
    a, _ = gru(x)
    bn.seed(3)
    b, _ = gru(x)
    np.testing.assert_array_equal(a, b)
    gru.eval()
    c, _ = gru(x)
    assert not np.allclose(a, c)
    one = bn.GRU(3, 4, dropout=0.5)  # one layer: nothing lies between layers
    one.train()
    np.testing.assert_array_equal(one(x)[0], one.eval()(x)[0])


def test_unbatched_input_and_state():
    lstm = bn.LSTM(3, 4, num_layers=2)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    h0 = np.zeros((2, 4), np.float32)
    y, (h, c) = lstm(x, (h0, h0))
    assert y.shape == (5, 4) and h.shape == c.shape == (2, 4)
    assert lstm.backward((y, (h, None))).shape == (5, 3)
    assert lstm.dhx[0].shape == (2, 4)
    batched, _ = lstm(x[:, None])
    np.testing.assert_allclose(y, batched[:, 0], rtol=1e-6)


@pytest.mark.parametrize(
    "call, kind, words",
    [
        (
            lambda m, x: m(x, (np.zeros((1, 2, 4)),) * 2),
            ValueError,
            ["LSTM(3→4", "(2, 2, 4)", "h0"],
        ),
        (lambda m, x: m(x, np.zeros((2, 2, 4))), TypeError, ["LSTM(3→4", "(h, c)"]),
        (lambda m, x: m(x, lengths=[5, 6]), ValueError, ["LSTM(3→4", "[1, 5]", "6"]),
        (lambda m, x: m(x, lengths=[0, 5]), ValueError, ["LSTM(3→4", "[1, 5]"]),
        (lambda m, x: m(x, lengths=[5, 5, 5]), ValueError, ["LSTM(3→4", "(2,)"]),
        (lambda m, x: m(x, lengths=[2.5, 5]), TypeError, ["LSTM(3→4", "integers"]),
    ],
    ids=["h0-shape", "lstm-state-not-a-pair", "too-long", "empty", "count", "float"],
)
def test_bad_states_and_lengths_name_the_layer(call, kind, words):
    lstm = bn.LSTM(3, 4, num_layers=2)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(kind) as info:
        call(lstm, x)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_backward_checks_the_state_gradient():
    gru = bn.GRU(3, 4)
    y, h = gru(np.zeros((5, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"dstate of shape \(1, 2, 4\)"):
        gru.backward((y, np.zeros((2, 4))))
    with pytest.raises(ValueError, match="dy or \\(dy, dstate\\)"):
        gru.backward((y, h, h))
    assert gru.backward((None, h)).shape == (5, 2, 3)
