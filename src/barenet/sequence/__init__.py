"""Sequence tasks: the language model and the addition Seq2Seq of the zoo, sampling,
and their training through ``fit`` (``tasks.py``, loaded on first use: ``import
barenet`` registers the models for model files without loading the trainer). The
layers themselves (Embedding, RNN, LSTM, GRU) are in ``barenet.layers``; the data in
``barenet.data.text`` and ``barenet.data.addition``."""

from __future__ import annotations

import importlib

from .generate import generate
from .models import CELLS, LanguageModel, Seq2Seq
from .zoo import SEQUENCE_MODELS, build_sequence_model

_TASKS = ("bits_per_character", "exact_match", "fit_addition", "fit_language_model")

__all__ = [
    "CELLS",
    "LanguageModel",
    "SEQUENCE_MODELS",
    "Seq2Seq",
    "bits_per_character",
    "build_sequence_model",
    "exact_match",
    "fit_addition",
    "fit_language_model",
    "generate",
]


def __getattr__(name: str):
    if name in _TASKS:
        return getattr(importlib.import_module(".tasks", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
