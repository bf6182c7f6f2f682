"""ONNX translations of the sequence layers and models: Embedding as Gather, each layer of
an RNN/LSTM/GRU as one ONNX RNN/LSTM/GRU node, and the two sequence models of the zoo.

ONNX stacks the gates in another order than PyTorch (and barenet): LSTM i, o, f, c
where PyTorch has i, f, g, o; GRU z, r, h where PyTorch has r, z, n (its
``linear_before_reset=1`` is PyTorch's n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))).
The weights are reordered here, block by block. ONNX's nodes read (T, N, F) and give
Y (T, D, N, H), turned back into barenet's (T, N, D·H) (batch-first layers transpose on
the way in and out; unbatched (T, F) input is a batch of one). Only the outputs y are
the graph's: the final states are not.
"""

from __future__ import annotations

import numpy as np

from ..layers import GRU, LSTM, RNN, Embedding
from ..sequence.models import LanguageModel, Seq2Seq
from .graph import OnnxGraph, Tensor
from .layers import translates

# ONNX block order, as indices of PyTorch's blocks
_ONNX_ORDER = {"rnn": [0], "lstm": [0, 3, 1, 2], "gru": [1, 0, 2]}
_OP = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


@translates(Embedding)
def embedding(g: OnnxGraph, m, x: Tensor, path: str) -> Tensor:
    """y = W[idx]: Gather along the rows of the table."""
    w = g.const(f"{path}.weight" if path else "weight", m.state_dict()["weight"])
    return Tensor(g.node("Gather", [w, x.name], path, axis=0), m.forward(x.probe))


def _blocks(a: np.ndarray, family: str) -> np.ndarray:
    parts = np.split(a, len(_ONNX_ORDER[family]), axis=0)
    return np.concatenate([parts[i] for i in _ONNX_ORDER[family]], axis=0)


def _layer_inputs(g: OnnxGraph, m, k: int, path: str) -> list[str]:
    """W (D, G·H, I), R (D, G·H, H), B (D, 2·G·H) of layer k, in ONNX's gate order."""
    sd = m.state_dict()
    pre = f"{path}." if path else ""
    ws, rs, bs = [], [], []
    for suffix in ["", "_reverse"][: m.directions]:
        ws.append(_blocks(sd[f"weight_ih_l{k}{suffix}"], m.family))
        rs.append(_blocks(sd[f"weight_hh_l{k}{suffix}"], m.family))
        if m.has_bias:
            b = [_blocks(sd[f"bias_{p}_l{k}{suffix}"], m.family) for p in ("ih", "hh")]
        else:
            b = [np.zeros(ws[-1].shape[0], ws[-1].dtype)] * 2
        bs.append(np.concatenate(b))
    names = ("W", "R", "B")
    return [g.const(f"{pre}l{k}.{n}", np.stack(a)) for n, a in zip(names, (ws, rs, bs))]


def _attrs(m) -> dict:
    attrs = {"hidden_size": m.hidden_size}
    attrs["direction"] = "bidirectional" if m.bidirectional else "forward"
    if m.family == "rnn":
        attrs["activations"] = ["Tanh" if m.nonlinearity == "tanh" else "Relu"] * m.directions
    if m.family == "gru":
        attrs["linear_before_reset"] = 1
    return attrs


