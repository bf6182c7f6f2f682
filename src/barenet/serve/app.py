"""The model behind the drawing page: preprocessing, prediction and the summary,
independent of HTTP (the server only parses requests and writes answers)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from .._version import __version__
from ..core.module import Module
from ..io import load_file
from ..layers import Softmax
from ..train.summary import layer_table
from .preprocess import InputSpec, prepare

TOP_K = 5
POLARITIES = ("auto", "dark-ink", "light-ink")


class DrawingApp:
    """A classifier with the metadata of its model file (class names, input shape,
    normalisation). ``predict`` is safe to call from several threads at once."""

    def __init__(self, model: Module, meta: dict, name: str = "model"):
        task = meta.get("task", "classification")
        if task != "classification":
            raise ValueError(f"serve: the page needs a classifier, this model's task is {task!r}")
        self.spec = InputSpec.from_metadata(meta)
        self.model, self.meta, self.name = model, meta, name
        model.eval()
        probe = np.zeros((1, self.spec.channels, self.spec.height, self.spec.width), np.float32)
        try:
            out = model(probe)
        except ValueError as exc:
            raise ValueError(f"serve: the model does not take its recorded input: {exc}") from None
        if out.ndim != 2:
            raise ValueError(f"serve: the model gives {out.shape[1:]} per image, not class scores")
        self.num_classes = out.shape[1]
        names = meta.get("class_names") or [str(k) for k in range(self.num_classes)]
        if len(names) != self.num_classes:
            raise ValueError(
                f"serve: {len(names)} class names recorded for {self.num_classes} outputs"
            )
        self.class_names = [str(n) for n in names]
        leaves = [m for m in model.modules() if next(m.children(), None) is None]
        self._gives_probabilities = bool(leaves) and isinstance(leaves[-1], Softmax)
        self._lock = threading.Lock()  # layers keep forward caches: one forward at a time

    @classmethod
    def from_file(cls, path: str | Path) -> DrawingApp:
        model, meta = load_file(path)
        return cls(model, meta, Path(path).name)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(N, C, H, W) float32 → (N, classes) probabilities."""
        with self._lock:
            out = np.asarray(self.model(x), dtype=np.float64)
        if self._gives_probabilities:
            return out
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, pixels, polarity: str = "auto") -> dict:
        """The answer of ``POST /predict``: top classes, all probabilities, and the
        image the model was given (as it sees it, values in [0, 1])."""
        if polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")
        t0 = time.perf_counter()
        prep = prepare(pixels, self.spec, polarity)
        answer = {
            "empty": prep.empty,
            "polarity": prep.polarity,
            "inverted": self.spec.invert,
            "input_shape": [self.spec.channels, self.spec.height, self.spec.width],
            "input": np.round(prep.view, 3).tolist(),
            "top": [],
            "probabilities": [],
        }
        if not prep.empty:
            p = self.probabilities(prep.x)[0]
            order = np.argsort(-p, kind="stable")[: min(TOP_K, len(p))]
            answer["top"] = [
                {"index": int(k), "label": self.class_names[k], "probability": float(p[k])}
                for k in order
            ]
            answer["probabilities"] = [float(v) for v in p]
        answer["ms"] = round(1000 * (time.perf_counter() - t0), 2)
        return answer

    def summary(self) -> dict:
        """The answer of ``GET /model``."""
        spec, meta = self.spec, self.meta
        config = meta.get("config") or {}
        metrics = meta.get("metrics") or {}
        shape = (spec.channels, spec.height, spec.width)
        with self._lock:
            rows = layer_table(self.model, shape)
        return {
            "name": self.name,
            "architecture": config.get("model") or type(self.model).__name__,
            "dataset": meta.get("dataset"),
            "class_names": self.class_names,
            "input_shape": list(shape),
            "normalisation": meta.get("normalisation") or {"range": [0.0, 1.0], "invert": False},
            "preprocessing": {
                "fill": round(spec.fill, 4),
                "centring": "centre of mass",
                "invert": spec.invert,
            },
            "parameters": self.model.num_parameters(),
            "layers": [
                {
                    "name": r["name"],
                    "layer": r["layer"],
                    "output_shape": list(r["output_shape"]),
                    "params": r["params"],
                }
                for r in rows
            ],
            "metrics": {
                k: metrics[k]
                for k in ("test_accuracy", "test_macro_f1", "epochs")
                if isinstance(metrics.get(k), (int, float))
            },
            "barenet_version": __version__,
        }
