"""Restatements (SPEC §6.6): figures of complete periods that the newest drops changed.

"Old" is what the figures would be from all drops except each source's newest, so a restatement
is a function of the inputs alone. Computing that by running the whole pipeline a second time
would double the build; instead, only the periods the newest drops can change are recomputed:

- an id with a valid row in a newest drop is *affected*: its old version is its valid row from
  the latest other drop (or none); every other interaction is the same in both;
- a period is *affected* if it holds an affected interaction (old or new version), or an
  unanswered interaction whose deadline falls between the old and the new data-through time
  (the only figure that depends on data-through is sla_attainment's "overdue");
- the old figures of the affected periods are computed from the old interactions of those
  periods, and compared with the new figures of the same periods.

Message-level sources are re-threaded as a whole instead (threads can move between periods), by
running the old pass over every interaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from generator.config.loader import Config, site_data_through
from generator.config.periods import START_SQL
from generator.figures.metrics import EPSILON, figure_table, granularity_order_sql
from generator.model import QualityReport, Restatement
from generator.sqltext import sql_ident, sql_str

if TYPE_CHECKING:
    import duckdb

    from generator.ingest.sources import Staged

#: Engine tables (and the view `interactions`) of the new build that the old pass would
#: overwrite, kept aside under `<name>_new`.
KEEP = ("interactions", "judged", "figures", "aggregates")


def compute_restatements(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    staged: Staged,
    quality: QualityReport,
) -> tuple[Restatement, ...]:
    """Figures of complete periods that differ without each source's newest drop."""
    newest = staged.newest()
    if not newest:
        return ()
    if any(d.source.shape != "interactions" for d in staged.drops):
        return _by_full_recompute(con, config, staged, quality)
    with _set_aside(con, KEEP):
        old_through = _old_versions(con, config, newest)
        _affected_periods(con, config, old_through, quality.data_through)
        # The old interactions of the affected periods: the unaffected ids as they are now,
        # and the old versions of the affected ids.
        columns = _columns(con, "interactions_new")
        affected = _in_affected_periods(con, config)
        con.execute(
            f"""CREATE OR REPLACE TABLE interactions AS
            SELECT {columns} FROM interactions_new i {UNAFFECTED}
            WHERE {affected}
            UNION ALL
            SELECT {columns} FROM old_versions i WHERE {affected}"""
        )
        try:
            figure_table(con, config, replace(quality, data_through=old_through))
            return _compare(con, "figures", "figures_new", affected_only=True)
        finally:
            for table in ("affected_ids", "old_versions", "affected_periods"):
                con.execute(f"DROP TABLE IF EXISTS {table}")


