from __future__ import annotations

import json

import numpy as np
import pytest

import barenet as bn
from barenet.train import History, load_checkpoint, run_training

BASE = {
    "data": "digits",
    "limit_train": 240,
    "limit_test": 80,
    "epochs": 2,
    "batch_size": 32,
    "quiet": True,
    "seed": 0,
}


def test_run_training_writes_every_artefact(tmp_path):
    m = run_training({**BASE, "model": "mlp", "model_args": {"hidden": [32]}}, tmp_path)
    for f in [
        "model.safetensors",
        "history.csv",
        "history.json",
        "metrics.json",
        "learning_curves.png",
        "confusion_matrix.png",
        "checkpoints/last.safetensors",
    ]:
        assert (tmp_path / f).stat().st_size > 0, f
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["test_accuracy"] == pytest.approx(m["test_accuracy"])
    assert {"test_loss", "best_val_accuracy", "epochs", "wall_time_s"} <= set(on_disk)
    assert m["epochs"] == 2 and m["n_train"] + m["n_val"] == 240 and m["n_test"] == 80
    assert len(History.load_json(tmp_path / "history.json").epochs) == 2
    model = bn.load(tmp_path / "model.safetensors")
    meta = model.metadata
    assert meta["class_names"] == [str(i) for i in range(10)] and meta["input_shape"] == [1, 8, 8]
    assert meta["task"] == "classification" and meta["metrics"]["test_loss"] == m["test_loss"]
    assert meta["config"]["model_args"] == {"hidden": [32]}
    assert (tmp_path / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_training_is_repeatable_and_resumable(tmp_path):
    cfg = {**BASE, "model": "mlp", "model_args": {"hidden": [16]}, "plots": False}
    a = run_training(cfg, tmp_path / "a")
    run_training({**cfg, "epochs": 1}, tmp_path / "b")
    b = run_training({**cfg, "resume": True}, tmp_path / "b")
    assert a["test_loss"] == b["test_loss"]
    wa = bn.load(tmp_path / "a" / "model.safetensors").state_dict()
    wb = bn.load(tmp_path / "b" / "model.safetensors").state_dict()
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_an_interrupted_run_writes_no_metrics_and_resumes_to_the_same_result(tmp_path):
    from barenet.train import LambdaCallback

    def ctrl_c(ctx):
        if ctx.step == 9:
            raise KeyboardInterrupt

    cfg = {**BASE, "model": "mlp", "model_args": {"hidden": [16]}, "plots": False}
    straight = run_training(cfg, tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run_training({**cfg, "callbacks": [LambdaCallback(on_batch_end=ctrl_c)]}, tmp_path / "b")
    assert (tmp_path / "b/checkpoints/last.safetensors").is_file()
    assert not (tmp_path / "b/metrics.json").exists()
    resumed = run_training({**cfg, "resume": True}, tmp_path / "b")
    assert resumed["test_loss"] == straight["test_loss"] and resumed["steps"] == straight["steps"]


def test_regression_run_reports_mse_and_draws_the_fit(tmp_path):
    m = run_training(
        {
            "model": "mlp",
            "data": "sine",
            "n_train": 128,
            "n_test": 32,
            "epochs": 3,
            "model_args": {"widths": [1, 8, 1], "activation": "tanh"},
            "quiet": True,
            "lr": 0.01,
        },
        tmp_path,
    )
    assert m["task"] == "regression" and m["test_mse"] >= 0 and "test_accuracy" not in m
    assert (tmp_path / "fit.png").is_file()


def test_a_run_diverging_before_any_checkpoint_writes_no_model_file(tmp_path):
    m = run_training(
        {**BASE, "model": "mlp", "optimizer": "sgd", "lr": 1e30, "epochs": 3, "plots": False},
        tmp_path,
    )
    assert m["stopped_reason"] == "diverged" and "NaN/inf" in m["error"]
    assert "no checkpoint had been written, so no model file is saved" in m["error"]
    assert "kept" not in m["error"] and m["model_file"] is None and m["test_loss"] is None
    assert json.loads((tmp_path / "metrics.json").read_text())["stopped_reason"] == "diverged"
    assert not (tmp_path / "model.safetensors").exists()


def test_a_diverging_run_keeps_the_weights_of_its_last_checkpoint(tmp_path):
    from barenet.train import LambdaCallback

    def poison(ctx):
        if ctx.epoch == 1 and ctx.batch == 2:
            ctx.model.parameters()[0].data[0, 0] = np.nan

    cfg = {**BASE, "model": "mlp", "epochs": 3, "plots": False}
    m = run_training({**cfg, "callbacks": [LambdaCallback(on_batch_end=poison)]}, tmp_path)
    assert m["stopped_reason"] == "diverged" and m["epochs"] == 1
    assert "last checkpoint" in m["error"] and m["model_file"] == "model.safetensors"
    model = bn.load(tmp_path / "model.safetensors")
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    one = run_training({**cfg, "epochs": 1}, tmp_path / "one")  # the same first epoch
    assert m["test_loss"] == one["test_loss"]


def test_checkpoint_of_another_optimizer_is_refused_and_changes_nothing(tmp_path):
    run_training({**BASE, "model": "mlp", "epochs": 1, "plots": False}, tmp_path)
    model = bn.load(tmp_path / "model.safetensors")
    before = model.state_dict()
    model.parameters()[0].data += 1
    before = model.state_dict()
    with pytest.raises(ValueError, match="Adam, not SGD"):
        load_checkpoint(
            tmp_path / "checkpoints/last.safetensors",
            model,
            bn.optim.SGD(model.parameters(), lr=0.1),
        )
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="not a barenet training checkpoint"):
        load_checkpoint(tmp_path / "model.safetensors", model)


def test_label_smoothing_trains_the_smoothed_loss_and_reports_the_plain_one(tmp_path):
    cfg = {**BASE, "model": "mlp", "model_args": {"hidden": [16]}, "epochs": 1, "plots": False}
    cfg.update(val_fraction=0.0, augment="flip,padcrop:1")
    plain = run_training(cfg, tmp_path / "plain")
    smooth = run_training({**cfg, "label_smoothing": 0.3}, tmp_path / "smooth")
    model, meta = bn.io.load_file(tmp_path / "smooth/model.safetensors")
    assert meta["config"]["label_smoothing"] == 0.3 and meta["config"]["augment"] == cfg["augment"]
    d = bn.train.load_data(cfg)  # the run's test subset: limit_test draws it with the seed
    assert len(d.x_test) == 80
    logits = bn.train.predict(model, d.x_test)
    # The reported test loss is the plain cross-entropy of the saved model...
    assert smooth["test_loss"] == pytest.approx(bn.SoftmaxCrossEntropy()(logits, d.y_test))
    # ...while training minimised the smoothed one.
    run = bn.train.build_run({**cfg, "label_smoothing": 0.3}, tmp_path / "built")
    assert run.loss_fn.label_smoothing == 0.3
    assert smooth["test_loss"] != plain["test_loss"]


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"model": "mlp", "data": "digits", "epochz": 3}, "unknown config keys"),
        ({"data": "digits"}, "needs 'model' and 'data'"),
        ({"model": "mlp", "data": "digits", "optimizer": "lbfgs"}, "unknown optimizer"),
        ({"model": "mlp", "data": "sine", "invert": True}, "invert applies"),
        ({"model": "mlp", "data": "sine", "label_smoothing": 0.1}, "label_smoothing applies"),
        ({"model": "mlp", "data": "digits", "label_smoothing": 1.5}, r"label_smoothing .*\[0, 1\]"),
        ({"model": "mlp", "data": "digits", "augment": "flip,padcrop:x"}, "padcrop"),
    ],
)
def test_bad_configs_raise_value_errors(tmp_path, cfg, match):
    with pytest.raises(ValueError, match=match):
        run_training(cfg, tmp_path)


