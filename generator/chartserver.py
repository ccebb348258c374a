"""Imported first by the chart workers' server alone (see ``drawing.WORKER_MODULES``): what
the server and the workers it forks do about signals and errors that are the build's to
report.

- Ctrl-C goes to the whole process group. The server ignores it from here on (before it
  imports matplotlib, where a KeyboardInterrupt printed a traceback), and so do the workers
  it forks; the build says that it stopped, and stops the workers.
- A worker that starts while its build is stopping (Ctrl-C, SIGTERM) finds the build's
  semaphores removed already and fails before it can draw anything. The server's error hook,
  which its workers inherit, prints nothing for that; any other error is printed as usual.
"""

from __future__ import annotations

import signal
import sys
from types import TracebackType

signal.signal(signal.SIGINT, signal.SIG_IGN)


def _orphaned(kind: type[BaseException], trace: TracebackType | None) -> bool:
    """A FileNotFoundError raised while rebuilding one of the build's semaphores."""
    if not issubclass(kind, FileNotFoundError):
        return False
    while trace is not None:
        code = trace.tb_frame.f_code
        if code.co_name == "__setstate__" and code.co_filename.endswith("synchronize.py"):
            return True
        trace = trace.tb_next
    return False


def quiet_orphans(
    kind: type[BaseException], value: BaseException, trace: TracebackType | None
) -> None:
    if not _orphaned(kind, trace):
        sys.__excepthook__(kind, value, trace)


sys.excepthook = quiet_orphans
