"""``train_step`` on its own, and the step that Ctrl-C cannot split."""

from __future__ import annotations

import signal
import subprocess

import numpy as np
import pytest

import barenet as bn
from barenet.core.config import get_rng_state
from barenet.train import (
    Callback,
    GradientNormRecorder,
    ModelCheckpoint,
    TrainingDiverged,
    fit,
    train_step,
)

from .conftest import small_net, weights


def test_train_step_is_the_four_lines_of_a_step(blobs):
    (x, y), _ = blobs
    bn.seed(0)
    a = small_net(dropout=0.2)
    bn.seed(0)
    b = small_net(dropout=0.2)
    loss_fn = bn.SoftmaxCrossEntropy()
    opt_a, opt_b = bn.optim.Adam(a.parameters(), lr=1e-2), bn.optim.Adam(b.parameters(), lr=1e-2)
    bn.seed(1)
    by_hand = []
    for i in range(0, 96, 16):
        by_hand.append(loss_fn(a(x[i : i + 16]), y[i : i + 16]))
        a.backward(loss_fn.backward())
        opt_a.step()
        opt_a.zero_grad()
    bn.seed(1)
    stepped = [
        train_step(b, loss_fn, opt_b, x[i : i + 16], y[i : i + 16]) for i in range(0, 96, 16)
    ]
    assert stepped == by_hand and all(isinstance(v, float) for v in stepped)
    assert all(np.array_equal(p, q) for p, q in zip(weights(a), weights(b)))
    assert all(not p.grad.any() for p in b.parameters())


def _bn_net() -> bn.Sequential:
    """Dropout draws from the global generator and BatchNorm updates buffers in
    forward: both must be undone when a step is."""
    return bn.Sequential(
        bn.Flatten(),
        bn.Linear(64, 16),
        bn.BatchNorm1d(16),
        bn.ReLU(),
        bn.Dropout(0.3),
        bn.Linear(16, 4),
    )


def test_a_diverged_step_changes_nothing(blobs):
    (x, y), _ = blobs
    bn.seed(0)
    model = _bn_net()
    opt = bn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train_step(model, bn.SoftmaxCrossEntropy(), opt, x[:16], y[:16])
    before, rng = model.state_dict(), get_rng_state()
    bad = x[16:32].copy()
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(TrainingDiverged, match="network output became NaN/inf"):
        train_step(model, bn.SoftmaxCrossEntropy(), opt, bad, y[16:32])
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert get_rng_state() == rng and opt.step_count == 1
    assert all(not p.grad.any() for p in model.parameters())


@pytest.mark.signals  # SIGINT raised in this process: conftest gives it Python's handler
def test_in_your_own_loop_ctrl_c_waits_for_the_update_inside_interrupts_handled(blobs):
    from barenet.train import interrupts_handled

    (x, y), _ = blobs

    class Halfway(bn.optim.SGD):
        def _update(self, p, g, state, group):
            super()._update(p, g, state, group)
            if p is self.param_groups[0]["params"][0]:
                signal.raise_signal(signal.SIGINT)  # between two parameters' updates

    def one_step(opt_cls):
        bn.seed(0)
        model = small_net()
        opt = opt_cls(model.parameters(), lr=0.1)
        train_step(model, bn.SoftmaxCrossEntropy(), opt, x[:16], y[:16])
        return model, opt

    done, _ = one_step(bn.optim.SGD)
    bn.seed(0)
    model = small_net()
    opt = Halfway(model.parameters(), lr=0.1)
    with interrupts_handled(), pytest.raises(KeyboardInterrupt):
        train_step(model, bn.SoftmaxCrossEntropy(), opt, x[:16], y[:16])
    assert opt.step_count == 1  # the whole update ran; then Ctrl-C
    assert all(np.array_equal(a, b) for a, b in zip(weights(done), weights(model)))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- Ctrl-C at every point of a step ----------------------------------------------