def test_resume_without_a_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    with pytest.raises(FileNotFoundError, match="resume: no checkpoint at .*nothing to continue"):
        run_training({**BASE, "model": "mlp", "resume": True}, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_an_empty_test_split_is_refused_before_training(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    root = tmp_path / "imgs"  # one image per class: nothing to hold out for testing
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        Image.fromarray(np.full((6, 6), 40 if c == "a" else 200, np.uint8)).save(root / c / "x.png")
    cfg = {"model": "mlp", "data": "folder", "data_dir": str(root), "size": [6, 6], "quiet": True}
    with pytest.raises(ValueError, match="the test split is empty .*--test-fraction 0"):
        run_training({**cfg, "val_fraction": 0}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_test_size_zero_trains_on_everything_and_writes_a_model(tmp_path):
    m = run_training(
        {**BASE, "model": "mlp", "test_size": 0, "val_fraction": 0, "limit_test": None},
        tmp_path,
    )
    assert m["n_test"] == 0 and m["n_val"] == 0 and m["n_train"] == 240
    assert m["test_loss"] is None and m["test_accuracy"] is None
    assert (tmp_path / "model.safetensors").is_file() and not (
        tmp_path / "test_report.json"
    ).exists()


def test_predict_and_evaluate_refuse_a_model_with_nan_weights(tmp_path):
    from barenet.train import evaluate, predict

    model = bn.Sequential(bn.Flatten(), bn.Linear(64, 10))
    x = np.zeros((4, 1, 8, 8), np.float32)
    model[1].weight.data[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"weights are not finite \(NaN/inf in 1.weight\)"):
        predict(model, x)
    with pytest.raises(ValueError, match="weights are not finite"):
        evaluate(model, bn.SoftmaxCrossEntropy(), x, np.zeros(4, np.int64))
