"""Load one export drop, whatever its format, into an engine table of text columns.

Each reader creates a table with every export column as VARCHAR plus ``__position``: where the
record starts in the file — the line for CSV (the header is line 1) and JSON Lines (blank lines
count), the sheet row for xlsx (the header is row 1), the item number (from 1) for JSON arrays
and the row number (from 1) for Parquet. :data:`POSITION_WORD` names the unit per format.

Cells are text as a person would write them, whatever the format stored: whole numbers without
'.0' (an xlsx id 3 is '3'), other numbers as written, booleans 'true'/'false', date cells
'YYYY-MM-DD HH:MM:SS'. Empty cells may be NULL. Row order is kept.

A file that cannot be read raises :class:`~generator.errors.DataError` with one message in the
house template, naming the file and, where known, the line, row or item.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import math
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import DataError, Problem
from generator.sqltext import sql_ident, sql_str

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

    from generator.config.loader import SourceConfig
    from generator.ingest.sources import Drop

log = logging.getLogger(__name__)

POSITION_COLUMN = "__position"
POSITION_WORD: dict[str, str] = {
    "csv": "line", "jsonl": "line", "json": "item", "parquet": "row", "xlsx": "row",
}
#: Delimiters tried, in order of preference when the header is ambiguous.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
CHUNK = 1 << 20
#: Largest whole number a double holds exactly; beyond it the digits are not trustworthy.
EXACT_DOUBLE = 2**53
#: Largest whole number a 32-bit float holds exactly.
EXACT_FLOAT = 2**24
#: Column added by the JSON readers when an id column holds a number beyond 2^53 in some row:
#: the list of such columns of the row (NULL for the others).
INEXACT_COLUMN = "__inexact"
#: Column added when some records of a CSV drop are malformed: for such a row (its export
#: columns empty) a JSON object saying why (`reason` malformed_row or field_too_large, `found`
#: the start of the text, `values` and `expected` the counts, `column` and `size` of a value).
MALFORMED_COLUMN = "__malformed"
#: The columns a reader may add besides the export's own.
HIDDEN_COLUMNS: tuple[str, ...] = (POSITION_COLUMN, INEXACT_COLUMN, MALFORMED_COLUMN)
#: Longest CSV value read (characters): a longer one rejects its row as field_too_large.
MAX_FIELD = 1 << 20
#: Longest CSV record (all its values, characters) held at once; a longer one is rejected as
#: field_too_large without being held (most often a quote that is closed much later).
MAX_RECORD = 16 << 20
GZIP_MAGIC = b"\x1f\x8b"
#: Widest export read (columns, or distinct keys of JSON records). Real exports have tens of
#: columns; tens of thousands make every later step crawl and mean a wrong delimiter or a file
#: that is not an export.
MAX_COLUMNS = 1000
#: File signatures that betray a binary file under a text name.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", ("an Excel workbook or zip archive; name it .xlsx or set "
                    "sources[{index}].format: xlsx")),
    (b"PAR1", "a Parquet file; name it .parquet or set sources[{index}].format: parquet"),
    (b"%PDF", "a PDF document, not an export"),
)


def record_hash_sql(source: SourceConfig, columns: list[str]) -> str:
    """SQL: a hash of every column of the export record (mapped or not), for sources whose
    `on_duplicate` is `identical`; NULL otherwise (the hash costs time and space)."""
    if source.on_duplicate != "identical":
        return "CAST(NULL AS UHUGEINT)"
    values = ", ".join(f"CAST({sql_ident(c)} AS VARCHAR)" for c in columns
                       if c not in HIDDEN_COLUMNS)
    return f"md5_number(to_json([{values}]))"


def drop_format(drop: Drop) -> str:
    """The drop's format: the source's explicit `format`, else by file extension."""
    if drop.source.format != "auto":
        return drop.source.format
    name = drop.path.name.lower()
    name = name.removesuffix(".gz")
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"),
                     (".parquet", "parquet"), (".xlsx", "xlsx")):
        if name.endswith(ext):
            return fmt
    return "csv"


def read_drop(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> str:
    """Create `table` from the drop; return the position word ('line', 'row' or 'item')."""
    fmt = drop_format(drop)
    if drop.path.stat().st_size == 0:
        raise DataError(Problem(drop.rel, "", _EXPECTED_ROWS[fmt], "",
                                "the file is empty (0 bytes); remove it or export it again."))
    READERS[fmt](con, drop, table)
    count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    if not count or count[0] == 0:
        con.execute(f"DROP TABLE {table}")
        raise DataError(Problem(drop.rel, "", _EXPECTED_ROWS[fmt], "no data rows",
                                "remove the empty file or export it again."))
    return POSITION_WORD[fmt]


_EXPECTED_ROWS: dict[str, str] = {
    "csv": "a header line and at least one data row",
    "jsonl": "at least one line with a JSON object",
    "json": "a JSON array of at least one object",
    "parquet": "at least one row",
    "xlsx": "a header row and at least one data row in the first sheet",
}


# --- text files: encoding, compression, line endings --------------------------------------------


@dataclass(frozen=True)
class _Text:
    """What a streaming pass over a text drop learnt, without keeping the file in memory."""

    compressed: bool
    """gzip-compressed (by its magic bytes, whatever the name)."""
    head: str
    """The decoded start of the file (up to one chunk), BOM removed."""
    bare_cr: bool
    """A carriage return not followed by a line feed occurs somewhere (e.g. inside a value)."""
    lines: int = 0
    """Physical lines in the file (a last line without a line feed counts)."""
    blank_tail: int = 0
    """Blank lines at the end of the file."""


def _scan_text(drop: Drop) -> _Text:
    """Check that the drop is UTF-8 text (gzip allowed) in one streaming pass."""
    with drop.path.open("rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
    decoder = codecs.getincrementaldecoder("utf-8")()
    head: str | None = None
    line = 1
    bare_cr = pending_cr = False
    last = b"\n"
    tail = 0  # line feeds at the end of the text so far (blank lines but the last one)
    opener: Any = gzip.open if compressed else open
    try:
        with opener(drop.path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                if head is None:
                    _check_not_binary(drop, chunk)
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    raise _not_utf8(drop, line, error) from None
                if head is None:
                    head = text.removeprefix("\ufeff")
                if b"\r" in chunk or pending_cr:
                    if pending_cr and not chunk.startswith(b"\n"):
                        bare_cr = True
                    pending_cr = chunk.endswith(b"\r")
                    if chunk.count(b"\r") - chunk.count(b"\r\n") - pending_cr > 0:
                        bare_cr = True
                line += chunk.count(b"\n")
                last = chunk[-1:]
                body = chunk.rstrip(b"\r\n")
                ending = chunk[len(body):].count(b"\n")
                tail = ending if body else tail + ending
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as error:
                raise _not_utf8(drop, line, error) from None
    except (EOFError, zlib.error, gzip.BadGzipFile):
        raise DataError(Problem(
            drop.rel, "", "a complete gzip-compressed file", None,
            "the file ends in the middle of the compressed data (a cut-off copy or download); "
            "copy or export it again.",
        )) from None
    return _Text(compressed, head or "", bare_cr, line - 1 + (last != b"\n"), max(tail - 1, 0))


def _check_not_binary(drop: Drop, chunk: bytes) -> None:
    index = drop.source_index
    if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(Problem(drop.rel, "", "UTF-8 text", "UTF-16 text",
                                "re-save the file as UTF-8 (in Excel: 'CSV UTF-8').")) from None
    if b"\x00" not in chunk[:8192]:
        return
    hint = "this is binary data, not a text export; check that the right file was exported."
    for magic, what in SIGNATURES:
        if chunk.startswith(magic):
            hint = "this looks like " + what.format(index=index) + "."
    raise DataError(Problem(drop.rel, "", "UTF-8 text", _escaped(chunk[:12]), hint))


def _escaped(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in data)


def _not_utf8(drop: Drop, line: int, error: UnicodeDecodeError) -> DataError:
    data: bytes = error.object  # type: ignore[assignment]
    line += data.count(b"\n", 0, error.start)
    start = max(data.rfind(b"\n", 0, error.start) + 1, error.start - 40)
    end = data.find(b"\n", error.start)
    end = min(end if end >= 0 else len(data), error.start + 20)
    found = data[start:end].decode("utf-8", "replace").rstrip("\r")
    return DataError(Problem(
        f"{drop.rel}, line {line}", "", "UTF-8 text", found,
        f"the byte 0x{data[error.start]:02x} is not UTF-8 (the file is probably Latin-1 or "
        "Windows-1252); re-save it as UTF-8 (in Excel: 'CSV UTF-8').",
    ))


def _compression(text: _Text) -> str:
    return "gzip" if text.compressed else "none"


# --- CSV ------------------------------------------------------------------------------------------


def read_csv(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> None:
    """Read a CSV drop as text, keeping row order, and number each record's first line.

    The engine reads a well-formed drop at once. If it refuses the drop (a record with more
    or fewer values than the header, a value beyond MAX_FIELD), the drop is read record by
    record instead (:func:`_read_csv_leniently`): each malformed record becomes a row of
    MALFORMED_COLUMN alone, and the rest of the drop is kept.
    """
    import duckdb

    text = _scan_text(drop)
    delimiter = drop.source.delimiter or sniff_delimiter(text.head)
    names = _header(drop, text.head, delimiter)
    path, sentinel = drop.path, ""
    if text.bare_cr:
        # The engine ends a record at any CR. In an LF or CRLF file a lone CR is text (a pandas
        # re-save leaves them unquoted): read a copy with a stand-in and put the CRs back.
        path, sentinel = _without_bare_cr(drop, text)
    compressed = text.compressed and not sentinel
    columns = "{" + ", ".join(f"{sql_str(n)}: 'VARCHAR'" for n in names) + "}"
    options = [
        "header = true", "auto_detect = false", f"columns = {columns}",
        f"delim = {sql_str(delimiter)}", "quote = '\"'", "escape = '\"'",
        f"compression = {sql_str('gzip' if compressed else 'none')}",
        # A longer record may hold a value beyond MAX_FIELD: the lenient reader judges it.
        f"max_line_size = {MAX_FIELD}",
    ]
    try:
        try:
            con.execute(
                f"CREATE OR REPLACE TABLE {table}_raw AS SELECT * FROM read_csv("
                f"{sql_str(str(path))}, {', '.join(options)})"
            )
        except duckdb.Error as error:
            if isinstance(error, (duckdb.OutOfMemoryException, duckdb.InterruptException)):
                raise
            log.debug("%s: read record by record: %s", drop.rel, _first_line(error))
            _read_csv_leniently(con, drop, path, compressed, delimiter, names, table, sentinel)
            return
        if not _number_records(con, text, names, table, sentinel):
            # Blank lines between records: the engine skips them, so its records do not say
            # on which line they start; the record-by-record reader counts every line.
            con.execute(f"DROP TABLE {table}_raw")
            _read_csv_leniently(con, drop, path, compressed, delimiter, names, table, sentinel)
    finally:
        if sentinel:
            path.unlink(missing_ok=True)


def _number_records(
    con: duckdb.DuckDBPyConnection, text: _Text, names: list[str], table: str, sentinel: str
) -> bool:
    """Create `table` from `{table}_raw` with each record's first line as its position; return
    False (and leave `{table}_raw`) when the lines do not add up to the records."""
    idents = [sql_ident(n) for n in names]
    restore = ", ".join(f"replace({c}, {sql_str(sentinel)}, chr(13)) AS {c}" for c in idents)
    records = con.execute(f"SELECT count(*) FROM {table}_raw").fetchone()[0]  # type: ignore[index]
    if text.lines == records + 1 and not sentinel:
        # One physical line per record (no quoted line breaks): record n starts on line n + 1.
        # Numbered in place: adding one column is much cheaper than copying every column.
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"ALTER TABLE {table}_raw RENAME TO {table}")
        con.execute(f"ALTER TABLE {table} ADD COLUMN {POSITION_COLUMN} BIGINT")
        con.execute(f"UPDATE {table} SET {POSITION_COLUMN} = rowid + 2")
        return True
    if text.lines == records + 1:
        con.execute(
            f"""CREATE OR REPLACE TABLE {table} AS
            SELECT * {f'REPLACE ({restore})' if sentinel else ''},
                CAST(rowid + 2 AS BIGINT) AS {POSITION_COLUMN}
            FROM {table}_raw ORDER BY rowid"""
        )
        con.execute(f"DROP TABLE {table}_raw")
        return True
    newlines = " + ".join(
        f"coalesce(length({c}) - length(replace({c}, chr(10), '')), 0)" for c in idents
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table}_newlines AS
        SELECT rowid AS __rowid, {newlines} AS __newlines FROM {table}_raw"""
    )
    inside = con.execute(f"SELECT sum(__newlines) FROM {table}_newlines").fetchone()
    if text.lines != records + 1 + int(inside[0] or 0 if inside else 0) + text.blank_tail:
        con.execute(f"DROP TABLE {table}_newlines")
        return False
    # The header is line 1; a record starts on the line after the previous record's last line.
    # The running sum runs over a narrow table: a window over every column is several times slower.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table}_lines AS
        SELECT __rowid, CAST(2 + __rowid + coalesce(sum(__newlines) OVER (ORDER BY __rowid
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT) AS __line
        FROM {table}_newlines"""
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
        SELECT r.* {f'REPLACE ({restore})' if sentinel else ''}, l.__line AS {POSITION_COLUMN}
        FROM {table}_raw r JOIN {table}_lines l ON l.__rowid = r.rowid
        ORDER BY r.rowid"""
    )
    con.execute(f"DROP TABLE {table}_newlines")
    con.execute(f"DROP TABLE {table}_lines")
    con.execute(f"DROP TABLE {table}_raw")
    return True


class _RecordTooLarge(Exception):
    """A CSV record grew beyond MAX_RECORD characters (raised through csv.reader)."""


class _Lines:
    """The physical lines of a text file, for csv.reader: counted, and those of the current
    record kept (up to MAX_RECORD characters) so that a broken record can be skipped."""

    def __init__(self, handle: Any) -> None:
        self.readline = handle.readline
        self.count = 0
        """Lines read so far (a line longer than MAX_RECORD counts once its end is read)."""
        self.eof = False
        self.lines: list[str] = []
        """The current record's latest lines; earlier ones are joined into `blocks`."""
        self.blocks: list[str] = []
        self.size = 0
        self.overflow = ""
        """The line that made the record too large (in neither `lines` nor `blocks`)."""
        self.again: list[str] = []
        """Lines read (and counted) already, to be read again, the next one last."""

    def __iter__(self) -> _Lines:
        return self

    def start(self) -> None:
        """Begin a record."""
        self.lines = []
        self.size = 0
        if self.blocks:
            self.blocks = []

    def __next__(self) -> str:
        if self.again:
            line = self.again.pop()
        else:
            line = self.readline(MAX_RECORD + 1)
            if not line:
                self.eof = True
                raise StopIteration
            self.count += 1
        self.size += len(line)
        if self.size > MAX_RECORD:
            self.count -= not line.endswith("\n")  # counted when _skip_record reads its end
            self.overflow = line
            raise _RecordTooLarge
        self.lines.append(line)
        if len(self.lines) > 1024:  # a record of many short lines: keep it compact
            self.blocks.append("".join(self.lines))
            self.lines = []
        return line

    def record(self) -> list[str]:
        """The current record's text as read so far, in pieces that end at line breaks."""
        return [*self.blocks, *self.lines]

    def first_line(self) -> str:
        """The current record's first line (its start), without its line break."""
        first = (self.blocks or self.lines or [self.overflow])[0][:MAX_FOUND]
        return first.split("\n", 1)[0].rstrip("\r")


#: How much of a malformed record's text a message can quote.
MAX_FOUND = 200
# States of a CSV record, as Python's csv module parses one (non-strict).
_START_FIELD, _IN_FIELD, _IN_QUOTES, _QUOTE_IN_QUOTES = range(4)


def _csv_state(text: str, delimiter: str, state: int) -> int:
    """The parser's state after `text` (no line break in it), starting in `state`: enough to
    find where a record ends without holding its values."""
    i, n = 0, len(text)
    while i < n:
        if state == _IN_QUOTES:
            j = text.find('"', i)
            if j < 0:
                return state
            state, i = _QUOTE_IN_QUOTES, j + 1
        elif state == _QUOTE_IN_QUOTES:
            char = text[i]
            state = (_IN_QUOTES if char == '"' else _START_FIELD if char == delimiter
                     else _IN_FIELD)
            i += 1
        elif state == _START_FIELD and text[i] == '"':
            state, i = _IN_QUOTES, i + 1
        else:  # a value without quotes runs to the next delimiter
            j = text.find(delimiter, i)
            if j < 0:
                return _IN_FIELD
            state, i = _START_FIELD, j + len(delimiter)
    return state


def _skip_record(lines: _Lines, delimiter: str) -> bool:
    """Read on to the end of the current record (from its kept lines, then the file) without
    holding it; return False when the file ends inside a quoted value."""
    state = _START_FIELD
    # What was read of the record already (counted then), line by line, then the rest of the
    # file; should the record end early, the kept lines after it are read again as records.
    kept = _lines_of([*lines.record(), lines.overflow])
    lines.start()
    lines.overflow = ""
    while True:
        piece = next(kept, None)
        if piece is None:
            piece = lines.readline(CHUNK)
            lines.count += piece.endswith("\n")
        if not piece:
            lines.eof = True
            return state != _IN_QUOTES
        ends_line = piece.endswith("\n")
        state = _csv_state(piece.rstrip("\r\n") if ends_line else piece, delimiter, state)
        if ends_line and state != _IN_QUOTES:
            lines.again = list(kept)[::-1]
            return True


def _lines_of(pieces: list[str]) -> Iterator[str]:
    """The lines of `pieces` (each cut after its line feed), one at a time."""
    for piece in pieces:
        start = 0
        while start < len(piece):
            end = piece.find("\n", start) + 1 or len(piece)
            yield piece[start:end]
            start = end


def _read_csv_leniently(
    con: duckdb.DuckDBPyConnection,
    drop: Drop,
    path: Path,
    compressed: bool,
    delimiter: str,
    names: list[str],
    table: str,
    sentinel: str,
) -> None:
    """Read a CSV drop record by record with Python's csv module; a record with more or fewer
    values than the header, or a value beyond MAX_FIELD, becomes a row holding only
    MALFORMED_COLUMN (the reason), and the others are read as the engine would.

    The good records and the malformed ones, each with its first line, are written to a
    well-formed CSV that the engine then reads at once.
    """
    import json
    import tempfile

    width = len(names)
    if csv.field_size_limit() < MAX_RECORD:
        csv.field_size_limit(MAX_RECORD)  # records are bounded by _Lines instead
    opener: Any = gzip.open if compressed else open
    malformed = longest = 0
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle, \
            tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".csv",
                                        delete=False) as target:
        clean = Path(target.name)
        lines = _Lines(handle)
        reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True,
                            strict=False)
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow([POSITION_COLUMN, MALFORMED_COLUMN, *names])
        try:
            next(reader)  # the header, read from the head of the file already
        except (csv.Error, _RecordTooLarge):
            clean.unlink(missing_ok=True)
            raise DataError(Problem(f"{drop.rel}, line 1", "", "a header line naming the "
                                    "columns", lines.first_line())) from None

        def reject(position: int, **why: object) -> int:
            return int(writer.writerow([position, json.dumps(why), *[""] * width]))

        while True:
            position = lines.count + 1
            lines.start()
            try:
                record = next(reader)
            except StopIteration:
                break
            except (csv.Error, _RecordTooLarge) as error:
                first = lines.first_line()
                if not _skip_record(lines, delimiter):
                    clean.unlink(missing_ok=True)
                    raise DataError(_unclosed_quote(drop, position, first)) from None
                malformed += 1
                if isinstance(error, _RecordTooLarge):
                    reject(position, reason="field_too_large", found=first,
                           size=MAX_RECORD + 1)
                else:
                    reject(position, reason="malformed_row", found=first, error=str(error))
                continue
            if lines.eof:  # the file ended inside a quoted value of this record
                clean.unlink(missing_ok=True)
                raise DataError(_unclosed_quote(drop, position, lines.first_line()))
            if len(record) == width and max(map(len, record)) <= MAX_FIELD:
                written = writer.writerow([position, "", *record])
                if written > longest:
                    longest = written
            elif not record:
                continue  # a blank line, as the engine skips it
            elif len(record) != width:
                malformed += 1
                text = "".join(lines.record())[:MAX_FOUND].rstrip("\r\n")
                reject(position, reason="malformed_row", found=text, values=len(record),
                       expected=width)
            else:
                malformed += 1
                column = next(i for i, value in enumerate(record) if len(value) > MAX_FIELD)
                reject(position, reason="field_too_large", found=record[column][:MAX_FOUND],
                       column=names[column], size=len(record[column]))
    try:
        types = {POSITION_COLUMN: "BIGINT", MALFORMED_COLUMN: "VARCHAR",
                 **{n: "VARCHAR" for n in names}}
        columns = "{" + ", ".join(f"{sql_str(n)}: {sql_str(t)}" for n, t in types.items()) + "}"
        select = [f"replace({sql_ident(n)}, {sql_str(sentinel)}, chr(13)) AS {sql_ident(n)}"
                  if sentinel else sql_ident(n) for n in names]
        select.append(POSITION_COLUMN)
        if malformed:
            select.append(MALFORMED_COLUMN)
        # Each character takes at most 4 bytes; the engine's own limit is 2 MB by default.
        size = max(2_097_152, 4 * longest + 64)
        con.execute(
            f"""CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(select)}
            FROM read_csv({sql_str(str(clean))}, header = true, auto_detect = false,
                columns = {columns}, delim = ',', quote = '"', escape = '"',
                max_line_size = {size}, buffer_size = {max(size * 4, 1 << 24)})
            ORDER BY {POSITION_COLUMN}"""
        )
    finally:
        clean.unlink(missing_ok=True)


