"""CSV bytes as carecard writes every CSV file: UTF-8, LF line ends, one cell rule.

Receives rows of Python values; hands on bytes. Numbers are written in Python's shortest
round-trip form (`0.875`, `12`), booleans as `true`/`false`, None as an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable


def csv_value(value: object) -> object:
    """A cell as carecard writes it: booleans true/false, floats shortest, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return value


def csv_bytes(columns: Iterable[str], rows: Iterable[Iterable[object]]) -> bytes:
    """A whole CSV file: the header `columns`, then `rows`, each cell by :func:`csv_value`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([csv_value(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")
