"""Drill-through: the interactions behind red and amber response figures (SPEC §6.7)."""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from generator.cache import Cache, code_digest
from generator.config import Config
from generator.errors import BuildError
from generator.model import DrillList, DrillRow, Period
from generator.sqltext import segment_sql, sql_ident, sql_str

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

#: The figures whose red or amber status a list of late and unanswered interactions explains.
RESPONSE_METRICS = ("response_rate", "sla_attainment", "backlog", "frt_median", "frt_p90",
                    "frt_mean")


#: Interactions of each list kept for its page (the engine writes the whole list to its CSV).
MAX_DRILL_ROWS_SHOWN = 200
#: Header of a drill-through CSV: the fields of DrillRow.
DRILL_COLUMNS = tuple(f.name for f in fields(DrillRow))
#: Text columns of `drill_rows`. A list with '#' or CR in one of them is written by Python:
#: the engine quotes such values, Python's csv module does not.
_TEXT_COLUMNS = ("source", "id", "channel", "clock", "state", "file")


def compute_drill(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    dimensions: tuple[str, ...],
    periods: tuple[Period, ...],
) -> tuple[DrillList, ...]:
    """Late, overdue and waiting interactions per red/amber (period, segment) of the headline.

    The whole lists stay in the engine table `drill_rows` (see :func:`write_drill_csvs`); each
    DrillList keeps its counts and its first MAX_DRILL_ROWS_SHOWN interactions.
    """
    headline = config.site.periods[0]
    recent = periods[-config.site.history:]
    if not recent:
        return ()
    _create_drill_rows(con, config, dimensions, recent[0])
    counts: dict[int, list[tuple[str, int]]] = {}
    keys: dict[int, tuple[str, str, str]] = {}
    for list_no, period, dimension, segment, state, n in con.execute(
        "SELECT list_no, any_value(period), any_value(dimension), any_value(segment), state, "
        "count(*) FROM drill_rows GROUP BY list_no, state ORDER BY list_no, state"
    ).fetchall():
        counts.setdefault(list_no, []).append((state, n))
        keys[list_no] = (period, dimension, segment)
    rows: dict[int, list[DrillRow]] = {}
    for list_no, *values in con.execute(
        f"SELECT list_no, {', '.join(DRILL_COLUMNS)} FROM drill_rows "
        f"WHERE seq <= {MAX_DRILL_ROWS_SHOWN} ORDER BY list_no, seq"
    ).fetchall():
        values[4] = values[4] or ""  # first_response_at: '' when unanswered
        rows.setdefault(list_no, []).append(DrillRow(*values))
    return tuple(
        DrillList(headline, *keys[k], rows=tuple(rows[k]), counts=tuple(counts[k]))
        for k in sorted(keys)
    )


