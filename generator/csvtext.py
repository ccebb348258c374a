"""CSV bytes as carecard writes every CSV file: UTF-8, LF line ends, one cell rule.

Receives rows of Python values; hands on bytes. Numbers are written in Python's shortest
round-trip form (`0.875`, `12`), booleans as `true`/`false`, None as an empty cell.

Two rules make every file safe to open whatever text an export carried (SPEC §7, CSV safety):

- Structure: a field holding the delimiter, a quote, CR or LF is quoted, so each file reads
  back through any standard CSV reader with the same values. Python's writer quotes a field only
  for the characters of its line terminator (here LF), so a lone CR would otherwise end the
  row in a reader or a spreadsheet; rows with a CR are written by :func:`_quoted_row` instead.
- Formulas: a text cell that begins with `=`, `+`, `-`, `@`, a tab or a CR is written with one
  leading single quote (OWASP's advice), so that a spreadsheet shows it as text instead of
  running it. A number is never prefixed: numeric values, and text that is a plain decimal
  number (`-3.5`, `+12`, `-1e-05`), are written as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date

#: First characters that make a spreadsheet read a cell as a formula (or strip them).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A plain decimal number: the only text starting with `+` or `-` that is left as it is.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: A field that must be quoted (the writer's own rule, plus CR).
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def csv_text(text: str) -> str:
    """A text cell as carecard writes it: with a leading `'` when it starts like a formula."""
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_value(value: object) -> str:
    """A cell as carecard writes it: booleans true/false, floats shortest, None empty, dates
    ISO, text with the formula rule of :func:`csv_text`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (int, date)):
        return str(value)  # a date or datetime: ISO form
    return csv_text(str(value))


class CsvWriter:
    """Rows into a text buffer by carecard's rules; :meth:`getvalue` gives the file's bytes."""

    def __init__(self, columns: Iterable[str]) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self.writerow(columns)

    def writerow(self, row: Iterable[object]) -> None:
        """Write one row, each cell by :func:`csv_value`."""
        cells = [csv_value(v) for v in row]
        if "\r" in "".join(cells):
            self._buffer.write(_quoted_row(cells))
        else:
            self._writer.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        """Write many rows."""
        for row in rows:
            self.writerow(row)

    def getvalue(self) -> bytes:
        """The whole file so far, UTF-8."""
        return self._buffer.getvalue().encode("utf-8")


def _quoted_row(cells: list[str]) -> str:
    """One row with csv's minimal quoting, CR counted among the characters that need it."""
    if cells == [""]:
        return '""\n'  # as csv writes it: a lone empty field is not an empty line
    return ",".join(
        '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.search(cell) else cell
        for cell in cells
    ) + "\n"


def csv_bytes(columns: Iterable[str], rows: Iterable[Iterable[object]]) -> bytes:
    """A whole CSV file: the header `columns`, then `rows`, each cell by :func:`csv_value`."""
    writer = CsvWriter(columns)
    writer.writerows(rows)
    return writer.getvalue()