def _unclosed_quote(drop: Drop, line: int, found: str) -> Problem:
    """The file ends inside a quoted value: the drop cannot be read."""
    return Problem(f"{drop.rel}, line {line}", "", "a closing quote for the value that opens "
                   "with '\"'", found, "a quoted value must end with a quote; a quote inside "
                   "it is written twice (\"\").")


def sniff_delimiter(head: str) -> str:
    """The delimiter that splits the header line into the most fields (',' when none does)."""
    first = _first_record(head)
    counts = {d: _count_outside_quotes(first, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] else ","


def _first_record(head: str) -> str:
    """The text of the first record: up to the first line break outside quotes."""
    start = 0
    while True:
        ends = [i for i in (head.find("\n", start), head.find("\r", start)) if i >= 0]
        if not ends:
            return head
        end = min(ends)
        if head.count('"', 0, end) % 2 == 0:
            return head[:end]
        start = end + 1


def _count_outside_quotes(text: str, delimiter: str) -> int:
    return sum(part.count(delimiter) for part in text.split('"')[::2])


def _header(drop: Drop, head: str, delimiter: str) -> list[str]:
    """Column names from the first record: trimmed, unnamed ones 'column0'…, repeats '_1'…."""
    try:
        fields = next(csv.reader(io.StringIO(head), delimiter=delimiter, strict=True))
    except (StopIteration, csv.Error):
        fields = []
    if not any(f.strip() for f in fields):
        raise DataError(Problem(f"{drop.rel}, line 1", "", "a header line naming the columns",
                                _first_record(head), "the first line of a CSV export names the "
                                "columns; export again with headers."))
    if len(fields) > MAX_COLUMNS:
        # The head may end inside a very long header line: then its count is a lower bound.
        _refuse_width(f"{drop.rel}, line 1",
                      None if _first_record(head) == head else len(fields))
    return column_names(fields)


def column_names(fields: list[str], trim: bool = True) -> list[str]:
    """Names for a header's fields: trimmed, unnamed ones 'column0'…, repeats '_1'… (the engine's
    names ignore case, so 'ID' repeats 'id'; the columns a reader adds are taken)."""
    names: list[str] = []
    taken = {c.lower() for c in HIDDEN_COLUMNS}
    for index, field in enumerate(fields):
        name = (field.strip() if trim else field) or f"column{index}"
        base, n = name, 0
        while name.lower() in taken:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
        taken.add(name.lower())
    return names


def _refuse_width(where: str, columns: int | None = None) -> None:
    """Refuse an export wider than MAX_COLUMNS before any work that grows with its width
    (`columns` None: more than MAX_COLUMNS, not counted further)."""
    raise DataError(Problem(
        where, "", f"at most {MAX_COLUMNS:,} columns",
        f"{columns:,} columns" if columns else f"more than {MAX_COLUMNS:,} columns",
        "export only the columns the scorecard reads; a header this wide usually means a wrong "
        "delimiter or a file that is not an export.",
    ))


def _without_bare_cr(drop: Drop, text: _Text) -> tuple[Path, str]:
    """Copy the drop (decompressed) with every lone CR replaced by a stand-in character."""
    import tempfile

    sentinel = next(c for c in ("\ue000", "\ue001", "\ue002", "\uf8ff") if c not in text.head)
    stand_in = sentinel.encode()
    opener: Any = gzip.open if text.compressed else open
    with opener(drop.path, "rb") as source, tempfile.NamedTemporaryFile(
        "wb", suffix=".csv", delete=False
    ) as target:
        carry = b""
        while chunk := source.read(CHUNK):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""
            if carry:
                chunk = chunk[:-1]
            target.write(re.sub(rb"\r(?!\n)", stand_in, chunk))
        target.write(carry)
    return Path(target.name), sentinel


# --- JSON Lines and JSON arrays ------------------------------------------------------------------


def read_jsonl(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> None:
    """Read one JSON object per line; the position is the line number (blank lines count)."""
    import duckdb

    text = _scan_text(drop)
    try:
        # Every line as one text value: raw control characters cannot occur in valid JSON, so
        # chr(1) never splits a valid line.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table}_lines AS SELECT j
            FROM read_csv({sql_str(str(drop.path))}, columns = {{'j': 'VARCHAR'}},
                header = false, auto_detect = false, delim = chr(1), quote = '', escape = '',
                strict_mode = false, compression = {sql_str(_compression(text))})"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table}_raw AS
            SELECT CAST(rowid + 1 AS BIGINT) AS {POSITION_COLUMN}, nullif(trim(j), '') AS j
            FROM {table}_lines ORDER BY rowid"""
        )
        con.execute(f"DROP TABLE {table}_lines")
    except duckdb.Error as error:
        raise DataError(Problem(drop.rel, "", "JSON Lines (one JSON object per line)", None,
                                f"the reader said: {_first_line(error)}")) from None
    bad = con.execute(
        f"""SELECT {POSITION_COLUMN}, j, json_valid(j) FROM {table}_raw
        WHERE j IS NOT NULL AND (NOT json_valid(j) OR json_type(j::JSON) <> 'OBJECT')
        ORDER BY {POSITION_COLUMN} LIMIT 10"""
    ).fetchall()
    if bad:
        con.execute(f"DROP TABLE {table}_raw")
        raise DataError([
            Problem(f"{drop.rel}, line {line}", "", "a JSON object like {\"id\": \"…\", …}",
                    value, "each line of a JSON Lines export holds one record as a JSON object"
                    + ("" if valid else " (this line is not valid JSON)") + ".")
            for line, value, valid in bad
        ])
    _objects_to_table(con, f"(SELECT * FROM {table}_raw WHERE j IS NOT NULL)", table, drop)
    con.execute(f"DROP TABLE {table}_raw")


def read_json_array(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> None:
    """Read a top-level JSON array of objects; the position is the item number (from 1)."""
    import duckdb

    text = _scan_text(drop)
    start = text.head.lstrip()[:1]
    if start != "[":
        raise DataError(Problem(drop.rel, "", "a JSON array of objects ([{…}, {…}])",
                                text.head.strip().splitlines()[0][:40] if text.head.strip()
                                else "",
                                "a file with one object per line is JSON Lines: name it .jsonl "
                                f"or set sources[{drop.source_index}].format: jsonl."))
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table}_items AS SELECT json AS j
            FROM read_json({sql_str(str(drop.path))}, format = 'array', records = false,
                columns = {{'json': 'JSON'}}, maximum_object_size = 1073741824,
                compression = {sql_str(_compression(text))})"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table}_raw AS
            SELECT CAST(rowid + 1 AS BIGINT) AS {POSITION_COLUMN}, j
            FROM {table}_items ORDER BY rowid"""
        )
        con.execute(f"DROP TABLE {table}_items")
    except duckdb.Error as error:
        raise DataError(Problem(drop.rel, "", "a valid JSON array of objects", None,
                                f"the JSON reader said: {_first_line(error)}")) from None
    bad = con.execute(
        f"""SELECT {POSITION_COLUMN}, CAST(j AS VARCHAR) FROM {table}_raw
        WHERE j IS NULL OR json_type(j) <> 'OBJECT' ORDER BY {POSITION_COLUMN} LIMIT 10"""
    ).fetchall()
    if bad:
        con.execute(f"DROP TABLE {table}_raw")
        raise DataError([
            Problem(f"{drop.rel}, item {item}", "", "a JSON object like {\"id\": \"…\", …}",
                    value if value is not None else "null",
                    "every item of the array is one record, written as a JSON object.")
            for item, value in bad
        ])
    _objects_to_table(con, f"{table}_raw", table, drop)
    con.execute(f"DROP TABLE {table}_raw")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else "unknown error"
    return re.sub(r"^[A-Za-z ]*Error: ", "", first)


def id_columns(drop: Drop) -> tuple[str, ...]:
    """The export columns that hold the drop's ids (canonical id fields, as mapped)."""
    source = drop.source
    fields = {"messages": ("message_id", "in_reply_to"), "events": ("case_id",)}.get(
        source.shape, ("id",))
    return tuple(source.columns.get(f, f) for f in fields)


def _objects_to_table(
    con: duckdb.DuckDBPyConnection, source: str, table: str, drop: Drop
) -> None:
    """One text column per key (in order of first appearance) from a table of JSON objects,
    plus INEXACT_COLUMN when some id is a JSON number beyond 2^53 (SPEC §3.4)."""
    rel = drop.rel
    keys = [
        row[0]
        for row in con.execute(
            f"""SELECT key FROM (
                SELECT unnest(json_keys(j)) AS key,
                    generate_subscripts(json_keys(j), 1) AS k, {POSITION_COLUMN} AS p
                FROM {source})
            GROUP BY key ORDER BY min(struct_pack(p := p, k := k))
            LIMIT {MAX_COLUMNS + 1}"""
        ).fetchall()
    ]
    if len(keys) > MAX_COLUMNS:
        _refuse_width(rel)
    select, flags = [], []
    ids = id_columns(drop)
    for key, name in zip(keys, column_names(keys, trim=False)):
        # A JSON pointer (RFC 6901) names any key, even '' or one with quotes or dots.
        path = "/" + key.replace("~", "~0").replace("/", "~1")
        value = f"json_extract(j, {sql_str(path)})"
        select.append(f"{_json_text(value)} AS {sql_ident(name)}")
        if key in ids:
            flags.append(f"CASE WHEN {_inexact_number(value)} THEN {sql_str(key)} END")
    # A dotted path (`dialogHeader.company`) that `columns` or `messages` names reads a field
    # inside the record; a key that is literally so named wins.
    source_config = drop.source
    wanted = [*source_config.columns.values(), *(m.path for m in source_config.messages)]
    taken = set(column_names(keys, trim=False))
    for dotted in dict.fromkeys(c for c in wanted if "." in c and c not in taken):
        path = "".join("/" + part.replace("~", "~0").replace("/", "~1")
                       for part in dotted.split("."))
        found = con.execute(f"SELECT bool_or(json_extract(j, {sql_str(path)}) IS NOT NULL) "
                            f"FROM {source}").fetchone()
        if not (found and found[0]):
            continue  # in no record: a missing column, reported as such
        select.append(f"{_json_text(f'json_extract(j, {sql_str(path)})')} AS {sql_ident(dotted)}")
    select.append(POSITION_COLUMN)
    if flags:
        # Only a drop with such an id gets the column: the others keep their shape.
        inexact = f"list_filter([{', '.join(flags)}], lambda x: x IS NOT NULL)"
        found = con.execute(f"SELECT bool_or(len({inexact}) > 0) FROM {source}").fetchone()
        if found and found[0]:
            select.append(f"nullif({inexact}, []) AS {INEXACT_COLUMN}")
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(select)} FROM {source} "
        f"ORDER BY {POSITION_COLUMN}"
    )