def _create_drill_rows(
    con: duckdb.DuckDBPyConnection, config: Config, dimensions: tuple[str, ...], since: Period
) -> None:
    """Create `drill_rows`: every listed interaction, numbered by list and within its list."""
    headline = config.site.periods[0]
    metrics = ", ".join(sql_str(m) for m in RESPONSE_METRICS)
    tz = sql_str(config.site.timezone)
    column = sql_ident("p_" + headline)
    selects = []
    for dimension in ("all",) + dimensions:
        match = "true" if dimension == "all" else f"k.segment = {segment_sql(dimension, 'j')}"
        selects.append(
            f"SELECT k.*, j.* FROM keys k JOIN judged j ON k.dimension = {sql_str(dimension)} "
            f"AND j.{column} = k.period_start AND {match} "
            "WHERE j.excluded_by IS NULL AND (j.first_response_at IS NULL OR NOT j.within_target)"
        )
    list_order = "period_start, dimension <> 'all', dimension, segment <> 'all', segment"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE drill_rows AS
        WITH keys AS (
            SELECT *, row_number() OVER (ORDER BY {list_order}) AS list_no FROM (
                SELECT DISTINCT period, period_start, dimension, segment FROM figures
                WHERE granularity = {sql_str(headline)} AND status IN ('red', 'amber')
                  AND metric IN ({metrics}) AND period_start >= ?
            )
        )
        SELECT list_no,
            row_number() OVER (PARTITION BY list_no ORDER BY u.received_at, u.source, u.id)
                AS seq,
            period, dimension, segment, source, id, channel,
            strftime(timezone({tz}, received_at), '%Y-%m-%d %H:%M:%S') AS received_at,
            strftime(timezone({tz}, first_response_at), '%Y-%m-%d %H:%M:%S')
                AS first_response_at,
            frt_minutes AS minutes, target_minutes, target_clock AS clock,
            CASE WHEN first_response_at IS NOT NULL THEN 'late'
                 WHEN sla_eligible THEN 'overdue' ELSE 'waiting' END AS state,
            file, line
        FROM ({" UNION ALL ".join(selects)}) AS u
        ORDER BY list_no, seq
        """,
        [since.start],
    )


def write_drill_csvs(
    con: duckdb.DuckDBPyConnection,
    drills: tuple[DrillList, ...],
    folder: Path,
    cache: Cache | None = None,
) -> tuple[DrillList, ...]:
    """Write each whole list of `drill_rows` to `folder/drill-<n>.csv`; return them with `csv`.

    The engine writes the files; the bytes are those of `render.csv_bytes` (LF line ends,
    numbers in shortest round-trip form, empty for None, csv-module quoting). With a cache, a
    list whose rows are those of a list the cache holds is copied from it instead: after a new
    drop only the lists of the periods it touched are written again. The cache keeps the lists
    of this build only (see :func:`_cached_lists`).
    """
    if not drills:
        return ()
    # The numbers of the lists that have rows (a red figure may list none), in list order.
    numbers = [n for (n,) in con.execute(
        "SELECT DISTINCT list_no FROM drill_rows ORDER BY list_no").fetchall()]
    if len(numbers) != len(drills):
        raise BuildError(f"drill-through lists: expected {len(drills)} in the engine, found "
                         f"{len(numbers)}.")
    paths = {n: folder / f"drill-{n}.csv" for n in numbers}
    if cache is not None and cache.folder is None:
        cache = None  # caching is off
    keys = _list_keys(con, cache) if cache is not None else {}
    found = _cached_lists(cache, keys, paths) if cache is not None else set()
    missing = [n for n in numbers if n not in found]
    if cache is not None:
        log.info("drill-through lists: %d written, %d from the cache", len(missing), len(found))
    by_python = {n for (n,) in con.execute(
        "SELECT DISTINCT list_no FROM drill_rows WHERE "
        + " OR ".join(f"regexp_matches({c}, '[#\\r]')" for c in _TEXT_COLUMNS)
    ).fetchall()} - found
    parts = folder / "drill-parts"
    if len(missing) > len(by_python):
        _copy_partitioned(con, parts, by_python | found)
    for list_no in missing:
        path = paths[list_no]
        if list_no in by_python:
            cursor = con.execute(f"SELECT {', '.join(DRILL_COLUMNS)} FROM drill_rows "
                                 f"WHERE list_no = {list_no} ORDER BY seq")
            _write_csv_rows(path, cursor)
        else:
            _claim_part(con, parts / f"list_no={list_no}", list_no, path)
        if cache is not None:
            cache.store_bytes(DRILL_KIND, keys[list_no], ".csv", path.read_bytes())
    con.execute("DROP TABLE drill_rows")  # its memory goes back to the engine's later stages
    return tuple(replace(drill, csv=paths[n]) for n, drill in zip(numbers, drills))


#: Cache folder of the drill-through CSVs (`<cache>/drill/<key>.csv`).
DRILL_KIND = "drill"


def _list_keys(con: duckdb.DuckDBPyConnection, cache: Cache) -> dict[int, str]:
    """A cache key per list of `drill_rows`, from a digest of all its rows.

    The digest is two 64-bit aggregates (xor and sum) of the engine's hash of each row with its
    position, and the row count: cheap next to writing the CSV, and it changes when any value,
    the order or the length of the list does. The engine's hash may change between engine
    versions, so the version is part of the key, as is this module's code.
    """
    import duckdb

    row = ", ".join(("seq",) + DRILL_COLUMNS)
    code = code_digest(__file__)
    return {
        list_no: cache.key(DRILL_KIND, duckdb.__version__, code, f"{xor}:{total}:{count}")
        for list_no, xor, total, count in con.execute(
            f"SELECT list_no, bit_xor(h), sum(CAST(h AS HUGEINT)), count(*) FROM "
            f"(SELECT list_no, hash({row}) AS h FROM drill_rows) GROUP BY list_no"
        ).fetchall()
    }


def _cached_lists(cache: Cache, keys: dict[int, str], paths: dict[int, Path]) -> set[int]:
    """Write the lists the cache holds to their paths; return their numbers.

    Entries that no list of this build has are deleted (the folder holds one build's lists,
    not every list ever written); a corrupt entry is reported and written again.
    """
    found = set()
    for list_no, key in keys.items():
        data = cache.load_bytes(DRILL_KIND, key, ".csv")
        if data is not None:
            paths[list_no].write_bytes(data)
            found.add(list_no)
    cache.keep_only(DRILL_KIND, set(keys.values()), ".csv")
    return found


def _claim_part(
    con: duckdb.DuckDBPyConnection, part: Path, list_no: int, path: Path
) -> None:
    """Move a list's file out of the partitioned COPY; if the engine split it, COPY it alone."""
    files = sorted(part.iterdir()) if part.is_dir() else []
    if len(files) == 1:
        os.replace(files[0], path)
        return
    con.execute(f"COPY (SELECT {_csv_columns()} FROM drill_rows WHERE list_no = {list_no} "
                f"ORDER BY seq) TO {sql_str(path.as_posix())} (HEADER, DELIMITER ',')")


