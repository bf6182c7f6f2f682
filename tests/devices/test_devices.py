"""Devices on the CPU, through a fake CuPy (see fake_cupy.py): moving models and
optimizer state, wrong-device errors, NumPy state dicts, fit's transfers per epoch, the
seed, and the one-line error where CuPy is missing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import barenet as bn
from barenet import optim
from barenet.core import dispatch
from barenet.core.device import GPUUnavailableError
from barenet.testing import LAYER_CASES, copy_on, grad_like, output_arrays
from barenet.train import evaluate, fit, predict, train_step


def _model(dropout: float = 0.0):
    layers = [bn.Conv2d(1, 4, 3, padding=1), bn.BatchNorm2d(4), bn.ReLU(), bn.MaxPool2d(2)]
    if dropout:
        layers.append(bn.Dropout(dropout))
    return bn.Sequential(*layers, bn.Flatten(), bn.Linear(4 * 4 * 4, 3))


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, n)


def _arrays(model):
    for m in model.modules():
        for name in m._param_names:
            yield m.__dict__[name].data
            yield m.__dict__[name].grad
        for name in m._buffer_names:
            yield m.__dict__[name]


def test_to_cuda_and_back_moves_parameters_grads_and_buffers(fake_cupy):
    model = _model()
    before = model.state_dict()
    assert model.to("cuda") is model
    assert model.device == "cuda:0" and model[0].weight.device == "cuda:0"
    assert all(type(a) is fake_cupy.ndarray for a in _arrays(model))
    model.to("cuda:1")
    assert model.device == "cuda:1"
    assert {a.device.id for a in _arrays(model)} == {1}
    model.to("cpu")
    assert model.device == "cpu" and all(type(a) is np.ndarray for a in _arrays(model))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_to_takes_a_device_and_a_dtype(fake_cupy):
    model = _model().to("cuda", np.float64)
    assert model.device == "cuda:0" and model.dtype == np.float64
    assert model[1].running_var.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integers keep their dtype
    assert model.to(np.float32).device == "cuda:0"


def test_bad_device_names_are_refused_before_anything_moves(fake_cupy):
    model = _model()
    for bad, kind in [("cuda:7", ValueError), ("cuda:x", ValueError), ("tpu", TypeError)]:
        with pytest.raises(kind):
            model.to(bad)
        assert model.device == "cpu"


def test_state_dict_is_numpy_and_load_state_dict_copies_onto_the_device(fake_cupy):
    gpu, cpu = _model().to("cuda"), _model()
    state = gpu.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    cpu.load_state_dict(state)
    assert cpu.device == "cpu"
    fresh = _model().to("cuda:1")
    fresh.load_state_dict(cpu.state_dict())
    assert {a.device.id for a in _arrays(fresh)} == {1}
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    fresh.load_state_dict({k: fake_cupy.asarray(v) for k, v in state.items()})  # from a GPU
    assert fresh.device == "cuda:1"


def test_a_layer_refuses_an_input_on_another_device_naming_both(fake_cupy):
    model = _model().to("cuda")
    x, _ = _data(2)
    with pytest.raises(ValueError, match=r"Conv2d\(1→4\): input is on cpu .* on cuda:0"):
        model(x)
    with fake_cupy.cuda.Device(1):
        x1 = fake_cupy.asarray(x)
    with pytest.raises(ValueError, match=r"input is on cuda:1 .* on cuda:0"):
        model(x1)
    lin = bn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear\(3→2\): input is on cuda:0 .* on cpu"):
        lin(fake_cupy.asarray(np.ones((1, 3), np.float32)))


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdaGrad"])
def test_optimizer_state_lives_with_the_parameters(fake_cupy, name):
    x, y = _data(8)
    model = _model().to("cuda")
    kwargs = {"lr": 0.01, "momentum": 0.9} if name in ("SGD", "RMSprop") else {"lr": 0.01}
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    loss_fn = bn.SoftmaxCrossEntropy()
    train_step(model, loss_fn, opt, x, y)
    arrays = [v for st in opt.state.values() for v in st.values() if hasattr(v, "shape")]
    assert arrays and all(type(a) is fake_cupy.ndarray for a in arrays)
    sd = opt.state_dict()
    assert all(
        type(v) is np.ndarray
        for st in sd["state"].values()
        for v in st.values()
        if hasattr(v, "shape")
    )
    model.to("cpu")  # the state follows at the next step
    train_step(model, loss_fn, opt, x, y)
    assert all(
        type(v) is np.ndarray
        for st in opt.state.values()
        for v in st.values()
        if hasattr(v, "shape")
    )
    model.to("cuda:1")
    opt.load_state_dict(sd)
    assert all(
        v.device.id == 1 for st in opt.state.values() for v in st.values() if hasattr(v, "shape")
    )


def test_training_on_the_device_gives_the_cpu_numbers(fake_cupy, f64):
    x, y = _data(40)
    x = x.astype(np.float64)
    histories, states = [], []
    for device in ("cpu", "cuda"):
        bn.seed(3)
        model = _model().to(device)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        h = fit(
            model,
            bn.SoftmaxCrossEntropy(),
            opt,
            (x, y),
            val=(x[:10], y[:10]),
            epochs=2,
            batch_size=8,
            seed=0,
            verbose=False,
        )
        histories.append(h)
        states.append(model.state_dict())
        assert model.device == ("cpu" if device == "cpu" else "cuda:0")
    cpu, gpu = histories
    assert all(isinstance(s, float) for s in gpu.steps)
    np.testing.assert_allclose(gpu.steps, cpu.steps, rtol=1e-10)
    for a, b in zip(cpu.epochs, gpu.epochs):
        for k in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert a[k] == pytest.approx(b[k], rel=1e-10), k
    for k in states[0]:
        np.testing.assert_allclose(states[1][k], states[0][k], rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("n", [40, 160])
def test_fit_waits_for_the_device_a_few_times_per_epoch_not_per_step(fake_cupy, n):
    x, y = _data(n)
    model = _model(dropout=0.2).to("cuda")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    fake_cupy.transfers = 0
    fit(model, bn.SoftmaxCrossEntropy(), opt, (x, y), epochs=3, batch_size=4, verbose=False)
    # 10 or 40 steps per epoch; the figures of an epoch come back together, with one
    # more transfer for the end-of-epoch check of the weights
    assert fake_cupy.transfers == 3 * 2


def test_predict_and_evaluate_run_on_the_device_and_return_numpy(fake_cupy):
    x, y = _data(30)
    model = _model()
    want_out = predict(model, x, batch_size=7)
    want = evaluate(model, bn.SoftmaxCrossEntropy(), x, y, batch_size=7)
    model.to("cuda")
    fake_cupy.transfers = 0
    out = predict(model, x, batch_size=7)
    assert type(out) is np.ndarray and fake_cupy.transfers == 2  # the weights' check, the outputs
    # The fake device runs the reference kernels, the CPU its fast ones: float32 sums in
    # another order, 1.5 ulp apart at the largest output (9e-8 at 0.59), so outputs
    # near zero differ by far more than 1e-6 relative (5e-6 at 0.009). Compared on
    # the outputs' scale, as float32 allows.
    np.testing.assert_allclose(out, want_out, rtol=1e-6, atol=1e-6 * np.abs(want_out).max())
    got = evaluate(model, bn.SoftmaxCrossEntropy(), x, y, batch_size=7)
    assert got == pytest.approx(want, rel=1e-6)
    on_gpu = evaluate(model, bn.SoftmaxCrossEntropy(), fake_cupy.asarray(x), fake_cupy.asarray(y))
    assert on_gpu == pytest.approx(want, rel=1e-6)


def test_train_step_returns_a_float_and_checks_the_loss(fake_cupy):
    x, y = _data(6)
    model = _model().to("cuda")
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = train_step(model, bn.SoftmaxCrossEntropy(), opt, x, y)
    assert isinstance(loss, float) and np.isfinite(loss)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    before = model.state_dict()
    with pytest.raises(bn.train.TrainingDiverged):
        train_step(model, bn.SoftmaxCrossEntropy(), opt, bad, y)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_fit_reports_a_nan_loss_on_the_device_at_the_end_of_the_epoch(fake_cupy):
    x, y = _data(16)
    model = _model().to("cuda")
    opt = optim.SGD(model.parameters(), lr=1e30)
    with pytest.raises(bn.train.TrainingDiverged, match="epoch 1"):
        fit(
            model,
            bn.SoftmaxCrossEntropy(),
            opt,
            (x * 1e30, y),
            epochs=2,
            batch_size=4,
            verbose=False,
        )


def test_losses_take_device_predictions_and_host_targets(fake_cupy):
    rng = np.random.default_rng(0)
    z, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    for loss_fn, target in [(bn.SoftmaxCrossEntropy(), labels), (bn.MSELoss(), z[::-1].copy())]:
        want, want_grad = loss_fn(z, target), loss_fn.backward()
        got = loss_fn(fake_cupy.asarray(z), target)
        assert isinstance(got, float) and got == pytest.approx(want, rel=1e-12)
        grad = loss_fn.backward()
        assert type(grad) is fake_cupy.ndarray
        np.testing.assert_allclose(grad.get(), want_grad, rtol=1e-12)
        value = loss_fn.value(fake_cupy.asarray(z), fake_cupy.asarray(target))
        assert type(value) is fake_cupy.ndarray and value.shape == ()
    with pytest.raises(ValueError, match="labels must be in"):
        bn.SoftmaxCrossEntropy()(fake_cupy.asarray(z), fake_cupy.asarray(labels + 4))


def test_seed_seeds_cupy_and_dropout_draws_on_the_device(fake_cupy):
    bn.seed(11)
    assert fake_cupy.seeds[-1] == 11
    x = fake_cupy.asarray(np.ones((4, 50), np.float32))
    drop = bn.Dropout(0.5)
    a = drop(x)
    bn.seed(11)
    b = drop(x)
    assert type(a) is fake_cupy.ndarray
    np.testing.assert_array_equal(a.get(), b.get())
    own = bn.Dropout(0.5, seed=4)
    c, d = own(x), bn.Dropout(0.5, seed=4)(x)
    np.testing.assert_array_equal(c.get(), d.get())
    assert not np.array_equal(a.get(), c.get())


@pytest.mark.parametrize("case", LAYER_CASES, ids=[c.id for c in LAYER_CASES])
def test_every_layer_case_runs_the_reference_kernels_through_the_array_module(fake_cupy, case, f64):
    """The reference kernels use only what CuPy has, and never mix host arrays in (the
    fake refuses that, as CuPy does); the fake GPU gives the CPU's numbers. A recurrent
    layer's state and its gradient (``dhx``) come out on the device too."""
    x = case.make_input(np.float64, seed=2)
    bn.seed(5)
    layer = case.make()
    if "stochastic" in case.flags:
        layer.eval()
    twin = copy_on(layer, "cuda")
    y_cpu = layer(x)
    dy = grad_like(y_cpu, np.random.default_rng(3))
    dx_cpu = layer.backward(dy)
    with bn.kernels("fast"):
        y_gpu = twin(fake_cupy.asarray(x))
        dx_gpu = twin.backward(_on_gpu(fake_cupy, dy))
    for got, want in zip(output_arrays(y_gpu), output_arrays(y_cpu), strict=True):
        assert type(got) is fake_cupy.ndarray
        np.testing.assert_allclose(got.get(), want, rtol=1e-12, atol=1e-12)
    if "indices" in case.flags:
        assert dx_gpu is None and dx_cpu is None
    else:
        assert type(dx_gpu) is fake_cupy.ndarray
        np.testing.assert_allclose(dx_gpu.get(), dx_cpu, rtol=1e-12, atol=1e-12)
    if getattr(layer, "dhx", None) is not None:
        for got, want in zip(output_arrays(twin.dhx), output_arrays(layer.dhx), strict=True):
            assert type(got) is fake_cupy.ndarray
            np.testing.assert_allclose(got.get(), want, rtol=1e-12, atol=1e-12)
    grads = {k: p.grad for k, p in layer.named_parameters()}
    for k, p in twin.named_parameters():
        np.testing.assert_allclose(p.grad.get(), grads[k], rtol=1e-12, atol=1e-12)