POINTS = [
    "forward",
    "loss",
    "backward",
    "after_backward",
    "optimizer_before_update",
    "optimizer_after_update",
    "zero_grad",
    "batch_end",
    "epoch_end",
]
# Points inside what Ctrl-C must not split: only a real SIGINT, which is held, can
# land there and leave a consistent run.
HELD_POINTS = ["optimizer_mid_update", "epoch_end_first"]
_AT = 8  # the 9th step: epoch 2, batch 3 of 6


class _Trap:
    """Ctrl-C at one point of the ``_AT``-th step: raised as an exception, or sent
    as a real SIGINT (which the trainer holds inside an update), or SIGTERM."""

    def __init__(self, point: str | None, how: str):
        self.point, self.how, self.seen, self.fired = point, how, {}, False

    def hit(self, point: str) -> None:
        n = self.seen[point] = self.seen.get(point, -1) + 1
        at = _AT // 6 if point.startswith("epoch_end") else _AT
        if point == self.point and n == at and not self.fired:
            self.fired = True
            if self.how == "raise":
                raise KeyboardInterrupt
            signal.raise_signal(signal.SIGTERM if self.how == "sigterm" else signal.SIGINT)


class _TrapAdam(bn.optim.Adam):
    trap: _Trap

    def step(self):
        self.trap.hit("optimizer_before_update")
        super().step()
        self.trap.hit("optimizer_after_update")

    def _update(self, p, g, state, group):
        super()._update(p, g, state, group)
        if p is self.param_groups[0]["params"][0]:
            self.trap.hit("optimizer_mid_update")

    def zero_grad(self):
        super().zero_grad()
        self.trap.hit("zero_grad")


class _TrapLoss(bn.SoftmaxCrossEntropy):
    def __init__(self, trap):
        super().__init__()
        self.trap = trap

    def __call__(self, logits, target):
        loss = super().__call__(logits, target)
        self.trap.hit("loss")
        return loss


class _TrapFirst(Callback):
    def __init__(self, trap):
        self.trap = trap

    def on_epoch_end(self, ctx):
        self.trap.hit("epoch_end_first")


class _TrapHooks(Callback):
    def __init__(self, trap):
        self.trap = trap

    def on_after_backward(self, ctx):
        self.trap.hit("after_backward")

    def on_batch_end(self, ctx):
        self.trap.hit("batch_end")

    def on_epoch_end(self, ctx):
        self.trap.hit("epoch_end")


def _run(blobs, ckdir, trap: _Trap | None = None, resume=None):
    """A fresh model and optimizer each time, as a new process would build them."""
    trap = trap or _Trap(None, "raise")
    bn.seed(0)
    model = _bn_net()
    lin = model[1]
    fwd, bwd = lin.forward, lin.backward

    def forward(x):
        y = fwd(x)
        trap.hit("forward")
        return y

    def backward(dy):
        dx = bwd(dy)
        trap.hit("backward")
        return dx

    lin.forward, lin.backward = forward, backward
    opt = _TrapAdam(model.parameters(), lr=1e-2)
    opt.trap = trap
    (x, y), val = blobs
    h = fit(
        model,
        _TrapLoss(trap),
        opt,
        (x, y),
        val,
        epochs=3,
        batch_size=16,
        callbacks=[
            _TrapFirst(trap),
            ModelCheckpoint(ckdir),
            GradientNormRecorder(),
            _TrapHooks(trap),
        ],
        verbose=False,
        resume=resume,
        transform=lambda xb, rng: xb + rng.normal(0, 0.01, xb.shape).astype(xb.dtype),
    )
    return model, opt, h


def _records(h):
    return [{k: v for k, v in e.items() if k != "time_s"} for e in h.epochs]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    from barenet.data import blobs_images

    data = blobs_images(n_train=96, n_test=32, n_classes=4, seed=0)
    return data, _run(data, tmp_path_factory.mktemp("straight"))


def _case(point: str, how: str):
    """A real SIGINT is raised in this process: marked ``signals``, for which conftest
    puts Python's Ctrl-C handler on SIGINT, whatever pytest was started with."""
    return pytest.param(point, how, marks=[pytest.mark.signals] if how == "signal" else [])


