"""Ctrl-C that cannot split what must happen together.

Inside ``interrupts_handled()`` (``fit`` runs in one; wrap your own loop of
``train_step`` calls in one to get the same), SIGINT goes through a handler that
raises ``KeyboardInterrupt`` at once, as Python's own does, except during a
``held_interrupts()`` block (an optimizer update and the bookkeeping that goes
with it, an epoch's closing record and callbacks): the block finishes and
``KeyboardInterrupt`` is raised right after it. A second Ctrl-C while one is held
raises :class:`ForcedInterrupt` at once (for a block that hangs); whatever it
interrupted is then no longer consistent.

Python delivers signals to the main thread only, and a handler may only be set
there: elsewhere, or while SIGINT has a handler other than Python's default one
(set by the user or a host application), ``interrupts_handled()`` changes nothing
and the blocks are not held. Installing the handler costs two ``signal.signal``
calls, too much to pay on every step; a held block costs a counter.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["ForcedInterrupt", "held_interrupts", "interrupts_handled"]


class ForcedInterrupt(KeyboardInterrupt):
    """A second Ctrl-C that broke into a held block: its state may be half-done."""


class _Hold:
    installed = False  # our handler is SIGINT's handler
    depth = 0  # nesting of held blocks
    pending = False  # a Ctrl-C arrived during a held block


def _on_sigint(signum, frame) -> None:
    if not _Hold.depth:
        raise KeyboardInterrupt
    if _Hold.pending:
        _Hold.pending = False
        raise ForcedInterrupt("second Ctrl-C: interrupted at once")
    _Hold.pending = True


def _can_install() -> bool:
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


class interrupts_handled:  # noqa: N801 - used like a function: with interrupts_handled():
    """Install the holding SIGINT handler for the block (when it can be; see above);
    Python's default handler is put back at its end."""

    __slots__ = ("_mine",)

    def __enter__(self) -> interrupts_handled:
        self._mine = not _Hold.installed and _can_install()
        if self._mine:
            signal.signal(signal.SIGINT, _on_sigint)
            _Hold.installed = True
        return self

    def __exit__(self, *exc) -> bool:
        if self._mine:
            _Hold.installed = False
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return False


class held_interrupts:  # noqa: N801 - used like a function: with held_interrupts():
    """Run the block with Ctrl-C held (inside ``interrupts_handled()``); a held Ctrl-C
    is raised when the block ends without an exception of its own (with one, that
    goes on and the Ctrl-C with it). A class, not a generator: it runs every step."""

    __slots__ = ()

    def __enter__(self) -> held_interrupts:
        _Hold.depth += 1
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _Hold.depth -= 1
        if not _Hold.depth and _Hold.pending:
            _Hold.pending = False
            if exc_type is None:
                raise KeyboardInterrupt
        return False
