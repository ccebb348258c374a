"""Holding signals back around work that must not be cut in the middle."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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
    swapped: dict[signal.Signals, Any] = {}
    blocked: set[int] | None = None
    try:
        for s in signals:
            handler = signal.getsignal(s)
            if handler is not None:
                # Noted before the change: a handler may run (and raise) just after it.
                swapped[s] = handler
                signal.signal(s, lambda signum, frame: noted.append(signum))
        if hasattr(signal, "pthread_sigmask"):
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
        yield
    finally:
        # Put everything back even if a handler raises on the way (a signal that came just
        # now); then raise the first such error, or else deliver what was noted.
        raised: BaseException | None = None
        for signum, handler in swapped.items():
            while True:  # a pending handler runs (and may raise) before the change: again
                try:
                    signal.signal(signum, handler)
                    break
                except BaseException as error:  # re-raised below
                    raised = raised or error
        if blocked is not None:  # a signal that waited in the kernel is delivered now
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            except BaseException as error:  # re-raised below
                raised = raised or error
        if raised is not None:
            raise raised
        for number in dict.fromkeys(noted):
            signal.raise_signal(number)
