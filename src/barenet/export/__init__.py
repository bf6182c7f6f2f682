"""Models out of barenet: ONNX export (``pip install barenet[onnx]``).

``export_onnx(model, path, input_shape=(C, H, W))`` writes a float32 ONNX graph with
a dynamic batch dimension that onnxruntime (or any ONNX runtime) runs without barenet.
Each layer type is translated by one small function registered in ``layers.py`` (the
sequence layers and models: ``recurrent.py``).
"""

from . import recurrent  # noqa: F401 - registers the sequence layers' translations
from .layers import TRANSLATIONS, translates
from .onnx import IR_VERSION, OPSET, ExportError, export_onnx, to_onnx

__all__ = [
    "IR_VERSION",
    "OPSET",
    "TRANSLATIONS",
    "ExportError",
    "export_onnx",
    "to_onnx",
    "translates",
]
