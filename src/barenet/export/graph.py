"""The ONNX graph under construction: named tensors, initializers and nodes.

A ``Tensor`` pairs an ONNX value name with a probe: barenet's own output for a
one-sample input, which gives every translation the shapes it needs (and makes a
wrong ``input_shape`` fail with the layer's own message).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.device import as_numpy
from ..core.module import Module


class ExportError(ValueError):
    """A model (or one of its layers) that has no faithful ONNX translation."""


@dataclass(frozen=True)
class Tensor:
    """An ONNX value: its ``name`` and barenet's output for one sample (``probe``)."""

    name: str
    probe: np.ndarray


def import_onnx():
    """The ``onnx`` package, or an ImportError that names the extra to install."""
    try:
        import onnx  # optional engine: onnx, barenet[onnx]
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install barenet[onnx]") from None
    return onnx


class OnnxGraph:
    """Collects nodes and float32 initializers; ``emit`` translates one module.

    Initializers are named after the state dict (``"2.body.0.weight"``) and nodes after
    the module's path, so the ONNX graph reads like the barenet model.
    """

    def __init__(self, translations: dict):
        self.onnx = import_onnx()
        self.translations = translations
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()

    def fresh(self, base: str) -> str:
        """A value name not used before, derived from ``base``."""
        name, k = base, 1
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def const(self, name: str, array, dtype=np.float32) -> str:
        """Add ``array`` as an initializer (float32 unless ``dtype`` says otherwise: int64
        shapes and axes); returns its (unique) name."""
        name = self.fresh(name)
        arr = np.ascontiguousarray(np.asarray(as_numpy(array), dtype=dtype))  # GPU too
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def node(self, op_type: str, inputs: list[str], path: str, **attrs) -> str:
        """Add one node with a single output; returns the output's name."""
        label = f"{op_type}_{path}" if path else op_type
        out = self.fresh(label)
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def op(self, m: Module, x: Tensor, path: str, op_type: str, *consts: str, **attrs) -> Tensor:
        """One node computing leaf module ``m`` on ``x`` (plus initializers ``consts``)."""
        name = self.node(op_type, [x.name, *consts], path, **attrs)
        return Tensor(name, m.forward(x.probe))

    def emit(self, m: Module, x: Tensor, path: str) -> Tensor:
        """Translate module ``m`` (at ``path`` in the model) applied to ``x``."""
        fn = self.translations.get(type(m))
        if fn is None:
            where = f"layer {path!r}" if path else "the model"
            known = ", ".join(sorted(t.__name__ for t in self.translations))
            raise ExportError(
                f"export_onnx: cannot export {where} ({type(m).__name__}): no ONNX translation "
                f"is registered for {type(m).__name__}; exportable layers: {known}"
            )
        return fn(self, m, x, path)
