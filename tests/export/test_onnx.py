"""ONNX export: every layer case and zoo model passes ONNX's full check, and
onnxruntime computes what barenet computes (eval mode, float32, 1e-4 relative)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import barenet as bn
from barenet.export import IR_VERSION, OPSET, TRANSLATIONS, ExportError, to_onnx
from barenet.models import MODELS, build_model
from barenet.testing import output_arrays
from helpers import rel_err

from .cases import layer_cases, randomise_statistics, registered_layer_types

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

CASES = layer_cases()
ZOO_SHAPES = [(1, 8, 8), (1, 28, 28), (3, 12, 10)]


def run_ort(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def check_against_ort(
    model: bn.Module, sample_shape, tmp_path, seed: int = 0, indices=None
) -> float:
    """Export, run ONNX's full check on the file, and return the worst relative
    difference between onnxruntime and barenet (eval mode) over batches of 1 and 7.
    ``indices`` (low, high): the model reads int64 token indices drawn from that range.
    A recurrent layer's graph gives its outputs y (the first of its (y, state))."""
    path = bn.export_onnx(model, tmp_path / "m.onnx", input_shape=sample_shape)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    model.eval()
    rng = np.random.default_rng(seed)
    worst = 0.0
    for n in (1, 7):
        if indices is None:
            x = rng.normal(size=(n, *sample_shape)).astype(np.float32)
        else:
            x = rng.integers(*indices, (n, *sample_shape))
        ours = output_arrays(model(x))[0]
        theirs = run_ort(path, x)
        assert theirs.shape == ours.shape and theirs.dtype == np.float32
        worst = max(worst, rel_err(theirs, ours))
    return worst


def test_every_registered_layer_type_has_a_translation_and_an_export_case():
    covered = {type(m) for c in CASES for m in c.make().modules()}
    missing_case = registered_layer_types() - covered
    missing_translation = registered_layer_types() - set(TRANSLATIONS)
    assert not missing_case, f"layer types with no export case: {sorted(missing_case, key=str)}"
    assert not missing_translation, f"no ONNX translation: {sorted(missing_translation, key=str)}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_layer_case_matches_onnxruntime(case, tmp_path):
    model = randomise_statistics(case.make())
    high = getattr(case, "index_high", None)
    indices = None if high is None else (case.index_low, high)
    assert check_against_ort(model, case.input_shape[1:], tmp_path, indices=indices) < 1e-4


@pytest.mark.parametrize("shape", ZOO_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", list(MODELS))
def test_zoo_model_matches_onnxruntime(name, shape, tmp_path):
    model = randomise_statistics(build_model(name, shape, 10))
    assert check_against_ort(model, shape, tmp_path) < 1e-4


def test_float64_model_is_exported_in_float32(tmp_path, f64):
    model = randomise_statistics(build_model("cnn-res", (1, 8, 8), 4))
    assert model.dtype == np.float64
    assert check_against_ort(model, (1, 8, 8), tmp_path) < 1e-4


def test_trained_batchnorm_model_matches_after_a_short_fit(tmp_path):
    """Weights and running statistics moved by real training steps (Adam, cnn-bn)."""
    from barenet import optim

    rng = np.random.default_rng(1)
    x = rng.random((64, 1, 8, 8), dtype=np.float32)
    y = (x[:, 0, :4].sum(axis=(1, 2)) > x[:, 0, 4:].sum(axis=(1, 2))).astype(np.int64)
    model = build_model("cnn-dropout-bn", (1, 8, 8), 2)
    loss_fn, opt = bn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(12):
        i = rng.choice(64, 16, replace=False)
        loss_fn(model(x[i]), y[i])
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    bn_layers = [m for m in model.modules() if isinstance(m, bn.BatchNorm2d)]
    assert all(int(m.num_batches_tracked) == 12 for m in bn_layers)
    assert not np.allclose(bn_layers[0].running_var, 1.0)
    assert check_against_ort(model, (1, 8, 8), tmp_path) < 1e-4


def test_graph_header_batch_dimension_and_metadata(tmp_path):
    model = build_model("cnn-small", (1, 8, 8), 3)
    meta = {
        "class_names": ["cat", "dog", "owl"],
        "normalisation": {"range": [0.0, 1.0], "invert": True},
        "input_shape": [1, 8, 8],
        "task": "classification",
    }
    proto = to_onnx(model, metadata=meta)
    assert proto.ir_version == IR_VERSION
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    (inp,), (out,) = proto.graph.input, proto.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 8, 8]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 3]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in proto.graph.initializer)
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["class_names"]) == ["cat", "dog", "owl"]
    assert json.loads(props["normalisation"]) == meta["normalisation"]
    assert "inverted" in props["input"] and "[0, 1]" in props["input"]
    assert bn.build(json.loads(props["barenet_spec"])).spec() == model.spec()
    assert proto.producer_name == "barenet"


