"""Ctrl-C and ``kill -TERM`` that cannot split what must happen together.

Inside ``interrupts_handled()`` (``fit`` runs in one; wrap your own loop of
``train_step`` calls in one to get the same), SIGINT goes through a handler that
raises ``KeyboardInterrupt`` at once, as Python's own does, and SIGTERM through one
that raises :class:`Terminated` (a ``KeyboardInterrupt``), except during a
``held_interrupts()`` block (an optimizer update and the bookkeeping that goes
with it, an epoch's closing record and callbacks): the block finishes and the
exception is raised right after it. A second signal while one is held raises
:class:`ForcedInterrupt` at once (for a block that hangs); whatever it interrupted
is then no longer consistent. So ``kill -TERM`` is a polite stop, the same as
Ctrl-C: ``fit`` saves its checkpoint and returns.

Each signal is taken over only where its disposition is the one the process
started with by default — SIGINT with Python's ``default_int_handler``, SIGTERM
with ``SIG_DFL`` — and only in the main thread (Python delivers signals there and
lets only it set a handler). A handler set by the user or a host application, or
a signal ignored by whoever started the process (a shell starts background jobs
of a script with SIGINT ignored), is left as it is, and the blocks are then not
held for it. SIGTERM keeps its default in a process started by ``multiprocessing``:
its parent stops it with SIGTERM (a pool shutting down) and waits for it to end.
Installing the handlers costs a few ``signal.signal`` calls, too much to pay on
every step; a held block costs a counter.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading

__all__ = ["ForcedInterrupt", "Terminated", "held_interrupts", "interrupts_handled"]


class ForcedInterrupt(KeyboardInterrupt):
    """A second Ctrl-C (or SIGTERM) that broke into a held block: its state may be
    half-done."""


class Terminated(KeyboardInterrupt):
    """SIGTERM inside ``interrupts_handled()``: stop as Ctrl-C stops."""


class _Hold:
    installed: tuple[int, ...] = ()  # the signals whose handler is ours
    depth = 0  # nesting of held blocks
    pending: type[KeyboardInterrupt] | None = None  # a signal arrived during a held block


def _interrupt(kind: type[KeyboardInterrupt]) -> KeyboardInterrupt:
    return Terminated("terminated (SIGTERM)") if kind is Terminated else kind()


def _on_signal(signum, frame) -> None:
    kind = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    if not _Hold.depth:
        raise _interrupt(kind)
    if _Hold.pending is not None:
        _Hold.pending = None
        raise ForcedInterrupt("second interrupt: stopped at once")
    _Hold.pending = kind


def _takeable() -> tuple[int, ...]:
    """The signals whose handler this thread may replace now (see the module's text)."""
    if threading.current_thread() is not threading.main_thread():
        return ()
    out = []
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        out.append(signal.SIGINT)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL and not multiprocessing.parent_process():
        out.append(signal.SIGTERM)
    return tuple(out)


_DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


class interrupts_handled:  # noqa: N801 - used like a function: with interrupts_handled():
    """Install the holding SIGINT and SIGTERM handlers for the block (where it can;
    see above); each signal's default is put back at its end."""

    __slots__ = ("_mine",)

    def __enter__(self) -> interrupts_handled:
        self._mine = () if _Hold.installed else _takeable()
        for sig in self._mine:
            signal.signal(sig, _on_signal)
        _Hold.installed = _Hold.installed or self._mine
        return self

    def __exit__(self, *exc) -> bool:
        if self._mine:
            _Hold.installed = ()
            for sig in self._mine:
                signal.signal(sig, _DEFAULTS[sig])
        return False


class held_interrupts:  # noqa: N801 - used like a function: with held_interrupts():
    """Run the block with Ctrl-C and SIGTERM held (inside ``interrupts_handled()``); a
    held one is raised when the block ends without an exception of its own (with
    one, that goes on and the interrupt with it). A class, not a generator: it runs
    every step."""

    __slots__ = ()

    def __enter__(self) -> held_interrupts:
        _Hold.depth += 1
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _Hold.depth -= 1
        if not _Hold.depth and _Hold.pending is not None:
            kind, _Hold.pending = _Hold.pending, None
            if exc_type is None:
                raise _interrupt(kind)
        return False