def _json_text(value: str) -> str:
    """SQL rendering one JSON value as the text a person would write; a whole number too
    large for the engine's integers keeps its digits as written (not a double's nearest)."""
    return (
        f"(CASE json_type({value}) WHEN 'VARCHAR' THEN {value} ->> '$' "
        f"WHEN 'NULL' THEN NULL "
        f"WHEN 'DOUBLE' THEN CASE WHEN regexp_full_match(CAST({value} AS VARCHAR), '-?[0-9]+') "
        f"THEN CAST({value} AS VARCHAR) ELSE {_number_text(f'CAST({value} AS DOUBLE)')} END "
        f"ELSE CAST({value} AS VARCHAR) END)"
    )


def _inexact_number(value: str) -> str:
    """SQL telling whether a JSON value is a number beyond 2^53, which most tools hold as a
    double: its last digits may have been lost before the export was written."""
    return (
        f"(json_type({value}) IN ('BIGINT', 'UBIGINT') "
        f"AND abs(CAST({value} AS HUGEINT)) > {EXACT_DOUBLE} "
        f"OR json_type({value}) = 'DOUBLE' AND abs(CAST({value} AS DOUBLE)) > {EXACT_DOUBLE})"
    )


def _number_text(value: str, exact: int = EXACT_DOUBLE) -> str:
    """SQL rendering a DOUBLE: whole numbers without '.0'; NaN as empty. A whole number beyond
    `exact` (2^53 for a double) is written in exponent notation, as its digits are not
    trustworthy: an id like that is then rejected, never read as another id."""
    return (
        f"(CASE WHEN isnan({value}) THEN NULL "
        f"WHEN {value} = trunc({value}) AND abs({value}) <= {exact} "
        f"THEN CAST(CAST({value} AS BIGINT) AS VARCHAR) "
        f"WHEN {value} = trunc({value}) AND NOT isinf({value}) "
        f"THEN regexp_replace(printf('%.16e', {value}), '\\.?0+e', 'e') "
        f"ELSE CAST({value} AS VARCHAR) END)"
    )