def _on_gpu(cp, grad):
    """A gradient (an array, or a recurrent layer's nested tuple) copied to the device."""
    if isinstance(grad, tuple):
        return tuple(_on_gpu(cp, g) for g in grad)
    return cp.asarray(grad)


def test_lstm_with_lengths_and_an_initial_state_on_the_device(fake_cupy, f64):
    """Padded sequences and a given initial state: the mask is built on the device and
    the final state and its gradients match the CPU's."""
    lstm = bn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    twin = copy_on(lstm, "cuda")
    rng = np.random.default_rng(0)
    x, lengths = rng.standard_normal((3, 5, 3)), np.array([5, 2, 4])
    h0, c0 = rng.standard_normal((2, 4, 3, 4))
    y, (h, c) = lstm(x, (h0, c0), lengths=lengths)
    y_gpu, (h_gpu, c_gpu) = twin(
        fake_cupy.asarray(x), (fake_cupy.asarray(h0), fake_cupy.asarray(c0)), lengths=lengths
    )
    for got, want in ((y_gpu, y), (h_gpu, h), (c_gpu, c)):
        assert type(got) is fake_cupy.ndarray
        np.testing.assert_allclose(got.get(), want, rtol=1e-12, atol=1e-12)
    grad = grad_like((y, (h, c)), rng)
    dx = lstm.backward(grad)
    dx_gpu = twin.backward(_on_gpu(fake_cupy, grad))
    np.testing.assert_allclose(dx_gpu.get(), dx, rtol=1e-12, atol=1e-12)
    for got, want in zip(twin.dhx, lstm.dhx):
        np.testing.assert_allclose(got.get(), want, rtol=1e-12, atol=1e-12)


