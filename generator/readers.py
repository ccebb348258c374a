"""Load one export drop, whatever its format, into an engine table of text columns.

Each reader creates a table with every export column as VARCHAR (cells exactly as written;
empty cells may be NULL) plus ``__position``: where the record starts in the file — the line
for CSV (the header is line 1) and JSON Lines, the sheet row for xlsx, the item number (from 1)
for JSON arrays. :data:`POSITION_WORD` names the unit per format for messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.errors import DataError, Problem

if TYPE_CHECKING:
    import duckdb

    from generator.sources import Drop

POSITION_COLUMN = "__position"
POSITION_WORD: dict[str, str] = {
    "csv": "line", "jsonl": "line", "json": "item", "parquet": "row", "xlsx": "row",
}


def sql_str(value: str) -> str:
    """Quote text as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """Quote a name as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def drop_format(drop: Drop) -> str:
    """The drop's format: the source's explicit `format`, else by file extension."""
    if drop.source.format != "auto":
        return drop.source.format
    name = drop.path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"),
                     (".parquet", "parquet"), (".xlsx", "xlsx")):
        if name.endswith(ext):
            return fmt
    return "csv"


def read_drop(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> str:
    """Create `table` from the drop; return the position word ('line', 'row' or 'item')."""
    fmt = drop_format(drop)
    if fmt != "csv":
        raise DataError(
            Problem(drop.rel, "", "a CSV export", fmt,
                    "this version of carecard reads CSV drops only.")
        )
    read_csv(con, drop, table)
    return POSITION_WORD[fmt]


def read_csv(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> None:
    """Read a CSV drop as text, keeping row order, and number each record's first line."""
    import duckdb

    options = ["header = true", "all_varchar = true", "auto_detect = true"]
    if drop.source.delimiter:
        options.append(f"delim = {sql_str(drop.source.delimiter)}")
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {table}_raw AS SELECT * FROM read_csv("
            f"{sql_str(str(drop.path))}, {', '.join(options)})"
        )
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unknown error"
        raise DataError(
            Problem(drop.rel, "", "a readable CSV export with a header line", None,
                    f"the CSV reader said: {first_line}")
        ) from None
    columns = [row[0] for row in con.execute(f"DESCRIBE {table}_raw").fetchall()]
    newlines = " + ".join(
        f"coalesce(length({sql_ident(c)}) - length(replace({sql_ident(c)}, chr(10), '')), 0)"
        for c in columns
    )
    # The header is line 1; a record starts on the line after the previous record's last line.
    con.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
        SELECT * EXCLUDE (__rowid, __newlines),
            CAST(2 + __rowid + coalesce(sum(__newlines) OVER (ORDER BY __rowid
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT)
                AS {POSITION_COLUMN}
        FROM (SELECT *, rowid AS __rowid, {newlines} AS __newlines FROM {table}_raw)
        ORDER BY __rowid"""
    )
    con.execute(f"DROP TABLE {table}_raw")
    _require_rows(con, drop, table)


def _require_rows(con: duckdb.DuckDBPyConnection, drop: Drop, table: str) -> None:
    count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    if not count or count[0] == 0:
        raise DataError(
            Problem(drop.rel, "", "a header line and at least one data row", "no data rows",
                    "remove the empty file or export again.")
        )
