"""Classification metrics, vectorised: accuracy, confusion matrix, per-class
precision / recall / F1, the regression MSE, and a language model's perplexity and bits
per character (from its mean cross-entropy).

Conventions: ``y_true: (N,)`` int labels; ``y_pred: (N,)`` int labels or
``(N, K)`` scores (argmax is taken). The confusion matrix ``C[i, j]`` counts
samples of true class ``i`` predicted as ``j`` (rows: truth, as in scikit-learn).
A class that is never predicted has precision 0; never present, recall 0.
Arrays on a GPU (CuPy) are welcome: scores are reduced to labels there, and the
labels brought to the host, where the counting is done.
"""

from __future__ import annotations

import numpy as np

from ..core.device import as_numpy

__all__ = [
    "accuracy",
    "as_labels",
    "bits_per_character",
    "classification_report",
    "confusion_matrix",
    "mse",
    "perplexity",
    "precision_recall_f1",
]


def as_labels(y: np.ndarray) -> np.ndarray:
    """``(N,)`` int labels from labels, or from ``(N, K)`` scores by argmax."""
    if hasattr(y, "ndim") and type(y) is not np.ndarray:  # on a GPU: argmax there first
        y = as_numpy(y.argmax(axis=1) if y.ndim == 2 else y)
    y = np.asarray(y)
    if y.ndim == 2:
        return y.argmax(axis=1)
    if y.ndim != 1:
        raise ValueError(f"metrics: expected labels (N,) or scores (N, K), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError("metrics: float labels must be whole numbers")
        y = y.astype(np.int64)
    return y


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = as_labels(y_true), as_labels(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"metrics: {t.shape[0]} true labels but {p.shape[0]} predictions")
    return t, p


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of predictions equal to the truth (0.0 for empty input)."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else 0.0


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None
) -> np.ndarray:
    """``(K, K)`` int64 counts, ``C[true, pred]``, by one ``np.bincount``."""
    t, p = _pair(y_true, y_pred)
    k = (
        int(num_classes)
        if num_classes is not None
        else int(max(t.max(initial=-1), p.max(initial=-1)) + 1)
    )
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ValueError(f"confusion_matrix: labels must lie in [0, {k})")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def precision_recall_f1(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class ``precision``, ``recall``, ``f1`` and ``support`` from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    pred = cm.sum(axis=0)
    true = cm.sum(axis=1)
    precision = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": true.astype(np.int64)}


def classification_report(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: list[str] | None = None,
    num_classes: int | None = None,
) -> dict:
    """Accuracy, macro F1, the confusion matrix and per-class figures, JSON-ready."""
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    cm = confusion_matrix(y_true, y_pred, num_classes)
    prf = precision_recall_f1(cm)
    names = class_names or [str(i) for i in range(len(cm))]
    per_class = {
        name: {
            "precision": float(prf["precision"][i]),
            "recall": float(prf["recall"][i]),
            "f1": float(prf["f1"][i]),
            "support": int(prf["support"][i]),
        }
        for i, name in enumerate(names)
    }
    total = cm.sum()
    return {
        "accuracy": float(np.trace(cm) / total) if total else 0.0,
        "macro_f1": float(prf["f1"].mean()) if len(cm) else 0.0,
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error over every element."""
    t = np.asarray(as_numpy(y_true) if hasattr(y_true, "ndim") else y_true, dtype=np.float64)
    p = np.asarray(as_numpy(y_pred) if hasattr(y_pred, "ndim") else y_pred, dtype=np.float64)
    p = p.reshape(t.shape)
    return float(np.mean((t - p) ** 2))


def perplexity(mean_loss: float) -> float:
    """exp(L) for L the mean cross-entropy per token in nats (a language model's loss):
    the number of equally likely choices that would be as uncertain."""
    return float(np.exp(mean_loss))


def bits_per_character(mean_loss: float) -> float:
    """L / ln 2 for L the mean cross-entropy per character in nats: the bits a coder
    driven by the model would spend per character."""
    return float(mean_loss / np.log(2))
