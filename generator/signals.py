"""Holding signals back around work that must not be cut in the middle."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def held_back(*signals: signal.Signals) -> Iterator[None]:
    """Let `signals` take effect only after the block: one that arrives meanwhile is delivered
    right after it, to the handler there was before.

    Both ways a signal can come in are covered. This thread blocks them, so one sent to the
    process while it is the only thread waits in the kernel (nothing runs inside a C
    extension's initialisation, say). Their Python handlers are swapped for ones that only
    note the signal, so one that another thread takes (an engine thread, with nothing
    blocked) raises nothing either. Only the main thread can change handlers: elsewhere the
    block runs as it is. A handler installed from C (not Python's) is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    handlers = {s: signal.getsignal(s) for s in signals}
    handlers = {s: h for s, h in handlers.items() if h is not None}
    for s in handlers:
        signal.signal(s, lambda signum, frame: noted.append(signum))
    blocked = (signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
               if hasattr(signal, "pthread_sigmask") else None)
    try:
        yield
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
        if blocked is not None:  # a signal that waited in the kernel is delivered now
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for signum in dict.fromkeys(noted):
            signal.raise_signal(signum)
