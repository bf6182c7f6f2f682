"""``export_onnx``: a barenet model as an ONNX graph (float32, dynamic batch, opset 17).

The graph takes ``input`` of shape (batch, *input_shape) and gives ``output``
(logits for a classifier), both float32 — onnxruntime has no float64 convolution,
so float64 models are exported with their weights rounded to float32. Inputs are
expected exactly as barenet's model takes them: the normalisation used in training
(pixels scaled to [0, 1], and inverted when the model was trained on inverted
images) is not folded into the graph but written into its metadata, beside the
class names, as JSON strings (``onnx_model.metadata_props``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._version import __version__
from ..core.module import Module, build
from ..io import atomic_write_bytes
from ..layers import Embedding
from .graph import ExportError, OnnxGraph, Tensor, import_onnx
from .layers import TRANSLATIONS

OPSET = 17
# The IR version that came with opset 17 (ONNX 1.12): every onnxruntime since 1.12 reads
# it, where the newest IR a current onnx package would stamp needs an equally new runtime.
IR_VERSION = 8

__all__ = ["IR_VERSION", "OPSET", "ExportError", "export_onnx", "to_onnx"]


def _input_shape(input_shape, meta: dict) -> tuple[int, ...]:
    if input_shape is None:
        input_shape = meta.get("input_shape")
        if input_shape is None:
            raise ValueError(
                "export_onnx: input_shape=(C, H, W) is needed (the model records none)"
            )
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"export_onnx: input_shape must be a tuple of ints such as (1, 28, 28), "
            f"got {input_shape!r}"
        ) from None
    if not shape or min(shape) < 1:
        raise ValueError(
            f"export_onnx: input_shape must be positive sizes of one sample, got {input_shape!r}"
        )
    return shape


def _index_table(model: Module):
    """The Embedding that reads the model's input, when its first layer is one (the
    graph's input is then int64 indices), else None."""

    first = next((m for _, m in model.leaves()), None)
    return first if isinstance(first, Embedding) else None


def _describe_input(shape: tuple[int, ...], meta: dict, indices: bool = False) -> str:
    norm = meta.get("normalisation") or {}
    if indices:
        return f"int64 token indices (batch, {', '.join(map(str, shape))})"
    text = f"float32 (batch, {', '.join(map(str, shape))})"
    if len(shape) == 3:
        lo, hi = norm.get("range", [0.0, 1.0])
        text += f", pixel values scaled to [{lo:g}, {hi:g}]"
        text += (
            ", inverted (dark ink on a light background), as in training"
            if norm.get("invert")
            else ", light ink on a dark background (0 = background), as in training"
        )
    return text


def _metadata(model: Module, shape: tuple[int, ...], meta: dict) -> dict[str, str]:
    props = {
        "barenet_version": __version__,
        "barenet_spec": json.dumps(model.spec()),
        "input_shape": json.dumps(list(shape)),
        "input": _describe_input(shape, meta, _index_table(model) is not None),
    }
    for key in ("class_names", "normalisation", "task", "dataset"):
        if meta.get(key) is not None:
            props[key] = json.dumps(meta[key])
    return props


def to_onnx(model: Module, input_shape=None, metadata: dict | None = None):
    """The ONNX ``ModelProto`` of ``model`` in inference form, checked by
    ``onnx.checker.check_model(full_check=True)``.

    input_shape: one sample's shape, e.g. (C, H, W); defaults to the model file's.
    metadata: class names, normalisation, … (defaults to ``model.metadata`` of a
    loaded model file). The model's train/eval flags are left as they were.
    """
    if not isinstance(model, Module):
        raise TypeError(f"export_onnx: expected a barenet Module, got {type(model).__name__}")
    onnx = import_onnx()
    meta = dict(getattr(model, "metadata", None) or {}) if metadata is None else dict(metadata)
    shape = _input_shape(input_shape, meta)
    if model.device != "cpu":  # exported from a copy on the CPU (the weights are the same)
        copy = build(model.spec())
        copy.load_state_dict(model.state_dict())
        model = copy
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        g = OnnxGraph(TRANSLATIONS)
        g.fresh("input")
        table = _index_table(model)
        if table is None:
            probe = np.zeros((1, *shape), dtype=np.float32)
        else:  # one token that is not padding (a query of padding alone is refused)
            token = 0 if table.padding_idx is None else (table.padding_idx + 1)
            probe = np.full((1, *shape), token % table.num_embeddings, dtype=np.int64)
        try:
            y = g.emit(model, Tensor("input", probe), "")
        except ExportError:
            raise
        except ValueError as exc:
            raise ValueError(
                f"export_onnx: input_shape {shape} does not fit the model: {exc}"
            ) from None
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    if y.name == "input":  # a model with no node at all (e.g. a lone Dropout)
        y = Tensor(g.node("Identity", ["input"], ""), y.probe)
    for node in g.nodes:  # the last value becomes the graph's "output"
        node.output[:] = ["output" if o == y.name else o for o in node.output]
        node.input[:] = ["output" if i == y.name else i for i in node.input]
    helper, f32 = onnx.helper, onnx.TensorProto.FLOAT
    in_type = f32 if table is None else onnx.TensorProto.INT64
    graph = helper.make_graph(
        g.nodes,
        "barenet",
        [helper.make_tensor_value_info("input", in_type, ["batch", *shape])],
        [helper.make_tensor_value_info("output", f32, ["batch", *y.probe.shape[1:]])],
        initializer=g.initializers,
        doc_string=f"input: {_describe_input(shape, meta, table is not None)}; output: the "
        "model's output "
        "(logits for a classifier: apply softmax for probabilities)",
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="barenet",
        ir_version=IR_VERSION,
    )
    proto.producer_version = __version__
    helper.set_model_props(proto, _metadata(model, shape, meta))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:  # a translation bug, never a user error
        raise ExportError(f"export_onnx: the graph failed ONNX's checker: {exc}") from None
    return proto


def export_onnx(
    model: Module, path: str | os.PathLike, input_shape=None, metadata: dict | None = None
) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically); returns the path.

    >>> bn.export_onnx(model, "model.onnx", input_shape=(1, 28, 28))
    Raises ExportError naming the first layer without an ONNX translation.
    """
    proto = to_onnx(model, input_shape, metadata)
    path = Path(path)
    atomic_write_bytes(path, proto.SerializeToString())
    return path
