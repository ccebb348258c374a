"""The machine-readable outputs of SPEC §7: figures.csv, figures.json and summary.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from generator.config.loader import Config
from generator.csvtext import CsvWriter, csv_bytes
from generator.figures.metrics import latest_complete
from generator.model import BuildInfo, Figure, Figures, QualityReport
from generator.site.digest import digest_markdown

if TYPE_CHECKING:
    import duckdb

FIGURE_COLUMNS: tuple[str, ...] = (
    "granularity", "period", "period_start", "period_end", "partial", "dimension", "segment",
    "metric", "value", "n", "goal", "status", "previous_value", "change", "change_unit",
    "year_ago_value", "year_ago_change",
)
HOURLY_COLUMNS: tuple[str, ...] = (
    "dimension", "segment", "weekday", "hour", "metric", "value", "n",
)
BRACKET_COLUMNS: tuple[str, ...] = (
    "granularity", "period", "period_start", "period_end", "partial", "dimension", "segment",
    "bracket", "upper_minutes", "count",
)
#: Rows of interactions.csv fetched from the engine at a time.
INTERACTION_CHUNK = 10_000
NUMBER_COLUMNS = frozenset(
    {"value", "n", "goal", "previous_value", "change", "year_ago_value", "year_ago_change",
     "upper_minutes", "count", "weekday", "hour"}
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
    writer = CsvWriter(FIGURE_COLUMNS)
    for row in rows:
        writer.writerow([_cell(c, getattr(row, c)) for c in FIGURE_COLUMNS])
    return writer.getvalue()


def hourly_csv(figures: Figures) -> bytes:
    """hourly.csv: the hour-of-week view, one row per segment × weekday × hour × metric."""
    writer = CsvWriter(HOURLY_COLUMNS)
    writer.writerows([_cell(c, getattr(row, c)) for c in HOURLY_COLUMNS]
                     for row in figures.hourly)
    return writer.getvalue()


def brackets_csv(figures: Figures) -> bytes:
    """brackets.csv: actionable interactions per period, segment and first-response bracket."""
    writer = CsvWriter(BRACKET_COLUMNS)
    writer.writerows([_cell(c, getattr(row, c)) for c in BRACKET_COLUMNS]
                     for row in figures.brackets)
    return writer.getvalue()


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


def summary_json(
    figures: Figures, quality: QualityReport, info: BuildInfo, headline: str, policy_hash: str,
    people: str = "",
) -> bytes:
    """summary.json: build metadata and the statuses of the latest complete headline period
    (of every segment but the people's: a CI gate or badge judges the team, not a person)."""
    period = latest_complete(figures.periods.get(headline, ()))
    statuses = []
    if period is not None:
        for row in figures.rows:
            if (row.granularity == headline and row.period == period.label
                    and row.dimension != people):
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
             "kept": d.kept, "superseded": d.superseded, "rejected": d.rejected,
             "before_since": d.before_since, "retracted": d.retracted}
            for d in quality.drops
        ],
        "rows_read": quality.rows_read,
        "rows_rejected": quality.rows_rejected,
        "rows_before_since": quality.rows_before_since,
        "rows_retracted": quality.rows_retracted,
        "headline_granularity": headline,
        "latest_complete_period": period.label if period else None,
        "status_counts": dict(sorted(counts.items())),
        "statuses": statuses,
    }
    return _dump(summary)


REJECTED_COLUMNS = ("source", "file", "position", "field", "column", "reason", "message")


def rejected_csv(quality: QualityReport) -> bytes:
    """rejected.csv: every rejected row with its reason and message."""
    return csv_bytes(REJECTED_COLUMNS,
                     ([getattr(r, c) for c in REJECTED_COLUMNS] for r in quality.rejections))


def interactions_csv(con: duckdb.DuckDBPyConnection, config: Config) -> bytes:
    """interactions.csv: every kept interaction with its computed values (and its dimensions
    but the people's: site.privacy.people), fetched from the engine in chunks and written by
    the rules of every CSV (generator.csvtext)."""
    from generator.figures.drill import interactions_sql
    from generator.figures.metrics import published_dimensions
    from generator.figures.people import without_people

    dimensions = without_people(published_dimensions(config), config.site.people)
    cursor = con.execute(interactions_sql(config, dimensions))
    writer = CsvWriter(column[0] for column in cursor.description)
    while chunk := cursor.fetchmany(INTERACTION_CHUNK):
        writer.writerows(chunk)
    return writer.getvalue()


def data_files(
    put: Callable[[str, bytes], None], config: Config, figures: Figures,
    quality: QualityReport, info: BuildInfo, policy_hash: str, interactions: bytes | None,
) -> dict[str, Any]:
    """Hand the files of data/ (SPEC §7) to `put`; return summary.json's content."""
    summary = summary_json(figures, quality, info, config.site.periods[0], policy_hash,
                           config.site.people_dimension)
    put("data/figures.csv", figures_csv(figures.rows))
    put("data/figures.json", figures_json(figures.rows))
    put("data/summary.json", summary)
    put("data/rejected.csv", rejected_csv(quality))
    put("data/hourly.csv", hourly_csv(figures))
    put("data/brackets.csv", brackets_csv(figures))
    put("data/digest.md", digest_markdown(config, figures, quality).encode("utf-8"))
    put("data/badge.svg", _badge(config, figures))
    if interactions is not None:
        put("data/interactions.csv", interactions)
    loaded: dict[str, Any] = json.loads(summary)
    return loaded


def _badge(config: Config, figures: Figures) -> bytes:
    from generator.site.badge import status_badge

    rows = [r for r in headline_statuses(figures, config.site.periods[0]) if r.dimension == "all"]
    label = rows[0].period if rows else "scorecard"
    return status_badge(label, rows)


def headline_statuses(figures: Figures, headline: str) -> list[Figure]:
    """Figures of every segment of the latest complete period of the headline granularity."""
    period = latest_complete(figures.periods.get(headline, ()))
    if period is None:
        return []
    return [r for r in figures.rows if r.granularity == headline and r.period == period.label]


def _dump(value: object) -> bytes:
    return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