@pytest.mark.parametrize(
    "point, how",
    [_case(p, h) for p in POINTS for h in ("raise", "signal")]
    + [_case(p, "signal") for p in HELD_POINTS],
)
def test_ctrl_c_at_any_point_of_a_step_resumes_bit_for_bit(straight, tmp_path, point, how):
    data, (model0, opt0, h0) = straight
    trap = _Trap(point, how)
    _, _, h = _run(data, tmp_path, trap)
    assert trap.fired and h.stopped_reason == "interrupted"
    model, opt, h2 = _run(data, tmp_path, resume=tmp_path / "last.safetensors")
    assert all(np.array_equal(a, b) for a, b in zip(weights(model0), weights(model)))
    assert h2.steps == h0.steps and _records(h2) == _records(h0)
    s0, s = opt0.state_dict()["state"], opt.state_dict()["state"]
    assert all(np.array_equal(s0[i][k], s[i][k]) for i in s0 for k in s0[i])


@pytest.mark.signals  # two real SIGINTs in this process
def test_a_second_ctrl_c_breaks_in_and_keeps_the_last_checkpoint(straight, tmp_path):
    data = straight[0]

    class Twice(_Trap):
        def hit(self, point):
            if point == "optimizer_mid_update" and self.seen.get(point, -1) + 1 == _AT:
                snap.append((tmp_path / "last.safetensors").read_bytes())
                signal.raise_signal(signal.SIGINT)  # held
                signal.raise_signal(signal.SIGINT)  # breaks in: the update is half-done
            self.seen[point] = self.seen.get(point, -1) + 1

    snap: list[bytes] = []
    _, _, h = _run(data, tmp_path, Twice(None, "signal"))
    assert h.stopped_reason == "interrupted" and len(h.steps) == _AT
    assert (tmp_path / "last.safetensors").read_bytes() == snap[0]  # written after epoch 1


def sigterm_child(out: str) -> None:
    """In a child started with SIGTERM at its default (see the test below): SIGTERM at a
    point fit undoes and at one it holds; each run stops as Ctrl-C stops and resumes
    bit for bit. Prints one ``point:stopped_reason`` line per run."""
    from pathlib import Path

    from barenet.data import blobs_images

    data = blobs_images(n_train=96, n_test=32, n_classes=4, seed=0)
    model0, opt0, h0 = _run(data, Path(out) / "straight")
    for point in ("forward", "optimizer_mid_update"):
        folder = Path(out) / point
        trap = _Trap(point, "sigterm")
        _, _, h = _run(data, folder, trap)
        assert trap.fired and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        model, opt, h2 = _run(data, folder, resume=folder / "last.safetensors")
        assert all(np.array_equal(a, b) for a, b in zip(weights(model0), weights(model)))
        assert h2.steps == h0.steps and _records(h2) == _records(h0)
        print(f"{point}:{h.stopped_reason}", flush=True)


@pytest.mark.signals  # SIGTERM goes to a child that sets its own disposition first
def test_sigterm_stops_fit_as_ctrl_c_does_and_resumes_bit_for_bit(tmp_path):
    from launch import child_env, python_command

    code = f"from tests.train.test_step import sigterm_child\nsigterm_child({str(tmp_path)!r})\n"
    r = subprocess.run(
        python_command(code), env=child_env(), cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["forward:terminated", "optimizer_mid_update:terminated"]


def test_progress_bar_is_a_callback_that_closes_however_fit_ends(blobs, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    from barenet.train import ProgressBar, progress

    monkeypatch.setattr(progress, "_is_tty", lambda: True)
    bar = ProgressBar()
    bn.seed(0)
    model = small_net()
    (x, y), val = blobs
    fit(
        model,
        bn.SoftmaxCrossEntropy(),
        bn.optim.Adam(model.parameters()),
        (x, y),
        val,
        epochs=2,
        batch_size=32,
        callbacks=[bar],
        verbose=None,
    )
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "val_acc" in err and bar._bar is None
    bad = bn.optim.SGD(model.parameters(), lr=1e30)
    with pytest.raises(TrainingDiverged):
        fit(model, bn.SoftmaxCrossEntropy(), bad, (x, y), epochs=3, callbacks=[bar])
    assert bar._bar is None
