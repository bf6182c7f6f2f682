"""The PyTorch twins of the sequence models (for ``barenet.testing.torch_twin``): the
same parts under the same names, so that one state dict loads into both."""

from __future__ import annotations

from .models import LanguageModel, Seq2Seq


def _twin_language_model(m: LanguageModel, _twin):
    from torch import nn  # optional engine: torch

    class TorchLanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(m.vocab_size, m.embedding.embedding_dim)
            self.rnn = _twin(m.rnn)
            self.head = nn.Linear(m.rnn.hidden_size, m.vocab_size)

        def forward(self, x):
            return self.head(self.rnn(self.embedding(x))[0])

    return TorchLanguageModel()


def _twin_seq2seq(m: Seq2Seq, _twin):
    import torch  # optional engine: torch
    from torch import nn  # optional engine: torch
    from torch.nn.utils.rnn import pack_padded_sequence  # optional engine: torch

    class TorchSeq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            e = m.embedding
            self.embedding = nn.Embedding(e.num_embeddings, e.embedding_dim, e.padding_idx)
            self.encoder, self.decoder = _twin(m.encoder), _twin(m.decoder)
            self.head = nn.Linear(m.head.in_features, m.head.out_features)

        def forward(self, x):
            lengths = (x != m.pad_index).sum(dim=1)
            packed = pack_padded_sequence(
                self.embedding(x), lengths, batch_first=True, enforce_sorted=False
            )
            _, state = self.encoder(packed)
            h = state[0] if isinstance(state, tuple) else state
            dec_in = h[-1][:, None].expand(-1, m.out_len, -1)
            return self.head(self.decoder(torch.Tensor.contiguous(dec_in), state)[0])

    return TorchSeq2Seq()


SEQUENCE_TWINS = {LanguageModel: _twin_language_model, Seq2Seq: _twin_seq2seq}
