"""Holding signals back around work that must not be cut in the middle."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def held_back(*signals: signal.Signals) -> Iterator[None]:
    """Block `signals` in this thread (the main thread only; elsewhere nothing is held) while
    the block runs; one that arrives meanwhile is delivered right after it. A process started
    inside the block inherits the mask."""
    hold = (hasattr(signal, "pthread_sigmask")
            and threading.current_thread() is threading.main_thread())
    held = signal.pthread_sigmask(signal.SIG_BLOCK, set(signals)) if hold else None
    try:
        yield
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextmanager
def ignored_by_children(*signals: signal.Signals) -> Iterator[None]:
    """Processes started inside the block ignore `signals` (an ignored signal stays ignored
    across `exec`); this one still gets them, held back until the block ends. Only the main
    thread can change handlers: elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Held back first: Linux keeps a blocked signal pending even while it is ignored.
    with held_back(*signals):
        handlers = {s: signal.signal(s, signal.SIG_IGN) for s in signals}
        try:
            yield
        finally:
            for s, handler in handlers.items():
                signal.signal(s, handler)
