"""Sequence-to-sequence addition: train the zoo's Seq2Seq LSTM on "123+45" -> "168" and
report exact-match accuracy on held-out sums (no test sum is a training sum).

    python benchmarks/addition.py [--epochs 30] [--hidden 128] [--n-train 50000]
                                  [--n-test 5000] [--digits 3] [--lr 2e-3] [--batch 128]
                                  [--schedule cosine] [--seed 0] [--out DIR] [--resume]

Prints the held-out exact match after every epoch, the epoch the target (99 %) was first
reached, and the wall time. ``--schedule`` is a learning-rate schedule as ``fit``'s
callbacks parse it (``cosine``, ``step:10:0.5``, ``none``; cosine decay over the run by
default). ``--out`` keeps checkpoints (``DIR/checkpoints``) and the
model file; ``--resume`` continues from ``DIR/checkpoints/last.safetensors``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import barenet as bn
from barenet.data.addition import addition, decode_answer
from barenet.sequence import build_sequence_model, exact_match, fit_addition
from barenet.train import LambdaCallback, ModelCheckpoint, make_schedule


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--n-train", type=int, default=50_000)
    p.add_argument("--n-test", type=int, default=5_000)
    p.add_argument("--digits", type=int, default=3)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--schedule", default="cosine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("--out", default=None)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args(argv)
    bn.seed(args.seed)
    data = addition(args.n_train, args.n_test, args.digits, seed=args.seed)
    model = build_sequence_model(
        "seq2seq-lstm", data, hidden_size=args.hidden, embed_dim=args.embed
    )
    opt = bn.optim.Adam(model.parameters(), lr=args.lr)
    t0 = time.perf_counter()
    reached: list[int] = []

    def report(ctx):
        acc = exact_match(ctx.model, data.x_test, data.y_test)
        ctx.logs["test_exact_match"] = acc
        if acc >= args.target and not reached:
            reached.append(ctx.epoch + 1)
        print(
            f"epoch {ctx.epoch + 1:3d}  train loss {ctx.logs['train_loss']:.4f}  "
            f"held-out exact match {acc:.4f}  ({(time.perf_counter() - t0) / 60:.1f} min)",
            flush=True,
        )

    callbacks = [LambdaCallback(on_epoch_end=report)]
    schedule = make_schedule(args.schedule, args.epochs, args.lr)
    if schedule is not None:
        callbacks.insert(0, schedule)
    resume = None
    if args.out:
        ckdir = Path(args.out) / "checkpoints"
        callbacks.insert(0, ModelCheckpoint(ckdir, monitor="train_loss"))
        resume = ckdir / "last.safetensors" if args.resume else None
    fit_addition(
        model,
        data,
        opt,
        epochs=args.epochs,
        batch_size=args.batch,
        verbose=False,
        callbacks=callbacks,
        resume=resume,
        seed=args.seed,
        clip_norm=args.clip,
    )
    minutes = (time.perf_counter() - t0) / 60
    acc = exact_match(model, data.x_test, data.y_test)
    pred = bn.train.predict(model, data.x_test[:5]).argmax(-1)
    for (a, b), row in zip(data.pairs_test[:5], pred):
        print(f"  {a}+{b} = {decode_answer(row)}")
    print(
        f"held-out exact match {acc:.4f} on {len(data.x_test)} sums after {args.epochs} epochs, "
        f"{minutes:.1f} min; {args.target:.0%} first reached at epoch "
        f"{reached[0] if reached else 'never'}"
    )
    if args.out:
        bn.save(
            model,
            Path(args.out) / "model.safetensors",
            {"dataset": "addition", "input_shape": [2 * args.digits + 1]},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