def _stack(g: OnnxGraph, m, x: str, path: str, lengths: str = "", state=None):
    """The layers of ``m`` on ``x`` (T, N, F) (a name); returns (y (T, N, D·H), the final
    h and c of each layer as (D, N, H) names: lists). ``state``: per layer, names of the
    initial (h, c), or None."""
    outs = 3 if m.family == "lstm" else 2
    finals_h, finals_c = [], []
    for k in range(m.num_layers):
        inputs = [x, *_layer_inputs(g, m, k, path), lengths]
        if state is not None:
            inputs += list(state[k])
        while inputs and inputs[-1] == "":  # trailing optional inputs left out
            inputs.pop()
        label = f"{_OP[m.family]}_{path}_l{k}" if path else f"{_OP[m.family]}_l{k}"
        names = [g.fresh(f"{label}_{o}") for o in ("Y", "Y_h", "Y_c")[:outs]]
        g.nodes.append(
            g.onnx.helper.make_node(_OP[m.family], inputs, names, name=names[0], **_attrs(m))
        )
        y = g.node("Transpose", [names[0]], path, perm=[0, 2, 1, 3])  # (T, N, D, H)
        shape = g.const(f"{label}_shape", np.array([0, 0, -1]), np.int64)
        x = g.node("Reshape", [y, shape], path)
        finals_h.append(names[1])
        finals_c.append(names[2] if outs == 3 else None)
    return x, finals_h, finals_c


@translates(RNN, LSTM, GRU)
def recurrent(g: OnnxGraph, m, x: Tensor, path: str) -> Tensor:
    """y of the stack (eval mode: no dropout between layers)."""
    name, axis = x.name, g.const(f"{path}.batch_axis" if path else "batch_axis", [1], np.int64)
    if x.probe.ndim == 2:  # unbatched (T, F): a batch of one
        name = g.node("Unsqueeze", [name, axis], path)
    elif m.batch_first:
        name = g.node("Transpose", [name], path, perm=[1, 0, 2])
    y, _, _ = _stack(g, m, name, path)
    if x.probe.ndim == 2:
        y = g.node("Squeeze", [y, axis], path)
    elif m.batch_first:
        y = g.node("Transpose", [y], path, perm=[1, 0, 2])
    return Tensor(y, m.forward(x.probe)[0])


@translates(LanguageModel)
def language_model(g: OnnxGraph, m, x: Tensor, path: str) -> Tensor:
    """ids (N, T) → Gather → the batch-first stack → the time-distributed Linear."""
    pre = f"{path}." if path else ""
    for name in ("embedding", "rnn", "head"):
        x = g.emit(getattr(m, name), x, pre + name)
    return x


@translates(Seq2Seq)
def seq2seq(g: OnnxGraph, m, x: Tensor, path: str) -> Tensor:
    """lengths = Σ [x ≠ pad] (ONNX's sequence_lens); the encoder over the embedded
    query; its top final h tiled over the answer steps into the decoder, which starts
    from the encoder's final states; the time-distributed Linear."""
    pre = f"{path}." if path else ""
    pad = g.const(f"{pre}pad_index", np.array(m.pad_index), np.int64)
    real = g.node("Not", [g.node("Equal", [x.name, pad], path)], path)
    counts = g.node("Cast", [real], path, to=g.onnx.TensorProto.INT32)
    axes = g.const(f"{pre}time_axis", np.array([1]), np.int64)
    lengths = g.node("ReduceSum", [counts, axes], path, keepdims=0)
    e = g.emit(m.embedding, x, pre + "embedding")
    steps_first = g.node("Transpose", [e.name], path, perm=[1, 0, 2])
    _, hs, cs = _stack(g, m.encoder, steps_first, pre + "encoder", lengths)
    repeats = g.const(f"{pre}repeats", np.array([m.out_len, 1, 1]), np.int64)
    dec_in = g.node("Tile", [hs[-1], repeats], path)  # (out_len, N, H): top h every step
    state = [(h, c) if c is not None else (h,) for h, c in zip(hs, cs)]
    y, _, _ = _stack(g, m.decoder, dec_in, pre + "decoder", "", state)
    y = Tensor(g.node("Transpose", [y], path, perm=[1, 0, 2]), None)
    dec_probe = np.zeros((x.probe.shape[0], m.out_len, m.head.in_features), np.float32)
    out = g.emit(m.head, Tensor(y.name, dec_probe), pre + "head")
    return Tensor(out.name, m.forward(x.probe))
