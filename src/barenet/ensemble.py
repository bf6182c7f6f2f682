"""``Ensemble([m1, m2, ...])``: several trained classifiers voting by averaged probability.

    p̄(x) = (1/M) Σₘ softmax(fₘ(x))

``forward`` returns ``log p̄`` (computed as a log-sum-exp of the members' log-softmax,
so it stays finite): its softmax is ``p̄`` itself and its argmax is the ensemble's
class, so an ensemble goes wherever a model's logits go — ``predict``, ``evaluate``,
``SoftmaxCrossEntropy`` (which then gives the ensemble's negative log-likelihood).
``predict_proba`` returns ``p̄``. Inference only: there is nothing to train, so
``train()`` and ``backward`` raise; train the members, then combine them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence

import numpy as np

from .core.backend import array_module
from .core.module import Module
from .io import load_file

__all__ = ["Ensemble"]

_INFERENCE_ONLY = "Ensemble is inference only: train each member on its own, then combine them"


def _log_softmax(z):
    xp = array_module(z)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def _io_widths(m: Module) -> tuple[tuple[str, int] | None, int | None]:
    """((``"features"`` or ``"channels"``, the input width of the first weighted layer),
    outputs of the last)."""
    first = last = None
    for sub in m.modules():
        if first is None:
            for kind, attr in (("channels", "in_channels"), ("features", "in_features")):
                if getattr(sub, attr, None) is not None:
                    first = (kind, int(getattr(sub, attr)))
                    break
        width_out = getattr(sub, "out_features", None)
        if width_out is not None:
            last = int(width_out)
    return first, last


class Ensemble(Module):
    """Average the class probabilities of ``members`` (trained models whose outputs are
    logits ``(N, K)``, the same K for all). ``class_names`` and ``input_shape`` (one
    sample's shape) are optional; when given, inputs are checked against them.

    x: (N, *input_shape) → log p̄: (N, K). Members are put in eval mode and named
    ``"0"``, ``"1"``, … as in ``Sequential``.
    """

    def __init__(
        self,
        members: Iterable[Module],
        class_names: Sequence[str] | None = None,
        input_shape: Sequence[int] | None = None,
    ):
        super().__init__()
        members = list(members) if not isinstance(members, Module) else [members]
        if not members:
            raise ValueError("Ensemble: needs at least one member model")
        for i, m in enumerate(members):
            if not isinstance(m, Module):
                raise TypeError(f"Ensemble: member {i} is a {type(m).__name__}, not a Module")
            if isinstance(m, Ensemble):
                raise TypeError(f"Ensemble: member {i} is itself an Ensemble; list its members")
        widths = [_io_widths(m) for m in members]
        # Input widths compare only between members that open alike (two MLPs, or two
        # CNNs): an MLP's 64 features and a CNN's 1 channel both take (1, 8, 8) images.
        for kind in ("features", "channels"):
            opening = {i: w[0][1] for i, w in enumerate(widths) if w[0] and w[0][0] == kind}
            if len(set(opening.values())) > 1:
                detail = ", ".join(f"member {i}: {v}" for i, v in opening.items())
                raise ValueError(f"Ensemble: the members disagree on the input {kind} ({detail})")
        if len({w[1] for w in widths if w[1] is not None}) > 1:
            detail = ", ".join(f"member {i}: {w[1]}" for i, w in enumerate(widths))
            raise ValueError(f"Ensemble: the members disagree on the number of classes ({detail})")
        n_out = next((w[1] for w in widths if w[1] is not None), None)
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if n_out is not None and len(class_names) != n_out:
                raise ValueError(
                    f"Ensemble: {len(class_names)} class names for members with {n_out} outputs"
                )
        for i, m in enumerate(members):
            setattr(self, str(i), m.eval())
        object.__setattr__(self, "training", False)
        self.class_names = class_names
        self.input_shape = None if input_shape is None else tuple(int(s) for s in input_shape)

    @classmethod
    def load(cls, paths: Sequence[str | os.PathLike]) -> Ensemble:
        """The ensemble of the model files ``paths``. Their recorded class names and input
        shapes must agree (a ``ValueError`` names the files that differ); each member
        keeps its metadata on ``.metadata`` and the ensemble takes the shared values."""
        if not paths:
            raise ValueError("Ensemble.load: no model files given")
        return cls._of_loaded([(str(p), *load_file(p)) for p in paths])

    @classmethod
    def _of_loaded(cls, loaded: Sequence[tuple[str, Module, dict]]) -> Ensemble:
        """The ensemble of already loaded ``(path, model, metadata)`` triples, checked as
        :meth:`load` checks files."""
        first_path, _, first_meta = loaded[0]
        for path, _, meta in loaded:
            if meta.get("task", "classification") != "classification":
                raise ValueError(
                    f"Ensemble: {path} is a {meta.get('task')} model; an ensemble averages "
                    "class probabilities"
                )
        for key, what in (
            ("class_names", "class names"),
            ("input_shape", "input shape"),
            ("normalisation", "input normalisation"),
        ):
            want = first_meta.get(key)
            for path, _, meta in loaded[1:]:
                got = meta.get(key)
                if json.dumps(got, sort_keys=True) != json.dumps(want, sort_keys=True):
                    raise ValueError(
                        f"Ensemble: {path} and {first_path} disagree on the {what}: {got} vs {want}"
                    )
        return cls(
            [m for _, m, _ in loaded],
            class_names=first_meta.get("class_names"),
            input_shape=first_meta.get("input_shape"),
        )

    @property
    def members(self) -> list[Module]:
        return list(self.children())

    def __len__(self) -> int:
        return len(self._module_names)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, ...) → log p̄: (N, K), in the first member's dtype, on the members'
        device (NumPy arrays, or CuPy arrays for members moved with ``.to("cuda")``)."""
        xp = array_module(x)
        if xp is np:
            x = np.asarray(x)
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"Ensemble: expected inputs (N, {', '.join(map(str, self.input_shape))}), "
                f"got {tuple(x.shape)}"
            )
        acc = None
        for i, m in enumerate(self.members):
            try:
                z = m.forward(x)
            except ValueError as exc:
                raise ValueError(f"Ensemble member {i}: {exc}") from None
            if z.ndim != 2 or z.shape[1] < 2:
                raise ValueError(
                    f"Ensemble member {i}: expected class logits (N, K >= 2), got {z.shape}"
                )
            if acc is not None and z.shape != acc.shape:
                raise ValueError(
                    f"Ensemble: member {i} gives outputs {z.shape}, member 0 gives {acc.shape}"
                )
            ls = _log_softmax(z.astype(np.float64))
            acc = ls if acc is None else array_module(ls).logaddexp(acc, ls)
        out = acc - np.log(len(self))
        return out.astype(self.dtype, copy=False)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """p̄: (N, K), the members' averaged class probabilities."""
        out = self.forward(x)
        return array_module(out).exp(out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise RuntimeError(_INFERENCE_ONLY)

    def train(self, mode: bool = True) -> Ensemble:
        if mode:
            raise RuntimeError(_INFERENCE_ONLY)
        return super().train(False)

    def config(self) -> dict:
        raise TypeError(
            "Ensemble cannot be saved as one model file: save each member "
            "(bn.save(member, path)) and load them with Ensemble.load(paths)"
        )

    def extra_repr(self) -> str:
        return f"{len(self)} members"