def test_initializers_carry_state_dict_names():
    model = bn.Sequential(bn.Conv2d(1, 2, 3), bn.BatchNorm2d(2), bn.Flatten(), bn.Linear(8, 2))
    names = {t.name for t in to_onnx(model, (1, 4, 4)).graph.initializer}
    assert set(model.state_dict()) - {"1.num_batches_tracked"} == names


def test_export_leaves_train_and_eval_flags_alone(tmp_path):
    model = build_model("cnn-dropout-bn", (1, 8, 8), 10)
    model.train()
    model[1].eval()
    bn.export_onnx(model, tmp_path / "m.onnx", input_shape=(1, 8, 8))
    assert model.training and not model[1].training
    assert all(m.training for i, m in enumerate(model) if i != 1)


class Doubler(bn.Module):
    def forward(self, x):
        return 2 * x


class Clipped(bn.ReLU):
    """A subclass computes something else: it must not pass for its parent."""

    def forward(self, x):
        return np.minimum(super().forward(x), 1.0)


@pytest.mark.parametrize("layer, where", [(Doubler(), "'1.body'"), (Clipped(), "'1.body'")])
def test_unexportable_layer_is_named_and_nothing_is_written(layer, where, tmp_path):
    model = bn.Sequential(bn.Linear(4, 4), bn.Residual(layer), bn.Linear(4, 2))
    path = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match=rf"layer {where} \({type(layer).__name__}\)"):
        bn.export_onnx(model, path, input_shape=(4,))
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_bad_input_shape_is_refused_with_the_layer_message(tmp_path):
    model = build_model("cnn-small", (1, 8, 8), 10)
    with pytest.raises(ValueError, match=r"input_shape \(3, 8, 8\) does not fit.*Conv2d\(1→32\)"):
        bn.export_onnx(model, tmp_path / "m.onnx", input_shape=(3, 8, 8))
    with pytest.raises(ValueError, match="input_shape=\\(C, H, W\\) is needed"):
        bn.export_onnx(model, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="tuple of ints"):
        bn.export_onnx(model, tmp_path / "m.onnx", input_shape="1x8x8")
    with pytest.raises(TypeError, match="barenet Module"):
        bn.export_onnx(object(), tmp_path / "m.onnx", input_shape=(1, 8, 8))
    assert list(tmp_path.iterdir()) == []


def test_lone_dropout_exports_as_identity(tmp_path):
    path = bn.export_onnx(bn.Dropout(0.5), tmp_path / "d.onnx", input_shape=(3,))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(run_ort(path, x), x)


def test_padded_queries_reach_the_encoder_as_sequence_lengths(tmp_path):
    """Seq2Seq's lengths become the ONNX LSTM's sequence_lens: padded queries (the
    addition task's) give barenet's answers; the graph reads int64 tokens."""
    from barenet.data.addition import addition
    from barenet.sequence import build_sequence_model

    sums = addition(20, 30, seed=3)
    model = build_sequence_model("seq2seq-lstm", sums, hidden_size=6, num_layers=2).eval()
    path = bn.export_onnx(model, tmp_path / "s.onnx", input_shape=sums.x_test.shape[1:])
    assert (sums.x_test == 0).any()  # short queries are padded
    assert rel_err(run_ort(path, sums.x_test), model(sums.x_test)) < 1e-4
    (inp,) = onnx.load(str(path)).graph.input
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.INT64
