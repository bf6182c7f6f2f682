"""The sequence models by name, built for a task's data: what a command line names.

=================  ============================================================
``char-lstm``      :class:`LanguageModel` with an LSTM (``char-gru``, ``char-rnn``:
                   a GRU, an Elman RNN); for :class:`~barenet.data.text.TextData`
``seq2seq-lstm``   :class:`Seq2Seq` with LSTMs (``seq2seq-gru``: GRUs); for
                   :class:`~barenet.data.addition.AdditionData`
=================  ============================================================
"""

from __future__ import annotations

from ..core.module import Module
from ..data.addition import PAD, AdditionData
from ..data.text import TextData
from .models import LanguageModel, Seq2Seq

__all__ = ["SEQUENCE_MODELS", "build_sequence_model"]

#: name -> (model class, cell, the data it is built for)
SEQUENCE_MODELS = {
    "char-lstm": (LanguageModel, "lstm", TextData),
    "char-gru": (LanguageModel, "gru", TextData),
    "char-rnn": (LanguageModel, "rnn", TextData),
    "seq2seq-lstm": (Seq2Seq, "lstm", AdditionData),
    "seq2seq-gru": (Seq2Seq, "gru", AdditionData),
}


def build_sequence_model(name: str, data, **kwargs) -> Module:
    """Model ``name`` (a key of :data:`SEQUENCE_MODELS`) sized for ``data``: a
    LanguageModel over ``data.vocab`` (recorded in the model, for sampling), or a
    Seq2Seq over the addition tokens with ``digits + 1`` answer steps. ``kwargs`` go to
    the model (``hidden_size``, ``embed_dim``, ``num_layers``, ``dropout``, ...)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in SEQUENCE_MODELS:
        raise ValueError(
            f"build_sequence_model: unknown model {name!r}; choose from "
            f"{', '.join(SEQUENCE_MODELS)}"
        )
    cls, cell, kind = SEQUENCE_MODELS[key]
    if not isinstance(data, kind):
        raise ValueError(
            f"build_sequence_model: {key} is built for {kind.__name__}, got {type(data).__name__}"
        )
    for fixed in ("cell", "vocab_size", "vocabulary", "in_vocab", "out_vocab", "out_len"):
        if fixed in kwargs:
            raise ValueError(f"build_sequence_model: {fixed} comes from the model name and data")
    try:
        if cls is LanguageModel:
            return LanguageModel(len(data.vocab), cell=cell, vocabulary=data.vocab.chars, **kwargs)
        return Seq2Seq(
            data.vocab_size, data.vocab_size, data.digits + 1, cell=cell, pad_index=PAD, **kwargs
        )
    except TypeError as exc:
        raise TypeError(
            f"build_sequence_model({key}): bad model arguments {kwargs}: {exc}"
        ) from None