@contextmanager
def _set_aside(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> Iterator[None]:
    """Keep the new build's tables and views `names` as `<name>_new` while the body makes the
    old ones under the same names (a view may come back as a table); then drop those and put
    the new ones back."""
    kinds = _kinds(con)
    for name in names:
        con.execute(f"ALTER {kinds[name]} {name} RENAME TO {name}_new")
    try:
        yield
    finally:
        made = _kinds(con)
        for name in names:
            if name in made:
                con.execute(f"DROP {made[name]} {name}")
            con.execute(f"ALTER {kinds[name]} {name}_new RENAME TO {name}")


def _kinds(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """'TABLE' or 'VIEW' by the name of every table and view."""
    return dict(con.execute(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() "
        "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal"
    ).fetchall())


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The quoted column list of `table`."""
    return ", ".join(
        sql_ident(c)
        for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()
    )


#: Joins keeping the interactions `i` whose id has (or has no) valid row in a newest drop. A
#: semi or anti join, not a correlated EXISTS: the engine would group every interaction's id
#: to decorrelate it.
AFFECTED = "SEMI JOIN affected_ids a ON a.source = i.source AND a.id = i.id"
UNAFFECTED = "ANTI JOIN affected_ids a ON a.source = i.source AND a.id = i.id"


def _old_versions(
    con: duckdb.DuckDBPyConnection, config: Config, newest: frozenset[int]
) -> datetime | None:
    """Create `affected_ids` and `old_versions`; return the old data-through time.

    The old interactions are the unaffected ids of `interactions_new` and `old_versions`; they
    are never materialised as a whole, only their latest instants are read.
    """
    listed = ", ".join(str(i) for i in sorted(newest))
    con.execute(
        f"""CREATE OR REPLACE TABLE affected_ids AS
        SELECT DISTINCT source, id FROM valid_versions WHERE drop_index IN ({listed})"""
    )
    # The old version of an affected id: its valid row from the latest drop that is not newest
    # (the last of its copies there), unless that row is a retraction or before `since`.
    con.execute(
        f"""CREATE OR REPLACE TABLE old_versions AS
        SELECT {_columns(con, "interactions_new")} FROM (
            SELECT a.*, row_number() OVER (PARTITION BY a.source, a.id
                                           ORDER BY a.drop_index DESC, a.line DESC) AS version
            FROM valid_versions a JOIN affected_ids USING (source, id)
            WHERE a.drop_index NOT IN ({listed})
        ) WHERE version = 1 AND NOT uncounted"""
    )
    if config.site.data_through is not None:
        return config.site.data_through
    times = "source, received_at, first_response_at, resolved_at"
    latest = dict(con.execute(
        f"""SELECT CAST(source AS VARCHAR),
            max(greatest(received_at, coalesce(first_response_at, received_at),
                         coalesce(resolved_at, received_at)))
        FROM (SELECT {times} FROM interactions_new i {UNAFFECTED}
              UNION ALL SELECT {times} FROM old_versions)
        GROUP BY source"""
    ).fetchall())
    return site_data_through(latest, config.sources)


def _affected_periods(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    old_through: datetime | None,
    new_through: datetime | None,
) -> None:
    """Create `affected_periods` (granularity, period_start) from the days they hold: those of
    the changed interactions, of the deadlines, receipts, responses and resolutions between the
    old and the new data-through time (figures are as of data-through)."""
    tz = sql_str(config.site.timezone)
    low = f"TIMESTAMPTZ {sql_str(old_through.isoformat())}" if old_through else "NULL"
    high = f"TIMESTAMPTZ {sql_str(new_through.isoformat())}" if new_through else "NULL"
    day = f"CAST(timezone({tz}, received_at) AS DATE)"
    starts = " UNION ".join(
        f"SELECT {sql_str(g)} AS granularity, {START_SQL[g].format(ts='day')} AS period_start "
        "FROM days"
        for g in config.site.periods
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE affected_periods AS
        WITH days AS (
            SELECT {day} AS day FROM old_versions
            UNION SELECT {day} FROM interactions_new i {AFFECTED}
            UNION SELECT {day} FROM judged_new
            WHERE first_response_at IS NULL AND NOT response_time_unknown
              AND deadline >= coalesce({low}, deadline)
              AND deadline < coalesce({high}, deadline + INTERVAL 1 DAY)
            UNION SELECT {day} FROM interactions_new
            WHERE {_between("received_at", low, high)}
              OR {_between("first_response_at", low, high)}
              OR {_between("resolved_at", low, high)}
        )
        {starts}"""
    )


def _between(column: str, low: str, high: str) -> str:
    """SQL: `column` lies between two data-through times (either may be the later one), so a
    figure as of one differs from the figure as of the other (SPEC §4.1)."""
    return (f"({column} > least({low}, {high}) AND {column} <= greatest({low}, {high}))")


def _in_affected_periods(con: duckdb.DuckDBPyConnection, config: Config) -> str:
    """Condition on interactions `i`: received in an affected period of any granularity.

    It starts with a test of received_at against the days the affected periods can span, so
    that the engine converts only the times of the rows near them to the reporting timezone.
    """
    first, last = con.execute("SELECT min(period_start), max(period_start) FROM affected_periods")\
        .fetchone() or (None, None)
    if first is None:
        return "false"
    # Any local day starts less than a day from its UTC midnight; no period is longer than 92 days.
    low = (first - timedelta(days=1)).isoformat()
    high = (last + timedelta(days=93)).isoformat()
    tz = sql_str(config.site.timezone)
    parts = []
    for granularity in config.site.periods:
        start = START_SQL[granularity].format(ts=f"timezone({tz}, i.received_at)")
        parts.append(
            f"{start} IN (SELECT period_start FROM affected_periods "
            f"WHERE granularity = {sql_str(granularity)})"
        )
    return (
        f"(i.received_at >= TIMESTAMPTZ {sql_str(low)} "
        f"AND i.received_at < TIMESTAMPTZ {sql_str(high)} AND ({' OR '.join(parts)}))"
    )


def _by_full_recompute(
    con: duckdb.DuckDBPyConnection, config: Config, staged: Staged, quality: QualityReport
) -> tuple[Restatement, ...]:
    """The old figures from a whole second pass (for message-level sources)."""
    from generator.ingest.sources import account_rows

    # The new interactions are a view of `accounted` and of the message sources' tables, which
    # the old pass makes again under the same names.
    messages = tuple(name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'message_interactions_%' "
        "ORDER BY ALL").fetchall())
    with _set_aside(con, KEEP + ("accounted",) + messages):
        try:
            old = account_rows(con, config, staged, without=staged.newest())
            figure_table(con, config, old)
            return _compare(con, "figures", "figures_new", affected_only=False)
        finally:
            con.execute("DROP VIEW IF EXISTS valid_versions")


def _compare(
    con: duckdb.DuckDBPyConnection, old: str, new: str, affected_only: bool
) -> tuple[Restatement, ...]:
    """Rows of complete new periods whose value or n differs from the old figures."""
    restrict = (
        "AND (f.granularity, f.period_start) IN (SELECT granularity, period_start "
        "FROM affected_periods)" if affected_only else ""
    )
    rows = con.execute(
        f"""
        SELECT f.granularity, f.period, f.dimension, f.segment, f.metric,
            o.value, f.value, o.n, f.n
        FROM {new} f
        JOIN {old} o USING (granularity, period, dimension, segment, metric)
        WHERE NOT f.partial {restrict} AND (
            (f.value IS NULL) <> (o.value IS NULL) OR abs(f.value - o.value) > {EPSILON}
            OR f.n IS DISTINCT FROM o.n)
        ORDER BY {granularity_order_sql("f.granularity")},
            f.period_start, f.dimension <> 'all', f.dimension, f.segment <> 'all', f.segment,
            f.metric
        """
    ).fetchall()
    return tuple(Restatement(*row) for row in rows)
