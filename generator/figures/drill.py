"""Drill-through: the interactions behind red and amber response figures (SPEC §6.7).

Receives the engine's tables `judged` (every kept interaction with its target) and `figures`;
hands on one `DrillList` per red or amber response figure of the headline granularity's
shown periods: its counts, the interactions its page lists, and the whole list as CSV bytes
(the fixed columns of DrillRow, then the interaction's dimensions).
A list's CSV is cached by a digest of its rows, so after a new drop only the lists of the
periods it changed are fetched and written again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import fields
from typing import TYPE_CHECKING

from generator.cache import Cache, code_version
from generator.config.loader import Config
from generator.csvtext import csv_bytes
from generator.model import DrillList, DrillRow, Period
from generator.sqltext import attribute_column, segment_sql, sql_ident, sql_str

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

#: The figures whose red or amber status a list of late and unanswered interactions explains.
RESPONSE_METRICS = ("response_rate", "sla_attainment", "backlog", "frt_median", "frt_p90",
                    "frt_mean")


#: Interactions of each list shown on its page (its CSV holds the whole list).
MAX_DRILL_ROWS_SHOWN = 200
#: Header of a drill-through CSV: the fields of DrillRow.
DRILL_COLUMNS = tuple(f.name for f in fields(DrillRow))


def dimension_columns(dimensions: Iterable[str], fixed: Iterable[str]) -> list[tuple[str, str]]:
    """(engine column, CSV column) of each dimension other than channel written beside the
    `fixed` columns of a CSV: its own name, or `dimension.<name>` when a fixed column already
    has that name (SPEC §3.3b)."""
    taken = set(fixed)
    return [(attribute_column(d), attribute_column(d) if d in taken else d)
            for d in dimensions if d != "channel"]


def compute_drill(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    dimensions: tuple[str, ...],
    periods: tuple[Period, ...],
    cache: Cache | None = None,
    folded: frozenset[str] = frozenset(),
) -> tuple[DrillList, ...]:
    """Late, overdue and waiting interactions per red/amber (period, segment) of the headline
    (the dimensions in `folded` by their folded segments).

    Each DrillList has its counts by state, its first MAX_DRILL_ROWS_SHOWN interactions and
    its whole list as CSV bytes; with `cache`, the CSV of a list whose rows are unchanged
    (same digest) comes from the cache instead of the engine.
    """
    headline = config.site.periods[0]
    recent = periods[-config.site.history:]
    if not recent:
        return ()
    _create_drill_rows(con, config, dimensions, recent[0], folded)
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
    sizes = {k: sum(n for _, n in by_state) for k, by_state in counts.items()}
    csvs = _list_csvs(con, cache, dimension_columns(dimensions, DRILL_COLUMNS), sizes)
    return tuple(
        DrillList(headline, *keys[k], rows=tuple(rows.get(k, ())), counts=tuple(counts[k]),
                  csv=csvs[k])
        for k in sorted(keys)
    )


def _list_csvs(
    con: duckdb.DuckDBPyConnection, cache: Cache | None, dims: list[tuple[str, str]],
    sizes: dict[int, int],
) -> dict[int, bytes]:
    """The whole CSV of each list of `drill_rows`, by list number: from the cache where a list
    with the same digest was written before, else written from the engine's rows (`dims`: the
    dimension columns after the fixed ones, see `dimension_columns`; `sizes`: the rows of each
    list)."""
    columns = DRILL_COLUMNS + tuple(c for _, c in dims)
    digests = _list_digests(con, [e for e, _ in dims])
    found: dict[int, bytes] = {}
    keys: dict[int, str] = {}
    if cache is not None and cache.folder is not None:
        for list_no, digest in digests.items():
            keys[list_no] = cache.key("drill-csv", code_version(), digest)
            data = cache.load_bytes("drill", keys[list_no], ".csv")
            if data is not None:
                found[list_no] = data
    missing = [n for n in digests if n not in found]
    log.info("drill-through lists: %d to write, %d from the cache", len(missing), len(found))
    if not missing:
        return found
    for batch in _batches(missing, sizes):
        for list_no, rows in _fetch_lists(con, batch, [e for e, _ in dims]):
            found[list_no] = csv_bytes(columns, rows)
            if list_no in keys:
                cache.store_bytes("drill", keys[list_no], ".csv", found[list_no])  # type: ignore[union-attr]
    return found


#: Rows of drill-through lists fetched from the engine at once (bounds the memory they take).
BATCH_ROWS = 100_000


def _batches(lists: list[int], sizes: dict[int, int]) -> list[list[int]]:
    """`lists` in batches of whole lists of about BATCH_ROWS rows together."""
    batches: list[list[int]] = [[]]
    rows = 0
    for list_no in lists:
        if batches[-1] and rows + sizes[list_no] > BATCH_ROWS:
            batches.append([])
            rows = 0
        batches[-1].append(list_no)
        rows += sizes[list_no]
    return batches


def _fetch_lists(
    con: duckdb.DuckDBPyConnection, lists: list[int], dims: list[str]
) -> Iterator[tuple[int, Iterable[tuple[object, ...]]]]:
    """The rows of each list in `lists`, in order, column by column (the engine hands over
    whole columns far faster than rows); `dims`: the engine columns of the dimensions."""
    # Plain types only (an ENUM column would need pandas).
    plain = {"minutes": "DOUBLE", "target_minutes": "DOUBLE", "line": "BIGINT"}
    texts = ", ".join(f"CAST({sql_ident(c)} AS {plain.get(c, 'VARCHAR')}) AS {sql_ident(c)}"
                      for c in DRILL_COLUMNS + tuple(dims))
    numbers = ", ".join(str(n) for n in lists)
    columns = con.execute(
        f"SELECT list_no, {texts} FROM drill_rows WHERE list_no IN ({numbers}) "
        "ORDER BY list_no, seq").fetchnumpy()
    numbers_of_rows = columns.pop("list_no").tolist()
    values = [column.tolist() for column in columns.values()]
    start = 0
    while start < len(numbers_of_rows):
        list_no = numbers_of_rows[start]
        end = start
        while end < len(numbers_of_rows) and numbers_of_rows[end] == list_no:
            end += 1
        yield list_no, zip(*(column[start:end] for column in values))
        start = end


def _list_digests(con: duckdb.DuckDBPyConnection, dims: list[str]) -> dict[int, str]:
    """A digest of each list of `drill_rows`, by list number, in one scan: two 64-bit
    aggregates (xor and sum) of the engine's hash of each row with its position, and the row
    count. It changes when any value, the order or the length of the list does. The engine's
    hash may change between its versions, so the digest names the version."""
    import duckdb

    # Every value as text: the engine hashes an ENUM (the source, the clock) by its position.
    texts = ", ".join(f"CAST({sql_ident(c)} AS VARCHAR)" for c in DRILL_COLUMNS + tuple(dims))
    row_hash = f"hash(seq, {texts})"
    return {
        n: f"{duckdb.__version__}:{xor}:{total}:{count}"
        for n, xor, total, count in con.execute(
            f"SELECT list_no, bit_xor(h), sum(CAST(h AS HUGEINT)), count(*) "
            f"FROM (SELECT list_no, {row_hash} AS h FROM drill_rows) "
            "GROUP BY list_no ORDER BY list_no"
        ).fetchall()
    }


def _create_drill_rows(
    con: duckdb.DuckDBPyConnection, config: Config, dimensions: tuple[str, ...], since: Period,
    folded: frozenset[str] = frozenset(),
) -> None:
    """Create `drill_rows`: every listed interaction, numbered by list and within its list."""
    headline = config.site.periods[0]
    metrics = ", ".join(sql_str(m) for m in RESPONSE_METRICS)
    tz = sql_str(config.site.timezone)
    column = sql_ident("p_" + headline)
    selects = []
    for dimension in ("all",) + dimensions:
        match = ("true" if dimension == "all"
                 else f"k.segment = {segment_sql(dimension, 'j', folded)}")
        selects.append(
            f"SELECT k.*, j.* FROM keys k JOIN judged j ON k.dimension = {sql_str(dimension)} "
            f"AND j.{column} = k.period_start AND {match} "
            "WHERE j.excluded_by IS NULL AND NOT j.response_time_unknown "
            "AND (j.first_response_at IS NULL OR NOT j.within_target)"
        )
    dims = dimension_columns(dimensions, DRILL_COLUMNS)
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
            file, line{"".join(f", {sql_ident(e)}" for e, _ in dims)}
        FROM ({" UNION ALL ".join(selects)}) AS u
        ORDER BY list_no, seq
        """,
        [since.start],
    )


def interactions_sql(config: Config, dimensions: tuple[str, ...]) -> str:
    """SELECT of data/interactions.csv: every kept interaction with its computed values and
    its `dimensions` (see `dimension_columns`)."""
    tz = sql_str(config.site.timezone)
    fixed = ["source", "id", "channel", "received_at", "first_response_at", "resolved_at",
             *(g + "_start" for g in config.site.periods), "exclusion_rule", "blackout",
             "target_rule", "target_minutes", "clock", "calendar", "frt_minutes", "deadline",
             "within_target", "resolution_hours", "file", "line"]
    dims = "".join(f", {sql_ident(e)} AS {sql_ident(c)}"
                   for e, c in dimension_columns(dimensions, fixed))
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
            within_target, resolution_hours, file, line{dims}
        FROM judged
        ORDER BY received_at, source, id
    """
