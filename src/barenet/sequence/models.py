"""The two sequence models of the zoo, each a small tree of layers with its own forward
and backward, saved and loaded like any model (their parts keep PyTorch's names).

- :class:`LanguageModel`: Embedding → RNN/LSTM/GRU (batch first) → a time-distributed
  Linear: logits (N, T, V) of the next character at every step. It can carry its
  state from one training batch to the next (truncated BPTT, see
  :class:`barenet.train.TruncatedBPTT`), and records its vocabulary so that a saved
  model can be sampled from alone.
- :class:`Seq2Seq`: an encoder LSTM (or GRU) reads the query, padded steps left out
  through ``lengths``; a decoder of the same size, started from the encoder's final
  state, reads that state's top h at each of ``out_len`` steps (the Keras addition
  example's RepeatVector) and a time-distributed Linear gives logits (N, out_len, V).
"""

from __future__ import annotations

import numpy as np

from ..core.backend import array_module
from ..core.checks import config_int
from ..core.module import Module, register, spec_state_shapes
from ..layers import GRU, LSTM, RNN, Embedding, Linear

__all__ = ["CELLS", "LanguageModel", "Seq2Seq"]

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def _cell(who: str, cell: str):
    key = str(cell).lower()
    if key not in CELLS:
        raise ValueError(f"{who}: cell must be one of {sorted(CELLS)}, got {cell!r}")
    return key, CELLS[key]


def _prefixed(prefix: str, spec: dict) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{k}": v for k, v in spec_state_shapes(spec).items()}


def _tokens(model: Module, x):
    """``x`` as integer tokens (N, T); the Embedding checks their range."""
    if not hasattr(x, "ndim"):
        x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{model._label()}: expected tokens (N, T), got shape {tuple(x.shape)}")
    return x


