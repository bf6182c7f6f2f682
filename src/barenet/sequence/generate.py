"""Sampling text from a character-level language model."""

from __future__ import annotations

import numpy as np

from ..core.device import as_numpy, scope, to_device
from ..data.text import CharVocab
from .models import LanguageModel

__all__ = ["generate"]


def generate(
    model: LanguageModel,
    prompt: str = "",
    length: int = 200,
    temperature: float = 1.0,
    seed: int | None = None,
    vocab: CharVocab | None = None,
) -> str:
    """``prompt`` followed by ``length`` characters drawn one at a time from
    softmax(logits / ``temperature``) of the next character, the state carried from
    each character to the next (the prompt is read in one forward). ``temperature`` 0
    takes the most likely character every time. ``vocab``: the model's own (recorded in
    ``model.vocabulary``) when None; a character of the prompt outside it is a
    ``ValueError`` naming it. Runs in eval mode, and restores the model's mode."""
    if not isinstance(model, LanguageModel):
        raise TypeError(f"generate: expected a LanguageModel, got {type(model).__name__}")
    if vocab is None:
        if model.vocabulary is None:
            raise ValueError("generate: the model records no vocabulary; pass vocab=")
        vocab = CharVocab(model.vocabulary)
    if len(vocab) != model.vocab_size:
        raise ValueError(f"generate: {len(vocab)} characters for a model of {model.vocab_size}")
    if isinstance(length, bool) or int(length) != length or length < 0:
        raise ValueError(f"generate: length must be an integer >= 0, got {length!r}")
    t = float(temperature)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"generate: temperature must be a finite number >= 0, got {temperature!r}")
    ids = vocab.encode(prompt)
    rng = np.random.default_rng(seed)
    out = list(prompt)
    was_training = model.training
    model.eval()
    device = model.device
    try:
        with scope(device):
            state = None
            feed = ids[None] if len(ids) else rng.integers(0, len(vocab), (1, 1))
            if not len(ids):
                out.append(vocab.decode(feed[0]))
                length -= 1
            for _ in range(max(0, int(length))):
                logits = model(to_device(feed, device), state)
                state = model.final_state
                z = np.asarray(as_numpy(logits[0, -1]), dtype=np.float64)
                if t == 0:
                    nxt = int(z.argmax())
                else:
                    p = np.exp((z - z.max()) / t)
                    nxt = int(rng.choice(len(p), p=p / p.sum()))
                out.append(vocab.chars[nxt])
                feed = np.array([[nxt]])
    finally:
        model.train(was_training)
    return "".join(out)
