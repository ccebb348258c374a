"""The machine-readable outputs of SPEC §7: figures.csv, figures.json and summary.json."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from generator.config.loader import Config
from generator.figures.metrics import latest_complete
from generator.model import BuildInfo, Figure, Figures, QualityReport
from generator.sqltext import number_text_sql

if TYPE_CHECKING:
    import duckdb

FIGURE_COLUMNS: tuple[str, ...] = (
    "granularity", "period", "period_start", "period_end", "partial", "dimension", "segment",
    "metric", "value", "n", "goal", "status", "previous_value", "change", "change_unit",
    "year_ago_value", "year_ago_change",
)
NUMBER_COLUMNS = frozenset(
    {"value", "n", "goal", "previous_value", "change", "year_ago_value", "year_ago_change"}
)


def format_number(value: float | int | None) -> str:
    """Python's shortest round-trip text with a dot (`0.875`, `41.5`, `12`); empty for None."""
    if value is None:
        return ""
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _cell(name: str, value: object) -> object:
    if name in NUMBER_COLUMNS:
        return format_number(value)  # type: ignore[arg-type]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def figures_csv(rows: tuple[Figure, ...]) -> bytes:
    """figures.csv: one row per granularity × period × dimension × segment × metric."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIGURE_COLUMNS)
    for row in rows:
        writer.writerow([_cell(c, getattr(row, c)) for c in FIGURE_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def _json_value(name: str, value: object) -> object:
    if name in NUMBER_COLUMNS:
        return _json_number(value)  # type: ignore[arg-type]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _json_number(value: float | int | None) -> float | int | None:
    """A number as figures.csv writes it, for JSON: whole numbers as ints (`12`, not `12.0`)."""
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 1e15 else number


def figures_json(rows: tuple[Figure, ...]) -> bytes:
    """figures.json: the rows of figures.csv as objects (null for empty cells).

    The bytes of ``_dump`` (indent 1, sorted keys), but each flat object is encoded by the C
    encoder with separators that give the same layout: ``indent`` alone selects the slow
    pure-Python encoder.
    """
    if not rows:
        return _dump([])
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False,
                              separators=(",\n  ", ": ")).encode
    objects = [
        "{\n  " + encode({c: _json_value(c, getattr(row, c)) for c in FIGURE_COLUMNS})[1:-1]
        + "\n }"
        for row in rows
    ]
    return ("[\n " + ",\n ".join(objects) + "\n]\n").encode("utf-8")


#: The text columns of `figures`; a cell with one of these characters is quoted by the CSV
#: writer or escaped by the JSON encoder, so `write_figures_files` leaves such tables to Python.
_TEXT_COLUMNS = ("granularity", "period", "dimension", "segment", "metric", "status",
                 "change_unit")
_SPECIAL = "[\\x00-\\x1f,\"\\\\]"


def write_figures_files(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[Path, Path] | None:
    """Have the engine write figures.csv and figures.json (the bytes of :func:`figures_csv` and
    :func:`figures_json`) from the table `figures` into `folder`; return their paths.

    The engine formats each row's CSV line and JSON object (the 28,000 rows at 1M interactions
    in a fraction of the time Python takes, on its own thread), and Python writes them out in
    chunks, so that memory does not grow with the files. Numbers are the engine's shortest
    round-trip text, the same as Python's. Nothing is written, and None returned, for a table
    the two could disagree on: no rows, a text cell with a character that CSV quotes or JSON
    escapes (a comma, a quote, a backslash, a control character), or a number that is not
    finite.
    """
    def cell(column: str, json: bool) -> str:
        empty = "null" if json else ""
        if column in NUMBER_COLUMNS:
            return f"coalesce({number_text_sql(column)}, '{empty}')"
        if column == "partial":
            return (f"CASE WHEN partial IS NULL THEN '{empty}' "
                    "WHEN partial THEN 'true' ELSE 'false' END")
        text = (f"strftime({column}, '%Y-%m-%d')" if column in ("period_start", "period_end")
                else column)
        if json:
            return f"CASE WHEN {column} IS NULL THEN 'null' ELSE '\"' || {text} || '\"' END"
        return f"coalesce({text}, '')"

    plain = " AND ".join(f"NOT coalesce(regexp_matches({c}, '{_SPECIAL}'), false)"
                         for c in _TEXT_COLUMNS)
    finite = " AND ".join(f"coalesce(isfinite(CAST({c} AS DOUBLE)), true)"
                          for c in FIGURE_COLUMNS if c in NUMBER_COLUMNS)
    found = con.execute(f"SELECT count(*), bool_and({plain} AND {finite}) FROM figures").fetchone()
    if found is None or not found[0] or not found[1]:
        return None
    # One concat() per row, not a chain of ||: each || makes a new string.
    line = "concat(" + ", ',', ".join(cell(c, json=False) for c in FIGURE_COLUMNS) + ", chr(10))"
    members = ", ',' || chr(10) || '  ', ".join(
        f"'\"{c}\": ', {cell(c, json=True)}" for c in sorted(FIGURE_COLUMNS))
    cursor = con.execute(f"SELECT {line}, concat('{{' || chr(10) || '  ', {members}, "
                         "chr(10) || ' }') FROM figures ORDER BY rowid")
    csv_path, json_path = folder / "figures.csv", folder / "figures.json"
    with (csv_path.open("w", encoding="utf-8", newline="") as csv_file,
          json_path.open("w", encoding="utf-8", newline="") as json_file):
        csv_file.write(",".join(FIGURE_COLUMNS) + "\n")
        json_file.write("[\n ")
        separator = ""
        while chunk := cursor.fetchmany(10_000):
            csv_file.write("".join(line for line, _ in chunk))
            json_file.write(separator + ",\n ".join(obj for _, obj in chunk))
            separator = ",\n "
        json_file.write("\n]\n")
    return csv_path, json_path


def summary_json(
    figures: Figures, quality: QualityReport, info: BuildInfo, headline: str, policy_hash: str
) -> bytes:
    """summary.json: build metadata and the statuses of the latest complete headline period."""
    period = latest_complete(figures.periods.get(headline, ()))
    statuses = []
    if period is not None:
        for row in figures.rows:
            if row.granularity == headline and row.period == period.label:
                statuses.append(
                    {"period": row.period, "dimension": row.dimension, "segment": row.segment,
                     "metric": row.metric,
                     "value": _json_value("value", row.value),
                     "goal": _json_value("goal", row.goal), "status": row.status}
                )
    counts: dict[str, int] = {}
    for entry in statuses:
        status = str(entry["status"])
        counts[status] = counts.get(status, 0) + 1
    summary = {
        "tool": "carecard",
        "version": info.version,
        "built_at": info.built_at,
        "data_through": quality.data_through.isoformat() if quality.data_through else None,
        "data_through_explicit": quality.data_through_explicit,
        "policy_sha256": policy_hash,
        "inputs": [
            {"source": d.source, "file": d.file, "sha256": d.sha256, "rows_read": d.read,
             "kept": d.kept, "superseded": d.superseded, "rejected": d.rejected}
            for d in quality.drops
        ],
        "rows_read": quality.rows_read,
        "rows_rejected": quality.rows_rejected,
        "headline_granularity": headline,
        "latest_complete_period": period.label if period else None,
        "status_counts": dict(sorted(counts.items())),
        "statuses": statuses,
    }
    return _dump(summary)


REJECTED_COLUMNS = ("source", "file", "position", "field", "column", "reason", "message")


def rejected_csv(quality: QualityReport) -> bytes:
    """rejected.csv: every rejected row with its reason and message."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REJECTED_COLUMNS)
    for r in quality.rejections:
        writer.writerow([getattr(r, c) for c in REJECTED_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def interactions_csv(con: duckdb.DuckDBPyConnection, config: Config) -> bytes:
    """interactions.csv: every kept interaction with its computed values (engine-written)."""
    with tempfile.TemporaryDirectory(prefix="carecard-") as folder:
        path = Path(folder) / "interactions.csv"
        write_interactions_csv(con, config, path)
        return path.read_bytes()


def write_interactions_csv(con: duckdb.DuckDBPyConnection, config: Config, path: Path) -> None:
    """Have the engine write interactions.csv to `path` (it never passes through Python)."""
    from generator.figures.drill import interactions_sql

    target = path.as_posix().replace("'", "''")
    con.execute(f"COPY ({interactions_sql(config)}) TO '{target}' (HEADER, DELIMITER ',')")


def _dump(value: object) -> bytes:
    return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
