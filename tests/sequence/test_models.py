"""The sequence models beyond the case table: the state carried across batches gives
the outputs of one long forward, padded queries as PyTorch's packed sequences, sampling,
the zoo by name, and model files that sample alone."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.data.addition import addition
from barenet.data.text import load_text
from barenet.sequence import LanguageModel, Seq2Seq, build_sequence_model, generate
from barenet.testing import torch_twin
from helpers import rel_err


def test_a_carried_state_reads_consecutive_chunks_as_one_sequence(f64):
    lm = LanguageModel(9, 4, 6, num_layers=2)
    ids = np.random.default_rng(0).integers(0, 9, (3, 12))
    whole = lm(ids)
    lm.carry_state = True
    parts = [lm(ids[:, i : i + 4]) for i in range(0, 12, 4)]
    assert rel_err(np.concatenate(parts, axis=1), whole) < 1e-12
    lm.eval()  # evaluation neither reads nor moves the carried state
    carried = lm.carried
    lm(ids[:, :4])
    assert lm.carried is carried
    lm.train()
    lm(ids[:2, :4])  # another batch size starts afresh
    assert rel_err(lm.carried[0], lm.final_state[0]) == 0 and lm.carried[0].shape[1] == 2
    lm.reset_state()
    assert rel_err(lm(ids[:, :4]), whole[:, :4]) < 1e-12


def test_backward_through_a_carried_batch_ends_at_its_first_step(f64):
    """The gradient is cut: a chunk's weight gradients are those of a forward from the
    carried state given as a constant."""
    lm = LanguageModel(5, 3, 4)
    ids = np.random.default_rng(1).integers(0, 5, (2, 8))
    lm.carry_state = True
    lm(ids[:, :4])
    start = lm.carried
    out = lm(ids[:, 4:])
    dy = np.random.default_rng(2).standard_normal(out.shape)
    lm.zero_grad()
    lm.backward(dy)
    want = {k: p.grad.copy() for k, p in lm.named_parameters()}
    twin = bn.build(lm.spec())
    twin.load_state_dict(lm.state_dict())
    twin(ids[:, 4:], start)
    twin.backward(dy)
    for k, p in twin.named_parameters():
        assert rel_err(p.grad, want[k]) < 1e-12, k


@pytest.mark.torch
def test_padded_queries_match_torch_packed_sequences(f64):
    torch = pytest.importorskip("torch")
    s2s = Seq2Seq(8, 6, 3, embed_dim=3, hidden_size=5, num_layers=2)
    twin = torch_twin(s2s)
    x = np.array([[3, 1, 4, 1, 5], [2, 7, 0, 0, 0], [6, 0, 0, 0, 0]])
    out = s2s(x)
    dy = np.random.default_rng(0).standard_normal(out.shape)
    s2s.backward(dy)
    ot = twin(torch.from_numpy(x))
    ot.backward(torch.from_numpy(dy))
    assert rel_err(out, ot.detach().numpy()) < 1e-9
    tgrads = dict(twin.named_parameters())
    for k, p in s2s.named_parameters():
        assert rel_err(p.grad, tgrads[k].grad.numpy()) < 1e-9, k
    assert not s2s.embedding.weight.grad[0].any()  # the padding token learns nothing
    with pytest.raises(ValueError, match="only padding"):
        s2s(np.zeros((1, 5), int))


def test_the_zoo_builds_each_model_for_its_data():
    text, sums = load_text(), addition(50, 10)
    lm = build_sequence_model("char-gru", text, hidden_size=8)
    assert isinstance(lm.rnn, bn.GRU) and lm.vocabulary == text.vocab.chars
    s2s = build_sequence_model("seq2seq-lstm", sums, hidden_size=8)
    assert s2s(sums.x_test).shape == (10, 4, sums.vocab_size)
    with pytest.raises(ValueError, match="built for TextData"):
        build_sequence_model("char-lstm", sums)
    with pytest.raises(ValueError, match="unknown model"):
        build_sequence_model("char-transformer", text)
    with pytest.raises(ValueError, match="cell comes from the model name"):
        build_sequence_model("char-lstm", text, cell="gru")


def test_sampling_is_seeded_greedy_at_temperature_0_and_works_from_a_model_file(tmp_path):
    bn.seed(0)
    lm = build_sequence_model("char-lstm", load_text(), hidden_size=16, embed_dim=8)
    a = generate(lm, "We the", 40, temperature=0.8, seed=3)
    assert a.startswith("We the") and len(a) == 46
    assert generate(lm, "We the", 40, temperature=0.8, seed=3) == a
    greedy = generate(lm, "We", 20, temperature=0)
    assert greedy == generate(lm, "We", 20, temperature=0, seed=99)
    loaded = bn.load(bn.save(lm, tmp_path / "lm.safetensors"))
    assert generate(loaded, "We the", 40, temperature=0.8, seed=3) == a
    assert generate(lm, "", 5, seed=1) == generate(loaded, "", 5, seed=1)
    assert generate(lm, "Four", 0) == "Four"
    assert lm.training  # its mode is given back
    with pytest.raises(ValueError, match="'@' is not in the vocabulary"):
        generate(lm, "e-mail@", 5)
    with pytest.raises(ValueError, match="temperature"):
        generate(lm, "We", 5, temperature=-1)
