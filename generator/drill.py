"""Drill-through: the interactions behind red and amber response figures (SPEC §6.7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.config import Config
from generator.model import DrillList, DrillRow, Period
from generator.sqltext import segment_sql, sql_ident, sql_str

if TYPE_CHECKING:
    import duckdb

#: The figures whose red or amber status a list of late and unanswered interactions explains.
RESPONSE_METRICS = ("response_rate", "sla_attainment", "backlog", "frt_median", "frt_p90",
                    "frt_mean")


def compute_drill(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    dimensions: tuple[str, ...],
    periods: tuple[Period, ...],
) -> tuple[DrillList, ...]:
    """Late, overdue and waiting interactions per red/amber (period, segment) of the headline."""
    headline = config.site.periods[0]
    recent = periods[-config.site.history:]
    if not recent:
        return ()
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
    rows = con.execute(
        f"""
        WITH keys AS (
            SELECT DISTINCT period, period_start, dimension, segment FROM figures
            WHERE granularity = {sql_str(headline)} AND status IN ('red', 'amber')
              AND metric IN ({metrics}) AND period_start >= ?
        )
        SELECT period, dimension, segment, source, id, channel,
            strftime(timezone({tz}, received_at), '%Y-%m-%d %H:%M:%S'),
            coalesce(strftime(timezone({tz}, first_response_at), '%Y-%m-%d %H:%M:%S'), ''),
            frt_minutes, target_minutes, target_clock,
            CASE WHEN first_response_at IS NOT NULL THEN 'late'
                 WHEN sla_eligible THEN 'overdue' ELSE 'waiting' END,
            file, line
        FROM ({" UNION ALL ".join(selects)})
        ORDER BY period_start, dimension <> 'all', dimension, segment <> 'all', segment,
            received_at, source, id
        """,
        [recent[0].start],
    ).fetchall()
    lists: dict[tuple[str, str, str], list[DrillRow]] = {}
    for period, dimension, segment, *fields in rows:
        lists.setdefault((period, dimension, segment), []).append(DrillRow(*fields))
    return tuple(
        DrillList(headline, period, dimension, segment, tuple(items))
        for (period, dimension, segment), items in lists.items()
    )


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