def test_gpu_kernels_are_registered_only_where_cupy_can_build_them(fake_cupy):
    x = fake_cupy.asarray(np.ones((1, 1, 4, 4), np.float32))
    kernels = dispatch.kernels_for("conv2d", x)
    assert kernels is dispatch.registered()["conv2d", "reference", dispatch.ANY]
    assert ("conv2d", "fast", "cupy") not in dispatch.registered()


def test_without_cupy_a_gpu_is_a_one_line_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    model = _model()
    with pytest.raises(GPUUnavailableError, match=r"pip install barenet\[gpu\]") as err:
        model.to("cuda")
    assert isinstance(err.value, ImportError) and "\n" not in str(err.value)
    assert model.device == "cpu"


def test_a_cupy_without_gpus_is_the_same_error(fake_cupy):
    fake_cupy.cuda.runtime.getDeviceCount = lambda: 0
    with pytest.raises(GPUUnavailableError, match="no CUDA GPU"):
        _model().to("cuda")


def test_importing_barenet_and_training_on_the_cpu_never_import_cupy():
    code = (
        "import sys, numpy as np, barenet as bn\n"
        "m = bn.Sequential(bn.Linear(3, 2)); m(np.ones((1, 3), np.float32))\n"
        "print('cupy' in sys.modules, 'barenet.fast.cuda' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_metrics_take_device_arrays(fake_cupy):
    from barenet.train import metrics

    rng = np.random.default_rng(0)
    scores, labels = rng.standard_normal((20, 4)), rng.integers(0, 4, 20)
    want = metrics.classification_report(labels, scores)
    got = metrics.classification_report(fake_cupy.asarray(labels), fake_cupy.asarray(scores))
    assert got == want
    assert metrics.accuracy(labels, fake_cupy.asarray(scores)) == metrics.accuracy(labels, scores)
    assert metrics.mse(fake_cupy.asarray(scores), scores[::-1]) == metrics.mse(scores, scores[::-1])


def test_init_writes_weights_on_the_device(fake_cupy):
    from barenet import init

    model = _model().to("cuda")
    init.apply(model, "he_normal")
    assert model[0].weight.device == "cuda:0" and float(model[0].weight.data.std()) > 0
    assert float(abs(model[0].bias.data).max()) == 0.0


def test_onnx_export_of_a_model_on_the_device(fake_cupy, tmp_path):
    pytest.importorskip("onnx")
    model = _model()
    want = tmp_path / "cpu.onnx"
    bn.export_onnx(model, want, input_shape=(1, 8, 8))
    got = tmp_path / "gpu.onnx"
    bn.export_onnx(model.to("cuda"), got, input_shape=(1, 8, 8))
    assert got.read_bytes() == want.read_bytes()


class _SquaredErrorOnTheScores(bn.Loss):
    """A loss of one's own that defines ``forward`` only (a float), as before ``value``."""

    def forward(self, pred, target):
        xp = bn.core.backend.array_module(pred)
        onehot = xp.eye(pred.shape[1], dtype=pred.dtype)[xp.asarray(target)]
        diff = pred - onehot
        self._grad = 2 * diff / diff.size
        return float((diff * diff).mean())


def test_fit_on_the_gpu_takes_a_loss_that_defines_only_forward(fake_cupy):
    x, y = _data(40)
    x = x.astype(np.float64)
    losses = []
    for device in ("cpu", "cuda"):
        bn.seed(3)
        model = _model().to(device, np.float64)
        h = fit(
            model,
            _SquaredErrorOnTheScores(),
            optim.SGD(model.parameters(), lr=0.05),
            (x, y),
            epochs=2,
            batch_size=8,
            seed=0,
            verbose=False,
        )
        losses.append(h.steps)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-10)