# --- Parquet --------------------------------------------------------------------------------------


def read_parquet(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> None:
    """Read a Parquet drop, rendering typed columns as text; the position is the row (from 1)."""
    import duckdb

    source = f"read_parquet({sql_str(str(drop.path))}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as error:
        with drop.path.open("rb") as handle:
            magic = handle.read(4)
        hint = ("the file does not start like a Parquet file; check that the right file was "
                "exported." if magic != b"PAR1" else
                f"the Parquet reader said: {_first_line(error)}")
        raise DataError(Problem(drop.rel, "", "a readable Parquet file", None, hint)) from None
    if len(described) - 1 > MAX_COLUMNS:
        _refuse_width(drop.rel, len(described) - 1)
    select = [
        f"{_typed_text(sql_ident(name), kind)} AS {sql_ident(name)}"
        for name, kind, *_ in described
        if name != "file_row_number"
    ]
    select.append(f"CAST(file_row_number + 1 AS BIGINT) AS {POSITION_COLUMN}")
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(select)} FROM {source} "
            "ORDER BY file_row_number"
        )
    except duckdb.Error as error:
        raise DataError(Problem(drop.rel, "", "a readable Parquet file", None,
                                f"the Parquet reader said: {_first_line(error)}")) from None


def _typed_text(column: str, kind: str) -> str:
    """SQL rendering a typed engine column as text the way a person would write it."""
    kind = kind.upper()
    if kind == "DOUBLE":
        return _number_text(f"CAST({column} AS DOUBLE)")
    if kind in ("FLOAT", "REAL"):
        return _number_text(f"CAST({column} AS DOUBLE)", EXACT_FLOAT)
    if kind.startswith("DECIMAL"):
        text = f"CAST({column} AS VARCHAR)"
        return f"(CASE WHEN {text} LIKE '%.%' THEN rtrim(rtrim({text}, '0'), '.') ELSE {text} END)"
    if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
        return (f"(strftime(timezone('UTC', {column}), '%Y-%m-%d %H:%M:%S') || "
                f"CASE WHEN microsecond({column}) % 1000000 <> 0 THEN "
                f"'.' || lpad(CAST(microsecond({column}) % 1000000 AS VARCHAR), 6, '0') "
                f"ELSE '' END || '+00:00')")
    if kind.startswith("TIMESTAMP"):
        return f"CAST(CAST({column} AS TIMESTAMP) AS VARCHAR)"
    if kind.endswith("[]") or kind.startswith(("STRUCT", "MAP", "UNION")):
        return f"CAST(to_json({column}) AS VARCHAR)"
    if kind == "BLOB":
        return f"decode({column})"
    return f"CAST({column} AS VARCHAR)"