@register
class LanguageModel(Module):
    """logits = head(rnn(embedding(x))),  x: (N, T) ids,  logits: (N, T, vocab_size).

    Backward: dlogits → head (dW = Σ dyᵀ h) → rnn (BPTT) → embedding (dW[x] += de);
    returns None (the input is ids). ``model(x, state)`` starts from ``state`` (the
    rnn's state: h, or (h, c) for an LSTM); ``final_state`` is the last forward's.
    With ``carry_state`` set (TruncatedBPTT sets it), a forward in training mode with no
    state given starts from ``carried``, the final state of the previous training
    forward of the same batch size, and leaves its own there: the state crosses batch
    boundaries, its gradient does not (each backward ends at its batch's first step).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        vocabulary: str | None = None,
    ):
        super().__init__()
        self.cell, rnn = _cell("LanguageModel", cell)
        if vocabulary is not None and (
            not isinstance(vocabulary, str) or len(vocabulary) != vocab_size
        ):
            raise ValueError(
                f"LanguageModel: vocabulary must be a string of vocab_size = {vocab_size} "
                f"characters, got {vocabulary!r:.60}"
            )
        self.vocabulary = vocabulary
        self.embedding = Embedding(vocab_size, embed_dim)
        self.rnn = rnn(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.head = Linear(hidden_size, vocab_size)
        self.carry_state = False
        self.carried = None
        self.final_state = None

    def __call__(self, x, state=None):
        return self.forward(x, state)

    def forward(self, x, state=None):
        x = _tokens(self, x)
        carry = self.carry_state and self.training
        if state is None and carry and self.carried is not None:
            first = self.carried[0] if isinstance(self.carried, tuple) else self.carried
            if first.shape[1] == x.shape[0]:
                state = self.carried
        y, final = self.rnn(self.embedding(x), state)
        self.final_state = final
        if carry:
            self.carried = (
                tuple(s.copy() for s in final) if isinstance(final, tuple) else final.copy()
            )
        return self.head(y)

    def backward(self, dlogits):
        self.embedding.backward(self.rnn.backward(self.head.backward(dlogits)))
        return None

    def reset_state(self) -> None:
        """Forget the carried state: the next training forward starts from zeros."""
        self.carried = None

    @property
    def vocab_size(self) -> int:
        return self.embedding.num_embeddings

    def output_shape(self, in_shape):
        return (*tuple(in_shape), self.vocab_size) if len(in_shape) == 2 else None

    def config(self) -> dict:
        return {
            "vocab_size": self.embedding.num_embeddings,
            "embed_dim": self.embedding.embedding_dim,
            "hidden_size": self.rnn.hidden_size,
            "num_layers": self.rnn.num_layers,
            "cell": self.cell,
            "dropout": self.rnn.dropout,
            "vocabulary": self.vocabulary,
        }

    @classmethod
    def state_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        v = config_int("LanguageModel", config, "vocab_size")
        e = config_int("LanguageModel", config, "embed_dim", 64)
        h = config_int("LanguageModel", config, "hidden_size", 256)
        layers = config_int("LanguageModel", config, "num_layers", 1)
        _, rnn = _cell("LanguageModel", config.get("cell", "lstm"))
        rnn_spec = {
            "type": rnn.__name__,
            "config": {"input_size": e, "hidden_size": h, "num_layers": layers},
        }
        return {
            "embedding.weight": (v, e),
            **_prefixed("rnn", rnn_spec),
            "head.weight": (v, h),
            "head.bias": (v,),
        }

    def extra_repr(self) -> str:
        return ""

    def _label(self) -> str:
        return f"LanguageModel({self.cell}, {self.vocab_size} tokens)"


@register
class Seq2Seq(Module):
    """Encoder-decoder over tokens: x (N, S) ids, ``pad_index`` marking padding at the end
    of each query (at least one real token each), → logits (N, out_len, out_vocab).

    Forward: e = embedding(x); (_, s) = encoder(e, lengths = #non-pad tokens);
    y = decoder([h_top(s)] · out_len, s); logits = head(y).
    Backward: head, then the decoder (BPTT), whose input gradient summed over its steps
    joins the gradient of the encoder's top final h, then the encoder from its final
    state (δs = the decoder's ``dhx``), then the embedding. Returns None.
    """

    def __init__(
        self,
        in_vocab: int,
        out_vocab: int,
        out_len: int,
        embed_dim: int = 32,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        pad_index: int = 0,
    ):
        super().__init__()
        self.cell, rnn = _cell("Seq2Seq", cell)
        if isinstance(out_len, bool) or int(out_len) != out_len or out_len < 1:
            raise ValueError(f"Seq2Seq: out_len must be a positive integer, got {out_len!r}")
        self.out_len, self.pad_index = int(out_len), int(pad_index)
        self.embedding = Embedding(in_vocab, embed_dim, padding_idx=pad_index)
        self.encoder = rnn(embed_dim, hidden_size, num_layers, batch_first=True)
        self.decoder = rnn(hidden_size, hidden_size, num_layers, batch_first=True)
        self.head = Linear(hidden_size, out_vocab)

    def forward(self, x):
        x = _tokens(self, x)
        xp = array_module(x)
        lengths = (x != self.pad_index).sum(axis=1)
        if type(x) is np.ndarray and lengths.size and lengths.min() == 0:
            raise ValueError(f"{self._label()}: a query holds only padding ({self.pad_index})")
        _, state = self.encoder(self.embedding(x), lengths=lengths)
        h = state[0] if isinstance(state, tuple) else state
        top = h[-1]  # (N, H)
        dec_in = xp.repeat(top[:, None], self.out_len, axis=1)
        y, _ = self.decoder(dec_in, state)
        return self.head(y)

    def backward(self, dlogits):
        d_in = self.decoder.backward(self.head.backward(dlogits))  # (N, out_len, H)
        ds = self.decoder.dhx
        dh = (ds[0] if isinstance(ds, tuple) else ds).copy()
        dh[-1] += d_in.sum(axis=1)
        grad = (dh, ds[1]) if isinstance(ds, tuple) else dh
        self.embedding.backward(self.encoder.backward((None, grad)))
        return None

    def output_shape(self, in_shape):
        if len(in_shape) != 2:
            return None
        return (in_shape[0], self.out_len, self.head.out_features)

    def config(self) -> dict:
        return {
            "in_vocab": self.embedding.num_embeddings,
            "out_vocab": self.head.out_features,
            "out_len": self.out_len,
            "embed_dim": self.embedding.embedding_dim,
            "hidden_size": self.encoder.hidden_size,
            "num_layers": self.encoder.num_layers,
            "cell": self.cell,
            "pad_index": self.pad_index,
        }

    @classmethod
    def state_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        vi = config_int("Seq2Seq", config, "in_vocab")
        vo = config_int("Seq2Seq", config, "out_vocab")
        e = config_int("Seq2Seq", config, "embed_dim", 32)
        h = config_int("Seq2Seq", config, "hidden_size", 128)
        layers = config_int("Seq2Seq", config, "num_layers", 1)
        _, rnn = _cell("Seq2Seq", config.get("cell", "lstm"))

        def spec(n_in):
            cfg = {"input_size": n_in, "hidden_size": h, "num_layers": layers}
            return {"type": rnn.__name__, "config": cfg}

        return {
            "embedding.weight": (vi, e),
            **_prefixed("encoder", spec(e)),
            **_prefixed("decoder", spec(h)),
            "head.weight": (vo, h),
            "head.bias": (vo,),
        }

    def extra_repr(self) -> str:
        return ""

    def _label(self) -> str:
        return f"Seq2Seq({self.cell}, {self.embedding.num_embeddings}→{self.head.out_features})"
