"""Imported by the chart workers' server alone (see ``drawing.WORKER_MODULES``): its error
hook, which the workers it forks inherit.

A worker that starts while its build is stopping (Ctrl-C, SIGTERM) finds the build's
semaphores removed already and fails before it can draw anything. That is not an error to
report: the build says why it stopped. Any other error is printed as usual.
"""

from __future__ import annotations

import sys
from types import TracebackType


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
