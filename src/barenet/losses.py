"""Losses. Each is called as ``loss = loss_fn(pred, target)`` (a float) and then
``loss_fn.backward()`` returns dL/dpred for the last call.

Predictions may live on a GPU (CuPy arrays); targets may be NumPy arrays there too: they
are checked on the host, where that costs nothing, and copied to the predictions'
device. ``loss_fn.value(pred, target)`` is the same loss left on the device (a 0-d
array), which a training loop keeps until it logs it, instead of waiting for the GPU
at every step as ``float`` does.
"""

from __future__ import annotations

import numbers

import numpy as np

from .core.backend import array_module
from .core.device import device_of, to_device
from .core.dispatch import kernels_for


class Loss:
    """Base: keeps the gradient of the last call for ``backward``."""

    def __init__(self):
        self._grad = None

    def __call__(self, pred, target) -> float:
        return self.forward(pred, target)

    def forward(self, pred, target) -> float:
        """The loss, as a float (on a GPU: a wait for its result)."""
        return float(self.value(pred, target))

    def value(self, pred, target, check_finite: bool = True):
        """The loss as a 0-d array on ``pred``'s device; ``check_finite=False`` skips the
        NaN/inf check of ``pred`` on a GPU (a wait there), for a loop that checks the
        losses it keeps instead."""
        raise NotImplementedError(f"{type(self).__name__} does not define value")

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        """dL/dpred of the last call, times ``dloss``."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before the loss")
        return self._grad * self._grad.dtype.type(dloss) if dloss != 1.0 else self._grad.copy()

    def _label(self) -> str:
        return f"{type(self).__name__}()"


def _float_array(name, a) -> np.ndarray:
    if array_module(a) is np:
        a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a numeric array, got dtype {a.dtype}")
    return a if a.dtype.kind == "f" else a.astype(np.float32)


class SoftmaxCrossEntropy(Loss):
    r"""Softmax and cross-entropy fused, averaged over the batch.

    logits z: (N, K); target: int labels (N,) or probabilities (N, K) (one-hot or soft).
    $L = \frac{1}{N} \sum_n \bigl[\mathrm{logsumexp}(z_n) - \sum_k t_{nk} z_{nk}\bigr]$
    (stable: $e^{z - \max z}$);
    $\partial L / \partial z = (\mathrm{softmax}(z) \sum_k t_{nk} - t) / N$
    ``label_smoothing`` ε (PyTorch's definition) trains against t' = (1 - ε) t + ε / K,
    t one-hot for int labels: the same formulas with t' in place of t.

    Sequences: logits (N, T, K) (a time-distributed Linear's output, any number of
    leading axes, classes last) with labels (N, T) or probabilities (N, T, K) are scored
    as N·T rows. ``ignore_index`` (PyTorch's; e.g. -100 for padded steps): rows whose
    label equals it add nothing to the loss or the gradient, and the mean is over the
    rows that count (0, with a zero gradient, when none does).
    The kernel is ``reference.loss.softmax_cross_entropy``; this class checks the input.
    """

    def __init__(
        self, reduction: str = "mean", label_smoothing: float = 0.0, ignore_index: int | None = None
    ):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(
                f"SoftmaxCrossEntropy: reduction must be 'mean' or 'sum', got {reduction!r}"
            )
        ls = label_smoothing
        if isinstance(ls, bool) or not isinstance(ls, numbers.Real) or not 0.0 <= ls <= 1.0:
            raise ValueError(
                f"SoftmaxCrossEntropy: label_smoothing must be a number in [0, 1], got {ls!r}"
            )
        if ignore_index is not None and (
            isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral)
        ):
            raise ValueError(
                f"SoftmaxCrossEntropy: ignore_index must be an integer or None, got "
                f"{ignore_index!r}"
            )
        self.reduction = reduction
        self.label_smoothing = float(ls)
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.probs = None

    def value(self, logits, target, check_finite: bool = True):
        z = _float_array("SoftmaxCrossEntropy logits", logits)
        if z.ndim < 2 or z.shape[0] < 1:
            raise ValueError(
                f"SoftmaxCrossEntropy: expected logits (N, K) or (N, T, K), got {z.shape}"
            )
        xp = array_module(z)
        if (check_finite or xp is np) and not xp.isfinite(z).all():
            raise ValueError("SoftmaxCrossEntropy: logits contain NaN or inf")
        shape = z.shape
        k = shape[-1]
        t = target if array_module(target) is not np else np.asarray(target)
        if t.shape == shape:  # probabilities, one row per row of logits
            t = t.reshape(-1, k)
        elif t.shape == shape[:-1]:  # labels
            t = t.reshape(-1)
        elif t.ndim == 1 and z.ndim == 2:
            raise ValueError(f"SoftmaxCrossEntropy: {shape[0]} logits rows but {t.shape[0]} labels")
        else:
            labels = shape[:-1] if len(shape) > 2 else f"({shape[0]},)"
            raise ValueError(
                f"SoftmaxCrossEntropy: target must be labels {labels} or probabilities "
                f"{shape} for logits {shape}, got {t.shape}"
            )
        z = z.reshape(-1, k)
        t, keep = self._target(z, t)
        kernels = kernels_for("softmax_cross_entropy", z)
        loss, grad, probs = kernels.forward(
            z, t, self.reduction, self.label_smoothing, **({} if keep is None else {"keep": keep})
        )
        self._grad, self.probs = grad.reshape(shape), probs.reshape(shape)
        return loss

    def _target(self, z, t):
        """The target checked where it is (labels in range, whole numbers, finite
        probabilities), on z's device; and the rows that count (None: all)."""
        n, k = z.shape
        np_ = array_module(t)  # the targets are checked where they are
        keep = None
        if t.ndim == 1:
            if t.dtype.kind == "f":
                if not np_.all(np_.isfinite(t)) or np_.any(t != np_.round(t)):
                    raise ValueError("SoftmaxCrossEntropy: float labels must be whole numbers")
                t = t.astype(np.int64)
            elif t.dtype.kind not in "iu":
                raise TypeError(f"SoftmaxCrossEntropy: labels must be integers, got {t.dtype}")
            if self.ignore_index is not None:
                counted = t != self.ignore_index
                if not counted.all():
                    keep = counted
                    t = np_.where(counted, t, 0)
            if t.size and (t.min() < 0 or t.max() >= k):
                bad = t[(t < 0) | (t >= k)]
                more = "" if self.ignore_index is None else f" (or {self.ignore_index}: ignored)"
                raise ValueError(
                    f"SoftmaxCrossEntropy: labels must be in [0, {k}){more}, got {bad[:5].tolist()}"
                )
        else:
            t = _float_array("SoftmaxCrossEntropy target", t).astype(z.dtype, copy=False)
            if not np_.isfinite(t).all():
                raise ValueError("SoftmaxCrossEntropy: target contains NaN or inf")
        if np_ is not array_module(z):
            t = to_device(t, device_of(z))
            keep = None if keep is None else to_device(keep, device_of(z))
        if keep is not None:
            keep = keep.astype(z.dtype)
        return t, keep


class MSELoss(Loss):
    r"""$L = \mathrm{mean}((y - t)^2)$ over every element;
    $\partial L / \partial y = 2 (y - t) / \mathit{numel}$."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"MSELoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def value(self, pred, target, check_finite: bool = True):
        y = _float_array("MSELoss prediction", pred)
        t = _float_array("MSELoss target", target)
        xp, np_ = array_module(y), array_module(t)
        if t.shape != y.shape:
            if t.size == y.size and y.ndim == 2 and y.shape[1] == 1:
                t = t.reshape(y.shape)
            else:
                raise ValueError(f"MSELoss: prediction {y.shape} and target {t.shape} differ")
        if (check_finite or xp is np) and not xp.isfinite(y).all():
            raise ValueError("MSELoss: prediction contains NaN or inf")
        if not np_.isfinite(t).all():
            raise ValueError("MSELoss: target contains NaN or inf")
        if np_ is not xp:
            t = to_device(t, device_of(y))
        diff = y - t.astype(y.dtype, copy=False)
        scale = 1.0 / y.size if self.reduction == "mean" else 1.0
        self._grad = diff * y.dtype.type(2.0 * scale)
        return (diff * diff).sum() * scale
