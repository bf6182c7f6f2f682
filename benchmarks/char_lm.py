"""Character-level language model: barenet's LanguageModel against the same network in
torch.nn, trained alike, scored in bits per character on held-out text.

    python benchmarks/char_lm.py [--data /usr/share/games/fortunes] [--chars 1000000]
                                 [--hidden 256] [--embed 64] [--epochs 3] [--seeds 0 1 2]
                                 [--batch 32] [--seq-len 64] [--lr 2e-3] [--clip 5]

For each seed both frameworks start from the same weights (barenet's initialisation,
copied into the torch model through the state dict: the names are the same), read the
same batches in the same order (truncated BPTT: ``bptt_arrays``, the state carried from
batch to batch and reset each epoch, its gradient cut), take the same Adam steps with the
same global-norm clipping, for the same epochs. The held-out part is the last 10 % of
the text; its bits per character are measured with the state carried through it
(16 rows of 100-character chunks), the same way for both. Prints one row per seed, the
means and standard deviations, and barenet's difference from torch in percent.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import barenet as bn
from barenet.data.text import bptt_arrays, load_text, read_text
from barenet.sequence import bits_per_character, build_sequence_model, fit_language_model


def _torch_model(lm, torch):
    nn = torch.nn

    class TorchLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(lm.vocab_size, lm.embedding.embedding_dim)
            self.rnn = nn.LSTM(
                lm.embedding.embedding_dim, lm.rnn.hidden_size, lm.rnn.num_layers, batch_first=True
            )
            self.head = nn.Linear(lm.rnn.hidden_size, lm.vocab_size)

        def forward(self, x, state=None):
            y, state = self.rnn(self.embedding(x), state)
            return self.head(y), state

    model = TorchLM()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in lm.state_dict().items()})
    return model


def _torch_train(model, data, args, torch) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    x, y = bptt_arrays(data.train, args.batch, args.seq_len)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(args.epochs):
        state = None
        for i in range(0, len(x), args.batch):
            logits, state = model(xt[i : i + args.batch], state)
            state = tuple(s.detach() for s in state)  # truncated BPTT: the gradient is cut
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), yt[i : i + args.batch].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()


def _torch_bpc(model, ids, torch, seq_len=100, rows=16) -> float:
    x, y = bptt_arrays(ids, rows, seq_len)
    total, count, state = 0.0, 0, None
    with torch.inference_mode():
        for i in range(0, len(x), rows):
            logits, state = model(torch.from_numpy(x[i : i + rows]), state)
            z = logits.double().reshape(-1, logits.shape[-1])
            t = torch.from_numpy(y[i : i + rows].reshape(-1))
            total += torch.nn.functional.cross_entropy(z, t, reduction="sum").item()
            count += len(t)
    return total / count / math.log(2)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="/usr/share/games/fortunes")
    p.add_argument("--chars", type=int, default=1_000_000, help="use the first N characters")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    text = read_text(args.data)[: args.chars]
    data = load_text(text=text, held_out=0.1)
    print(
        f"{args.data}: {len(text):,} characters ({len(data.train):,} train, "
        f"{len(data.test):,} held out), {len(data.vocab)} symbols; LSTM {args.embed}-"
        f"{args.hidden}, batch {args.batch} x {args.seq_len}, Adam {args.lr:g}, clip "
        f"{args.clip:g}, {args.epochs} epochs",
        flush=True,
    )
    rows = []
    for seed in args.seeds:
        bn.seed(seed)
        torch.manual_seed(seed)
        lm = build_sequence_model("char-lstm", data, hidden_size=args.hidden, embed_dim=args.embed)
        twin = _torch_model(lm, torch)
        t0 = time.perf_counter()
        opt = bn.optim.Adam(lm.parameters(), lr=args.lr)
        fit_language_model(
            lm,
            data,
            opt,
            epochs=args.epochs,
            batch_size=args.batch,
            seq_len=args.seq_len,
            clip_norm=args.clip,
            verbose=False,
            validate=False,
        )
        t_ours = time.perf_counter() - t0
        ours = bits_per_character(lm, data.test)
        t0 = time.perf_counter()
        _torch_train(twin, data, args, torch)
        t_theirs = time.perf_counter() - t0
        theirs = _torch_bpc(twin, data.test, torch)
        rows.append((seed, ours, theirs))
        print(
            f"seed {seed}: barenet {ours:.4f} bpc ({t_ours / 60:.1f} min), torch {theirs:.4f} "
            f"bpc ({t_theirs / 60:.1f} min)",
            flush=True,
        )
    ours = [r[1] for r in rows]
    theirs = [r[2] for r in rows]

    def stat(v):
        return f"{statistics.mean(v):.4f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.4f}"

    diff = 100 * (statistics.mean(ours) / statistics.mean(theirs) - 1)
    print("\n| seed | barenet bpc | torch bpc |\n|---|---|---|")
    for seed, a, b in rows:
        print(f"| {seed} | {a:.4f} | {b:.4f} |")
    print(f"| mean ± std | {stat(ours)} | {stat(theirs)} |")
    print(f"\nbarenet - torch: {diff:+.2f} % of torch's bits per character (target: within 2 %)")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
