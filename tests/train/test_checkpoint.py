"""Reading a training checkpoint: a hand-damaged file is refused with a ``ValueError``
naming the file and what is wrong, before the model, the optimizer, the data order,
the random generator or a callback changes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import barenet as bn
from barenet.core.config import get_rng_state
from barenet.io import ModelFileError, load_tensors, save_tensors
from barenet.train import fit, load_checkpoint
from barenet.train.callbacks import EarlyStopping, ModelCheckpoint

from .conftest import small_net


def _setup(blobs, ckdir=None):
    bn.seed(0)
    model = small_net()
    opt = bn.optim.Adam(model.parameters(), lr=1e-2)
    cbs = [EarlyStopping(patience=5)] + ([ModelCheckpoint(ckdir)] if ckdir else [])
    return model, opt, cbs


def _fit(blobs, model, opt, cbs, epochs, resume=None):
    (x, y), val = blobs
    loss = bn.SoftmaxCrossEntropy()
    return fit(model, loss, opt, (x, y), val, epochs=epochs, batch_size=16, callbacks=cbs,
               verbose=False, resume=resume)  # fmt: skip


@pytest.fixture
def good(blobs, tmp_path):
    """The ``last`` checkpoint of one epoch of a small MLP under Adam with EarlyStopping."""
    model, opt, cbs = _setup(blobs, tmp_path / "ck")
    _fit(blobs, model, opt, cbs, epochs=1)
    return tmp_path / "ck" / "last.safetensors"


def _damaged(good, tmp_path, training=None, tensors=None):
    """A copy of ``good`` with its training JSON and/or tensors edited in place."""
    arrays, meta = load_tensors(good)
    arrays = dict(arrays)
    if training is not None:
        state = json.loads(meta["training"])
        training(state)
        meta["training"] = json.dumps(state)
    if tensors is not None:
        tensors(arrays)
    bad = tmp_path / "damaged.safetensors"
    save_tensors(bad, arrays, meta)
    return bad


def _set(*path, value):
    def edit(d):
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value

    return edit


def _drop(key):
    return lambda d: d.pop(key)


DAMAGED_JSON = [
    (_drop("step"), "training state lacks step"),
    (_drop("history"), "training state lacks history"),
    (_set("step", value="12"), "step must be an integer >= 0, got '12'"),
    (_set("step", value=-1), "step must be an integer >= 0"),
    (_set("next_epoch", value=1.5), "next_epoch must be an integer >= 0"),
    (_set("optimizer", value=3), "optimizer must be a string"),
    (_set("loader", "batch", value="2"), "loader must hold ints seed, epoch, batch"),
    (_set("partial", value={"loss_sum": "x"}), "partial epoch sums: bad loss_sum, correct, c"),
    (_set("optimizer_scalars", "0", "step", value=[1]), r"optimizer_scalars\['0'\]\['step'\]"),
    (_set("optimizer_scalars", "w", value={}), r"optimizer_scalars\['w'\]"),
    (_set("rng_state", "state", value="no"), "rng_state is not a generator state"),
    (_set("history", "epochs", value={}), "history epochs must be a list of objects"),
    (_set("history", "steps", value=["a"]), "history steps must be a list of numbers"),
    (_set("callbacks", value=[["EarlyStopping"]]), "is not \\[name, state\\]"),
    (_set("param_groups", 0, "lr", value="fast"), r"param_groups\[0\]\['lr'\] is 'fast'"),
    (_set("param_groups", 0, "betas", value=[0.9]), r"\['betas'\] must be 2 numbers"),
    (_set("param_groups", 0, "lrr", value=0.1), "param_groups\\[0\\] has an unknown key 'lrr'"),
]
# What only fit can check: the states against the callbacks it was given.
DAMAGED_CALLBACK_STATES = [
    (_set("callbacks", 0, 1, "wait", value="x"), "EarlyStopping state 'wait' is 'x'"),
    (_set("callbacks", 0, 1, "on_epoch_end", value=1), "EarlyStopping state has an unknown key"),
]


def _wrong_shape(arrays):
    name = next(k for k in arrays if k.startswith("optim.0."))
    arrays[name] = np.zeros((3, 3), np.float32)


def _nan_weight(arrays):
    arrays["model.1.weight"] = np.full_like(arrays["model.1.weight"], np.nan)


def _bad_optim_name(arrays):
    arrays["optim.first.exp_avg"] = arrays.pop(next(k for k in arrays if k.startswith("optim.")))


DAMAGED_TENSORS = [
    (_wrong_shape, r"optimizer state 'exp_avg\w*' of 1.weight has shape \(3, 3\), the model's is"),
    (_nan_weight, "tensor 'model.1.weight' holds NaN or infinite values"),
    (_bad_optim_name, "tensor 'optim.first.exp_avg' is not optim.<parameter index>.<name>"),
]


def _snapshot(model, opt, cbs):
    return (
        {k: v.copy() for k, v in model.state_dict().items()},
        json.dumps(opt.state_dict(), default=lambda a: a.tolist()),
        json.dumps(get_rng_state()),
        [json.dumps(cb.state_dict()) for cb in cbs],
    )


def _unchanged(before, model, opt, cbs) -> bool:
    after = _snapshot(model, opt, cbs)
    same_weights = all(np.array_equal(before[0][k], v) for k, v in after[0].items())
    return same_weights and before[1:] == after[1:]


@pytest.mark.parametrize(
    "edit, match, where",
    [(e, m, "json") for e, m in DAMAGED_JSON + DAMAGED_CALLBACK_STATES]
    + [(e, m, "tensors") for e, m in DAMAGED_TENSORS],
)
def test_a_damaged_checkpoint_is_refused_by_name_and_changes_nothing(
    blobs, good, tmp_path, edit, match, where
):
    bad = _damaged(good, tmp_path, **{"training" if where == "json" else "tensors": edit})
    model, opt, cbs = _setup(blobs)
    _fit(blobs, model, opt, cbs, epochs=1)  # some state of its own to keep
    before = _snapshot(model, opt, cbs)
    with pytest.raises(ModelFileError, match=f"^{bad}: .*{match}"):
        _fit(blobs, model, opt, cbs, epochs=2, resume=bad)
    assert _unchanged(before, model, opt, cbs)
    if (edit, match) not in DAMAGED_CALLBACK_STATES:
        with pytest.raises(ValueError, match=f"^{bad}: .*{match}"):
            load_checkpoint(bad, model, opt)
        assert _unchanged(before, model, opt, cbs)


def test_the_training_state_must_be_an_object(good, tmp_path, blobs):
    arrays, meta = load_tensors(good)
    bad = tmp_path / "list.safetensors"
    save_tensors(bad, dict(arrays), {**meta, "training": "[1, 2]"})
    model, opt, _ = _setup(blobs)
    with pytest.raises(ModelFileError, match="training state must be an object, got list"):
        load_checkpoint(bad, model, opt)


def test_a_loader_position_past_the_data_is_refused_before_anything_changes(
    blobs, good, tmp_path
):
    bad = _damaged(good, tmp_path, training=_set("loader", "batch", value=50))
    model, opt, cbs = _setup(blobs)
    before = _snapshot(model, opt, cbs)
    match = "not match the data: it stopped after batch 50 of an epoch, an epoch of this data has 6"
    with pytest.raises(ModelFileError, match=match):
        _fit(blobs, model, opt, cbs, epochs=2, resume=bad)
    assert _unchanged(before, model, opt, cbs)


def test_optimizer_state_for_a_parameter_the_model_lacks_is_refused(blobs, good, tmp_path):
    def extra(arrays):
        arrays["optim.9.exp_avg"] = np.zeros(4, np.float32)

    bad = _damaged(good, tmp_path, tensors=extra)
    model, opt, cbs = _setup(blobs)
    before = _snapshot(model, opt, cbs)
    with pytest.raises(ModelFileError, match="state for parameter 9, but the optimizer has 4"):
        load_checkpoint(bad, model, opt)
    assert _unchanged(before, model, opt, cbs)


def test_the_undamaged_checkpoint_still_resumes(blobs, good):
    model, opt, cbs = _setup(blobs)
    h = _fit(blobs, model, opt, cbs, epochs=2, resume=good)
    assert len(h.epochs) == 2