# --- Excel ----------------------------------------------------------------------------------------


def read_xlsx(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> None:
    """Read the first sheet of an .xlsx workbook; row 1 names the columns, rows keep their number.

    Uses python-calamine (a Rust reader); the cells are turned into text in Python, which is
    fine for workbooks (at most 1,048,576 rows by Excel's own limit).
    """
    import numpy as np
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(drop.path))
        sheet = workbook.get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        with drop.path.open("rb") as handle:
            magic = handle.read(4)
        hint = ("the file is not an .xlsx workbook (an .xlsx is a zip archive); old .xls "
                "workbooks must be saved as .xlsx." if magic != b"PK\x03\x04" else
                f"the workbook reader said: {str(error).strip().splitlines()[0]}")
        raise DataError(Problem(drop.rel, "", "a readable .xlsx workbook", None, hint)) from None
    first = next((i for i, row in enumerate(rows) if any(_cell(c) for c in row)), None)
    if first is None:
        raise DataError(Problem(drop.rel, "", _EXPECTED_ROWS["xlsx"], "an empty sheet",
                                "the first sheet must hold the export; move it to the front."))
    header = [_cell(c).strip() for c in rows[first]]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        _refuse_width(f"{drop.rel}, row {first + 1}", len(header))
    names = column_names(header)
    width = len(names)
    body = [(number, row) for number, row in enumerate(rows[first + 1:], start=first + 2)
            if any(_cell(c) for c in row)]
    columns: dict[str, Any] = {
        name: np.array([(_cell(row[i]) or None) if i < len(row) else None for _, row in body],
                       dtype=object)
        for i, name in enumerate(names)
    }
    extra = [(n, row) for n, row in body if any(_cell(c) for c in row[width:])]
    if extra:
        number, row = extra[0]
        raise DataError(Problem(
            f"{drop.rel}, row {number}", "", f"at most {width} values like the header row",
            ", ".join(_cell(c) for c in row if _cell(c)),
            "every column with values needs a name in row 1.",
        ))
    positions = np.array([n for n, _ in body], dtype=np.int64)
    frame = {f"c{i}": columns[name] for i, name in enumerate(names)}
    frame[POSITION_COLUMN] = positions
    view = f"{table}_xlsx"
    con.register(view, frame)
    try:
        select = ", ".join(
            f"CAST(c{i} AS VARCHAR) AS {sql_ident(name)}" for i, name in enumerate(names)
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT {select}, "
            f"CAST({POSITION_COLUMN} AS BIGINT) AS {POSITION_COLUMN} FROM {view} "
            f"ORDER BY {POSITION_COLUMN}"
        )
    finally:
        con.unregister(view)


def _cell(value: object) -> str:
    """One xlsx cell as the text a person would type (whole numbers without '.0')."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) <= EXACT_DOUBLE:
            return str(int(value))
        if value.is_integer() and not math.isinf(value):
            # Beyond 2^53 a spreadsheet's digits are not trustworthy (Excel keeps 15): written
            # in exponent notation, such an id is rejected rather than read as another id.
            return re.sub(r"\.?0+e", "e", f"{value:.16e}")
        return repr(value)
    if isinstance(value, datetime):
        value = _round_ms(value)
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{value.microsecond // 1000:03d}" if value.microsecond else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _round_ms(value: datetime) -> datetime:
    """Excel stores times as fractions of a day; round away float noise to the millisecond."""
    micro = value.microsecond
    rounded = round(micro / 1000) * 1000
    return value.replace(microsecond=0) + timedelta(microseconds=rounded)


READERS = {
    "csv": read_csv,
    "jsonl": read_jsonl,
    "json": read_json_array,
    "parquet": read_parquet,
    "xlsx": read_xlsx,
}