def _copy_partitioned(
    con: duckdb.DuckDBPyConnection, parts: Path, skip: set[int]
) -> None:
    """One COPY of every list but `skip` into `parts/list_no=<n>/data_0.csv`, rows in order.

    `drill_rows` was created sorted and the engine preserves insertion order, so on one
    thread the partitioned write appends each list's rows in order (many threads would
    interleave them); sorting again would cost time and memory for nothing.
    """
    where = f"WHERE list_no NOT IN ({', '.join(map(str, sorted(skip)))})" if skip else ""
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute("SET threads = 1")
    try:
        con.execute(
            f"COPY (SELECT list_no, {_csv_columns()} FROM drill_rows {where}) "
            f"TO {sql_str(parts.as_posix())} "
            "(FORMAT csv, HEADER, DELIMITER ',', PARTITION_BY (list_no))"
        )
    finally:
        con.execute(f"SET threads = {int(threads[0]) if threads else 1}")


def _csv_columns() -> str:
    """The SELECT list of a drill CSV, each value as the text csv_bytes would write."""
    def number(column: str) -> str:
        # Whole numbers without '.0'; the engine's double text is the shortest round trip.
        return (f"CASE WHEN {column} = trunc({column}) AND abs({column}) < 1e15 "
                f"THEN CAST(CAST({column} AS HUGEINT) AS VARCHAR) "
                f"ELSE CAST({column} AS VARCHAR) END")

    text = {c: f"nullif({c}, '')" for c in DRILL_COLUMNS}  # the engine quotes '' as ""
    text.update(minutes=number("minutes"), target_minutes=number("target_minutes"),
                line="CAST(line AS VARCHAR)")
    return ", ".join(f"{text[c]} AS {sql_ident(c)}" for c in DRILL_COLUMNS)


def _write_csv_rows(path: Path, cursor: duckdb.DuckDBPyConnection) -> None:
    """Write a drill CSV from an engine cursor in chunks, as csv_bytes would."""
    from generator.render import csv_value

    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(DRILL_COLUMNS)
        while chunk := cursor.fetchmany(10_000):
            writer.writerows([csv_value(v) for v in row] for row in chunk)


def interactions_sql(config: Config) -> str:
    """SELECT of data/interactions.csv: every kept interaction with its computed values."""
    tz = sql_str(config.site.timezone)
    periods = ", ".join(
        f"{sql_ident('p_' + g)} AS {sql_ident(g + '_start')}" for g in config.site.periods
    )
    return f"""
        SELECT source, id, channel,
            strftime(timezone({tz}, received_at), '%Y-%m-%dT%H:%M:%S') AS received_at,
            strftime(timezone({tz}, first_response_at), '%Y-%m-%dT%H:%M:%S')
                AS first_response_at,
            strftime(timezone({tz}, resolved_at), '%Y-%m-%dT%H:%M:%S') AS resolved_at,
            {periods},
            excluded_by AS exclusion_rule, blackout, target_rule, target_minutes,
            target_clock AS clock, target_calendar AS calendar, frt_minutes,
            strftime(timezone({tz}, deadline), '%Y-%m-%dT%H:%M:%S') AS deadline,
            within_target, resolution_hours, file, line
        FROM judged
        ORDER BY received_at, source, id
    """
