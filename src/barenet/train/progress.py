"""The progress display of ``fit``, as a callback.

On a terminal with tqdm installed: one bar per epoch (batches done, running loss
and accuracy, then the epoch's figures). Elsewhere (a pipe, a log file, a
notebook without tqdm): one line per epoch. ``fit`` adds a :class:`ProgressBar`
first in its callbacks unless ``verbose=False`` or one is given. On a GPU the running
figures live on the device; the bar reads them (a wait for the GPU) at most once every
``GPU_REFRESH_S`` seconds.
"""

from __future__ import annotations

import sys
import time

from .callbacks import Callback

GPU_REFRESH_S = 1.0

__all__ = ["ProgressBar", "format_epoch"]


def _is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def format_epoch(rec: dict) -> str:
    """``"epoch 3  train_loss 0.4123  ...  lr 0.001  2.1s"`` for one history record."""
    parts = [f"epoch {rec['epoch']}"]
    for k in ("train_loss", "train_acc", "val_loss", "val_acc"):
        v = rec.get(k)
        if v is not None:
            parts.append(f"{k} {v:.4f}")
    parts.append(f"lr {rec['lr']:.3g}  {rec['time_s']:.1f}s")
    return "  ".join(parts)


class ProgressBar(Callback):
    """A tqdm bar per epoch on a terminal, else one printed line per epoch."""

    def __init__(self):
        self._bar = None
        self._shown = 0.0  # when the running figures were last read from a GPU

    def on_epoch_begin(self, ctx) -> None:
        self.close()
        if not _is_tty():
            return
        try:
            from tqdm.auto import tqdm  # optional engine: tqdm, barenet[all]
        except ImportError:
            return
        self._bar = tqdm(
            total=len(ctx.loader),
            desc=f"epoch {ctx.epoch + 1}/{ctx.epochs}",
            leave=True,
            unit="batch",
        )
        if ctx.loader.batch:  # a resumed epoch starts part-way
            self._bar.update(ctx.loader.batch)

    def on_batch_end(self, ctx) -> None:
        if self._bar is None:
            return
        p = ctx.partial
        if not isinstance(p["loss_sum"], (int, float)):  # on a GPU: read it now and then
            now = time.monotonic()
            if now - self._shown < GPU_REFRESH_S:
                self._bar.update(1)
                return
            self._shown = now
        post = {"loss": f"{p['loss_sum'] / p['count']:.4f}"}
        if ctx.task == "classification":
            post["acc"] = f"{p['correct'] / p['count']:.4f}"
        self._bar.set_postfix(post, refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, ctx) -> None:
        if self._bar is None:
            print(format_epoch(ctx.logs), flush=True)
            return
        self._bar.set_postfix_str(format_epoch(ctx.logs).split("  ", 1)[1], refresh=True)
        self.close()

    def on_interrupt(self, ctx) -> None:
        self.close()

    def on_train_end(self, ctx) -> None:
        self.close()

    def close(self) -> None:
        """Close the bar of the epoch in progress, if any (``fit`` calls it however
        it ends)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Nothing to restore: the display starts afresh."""
