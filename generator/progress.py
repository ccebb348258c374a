"""Progress for long stages: a bar on a terminal, nothing extra in logs and CI.

The CLI turns the bar on (`enable`) only when stderr is a terminal and the output is not
`--quiet`; libraries and tests see plain iteration.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_enabled = False


def enable(on: bool) -> None:
    """Show progress bars from now on (only if stderr is a terminal)."""
    global _enabled
    _enabled = on and sys.stderr.isatty()


def progress(items: Iterable[T], total: int, what: str) -> Iterator[T]:
    """Iterate over `items`, showing a bar labelled `what` when enabled and worth it."""
    if not _enabled or total < 2:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=what, unit="", leave=False, file=sys.stderr,
                    dynamic_ncols=True)
