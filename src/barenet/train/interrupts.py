"""Ctrl-C that cannot split what must happen together.

``held_interrupts()`` marks a block (an optimizer update and the bookkeeping that
goes with it, an epoch's closing record and callbacks) during which SIGINT is
held: the block finishes and ``KeyboardInterrupt`` is raised right after it. A
second Ctrl-C while one is held raises :class:`ForcedInterrupt` at once (for a
block that hangs); whatever it interrupted is then no longer consistent.

Python delivers signals to the main thread only, and a handler may only be set
there: elsewhere, or while SIGINT has a handler other than Python's default
one (set by the user or a host application), the blocks run unchanged.
``interrupts_handled()`` installs the handler once for a longer stretch (a whole
``fit``) so that each held block costs a flag, not two ``signal.signal`` calls.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

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


@contextlib.contextmanager
def interrupts_handled() -> Iterator[None]:
    """Install the holding SIGINT handler for the block (when it can be; see above)."""
    if _Hold.installed or not _can_install():
        yield
        return
    signal.signal(signal.SIGINT, _on_sigint)
    _Hold.installed = True
    try:
        yield
    finally:
        _Hold.installed = False
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def held_interrupts() -> Iterator[None]:
    """Run the block with Ctrl-C held; a held Ctrl-C is raised when the block ends
    without an exception of its own."""
    with interrupts_handled():
        _Hold.depth += 1
        try:
            yield
        except BaseException:
            _Hold.depth -= 1
            if not _Hold.depth:  # the block's own exception goes on; a held Ctrl-C with it
                _Hold.pending = False
            raise
        _Hold.depth -= 1
        if not _Hold.depth and _Hold.pending:
            _Hold.pending = False
            raise KeyboardInterrupt
