"""Compute every figure of SPEC §5 in the engine, set-based, for every period and segment.

Pipeline inside the engine:
``interactions`` → ``judged`` (exclusion rule, target, durations, period starts) →
``partials`` (counts and exact sums per combination of period starts and segments, one scan) →
``aggregates`` (one row per granularity × period × dimension × segment: the partials added up,
and the quantiles of its rows) → ``figures`` (one row per metric, with goal, status and
comparisons).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from generator.cache import Cache, code_version
from generator.config.clock import create_calendar_table, deadline_sql, position_sql
from generator.config.loader import CLOCKS, INTERACTION_FIELDS, Config
from generator.config.periods import (
    START_SQL,
    contains,
    period_grid,
    same_offset,
    year_ago_label,
)
from generator.config.policy import (
    blackout_sql,
    exclusion_sql,
    goal_rows,
    policy_versions,
    target_sql,
    uses_business_clock,
)
from generator.errors import Problem
from generator.figures.budget import compute_budgets
from generator.figures.people import withheld_sql, without_people
from generator.figures.segments import fold_segments, segment_folds
from generator.model import (
    METRICS,
    Figure,
    Figures,
    MetricInfo,
    Period,
    QualityReport,
)
from generator.sqltext import attribute_column, segment_sql, sql_ident, sql_str

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)
GRANULARITY_ORDER = {"day": 0, "week": 1, "month": 2, "quarter": 3}


def granularity_order_sql(column: str) -> str:
    """SQL ordering `column` by granularity: day, week, month, quarter (figures.csv's order)."""
    cases = " ".join(f"WHEN {sql_str(g)} THEN {i}" for g, i in GRANULARITY_ORDER.items())
    return f"CASE {column} {cases} END"


#: Default amber tolerance for ratios (5 percentage points) and for everything else (10% of goal).
RATIO_TOLERANCE = 0.05
RELATIVE_TOLERANCE = 0.10
EPSILON = 1e-9
#: The type of `target_clock` in `judged` (one byte a row rather than a string).
CLOCK = f"ENUM({', '.join(sql_str(c) for c in sorted(CLOCKS))})"


@dataclass(frozen=True)
class MetricSQL:
    """How a metric's value and n derive from the aggregate columns."""

    value: str
    n: str | None


#: value and n of each metric over the columns of the `aggregates` table.
METRIC_SQL: dict[str, MetricSQL] = {
    "volume": MetricSQL("volume", None),
    "actionable": MetricSQL("actionable", None),
    "response_rate": MetricSQL("answered / nullif(actionable, 0)", "actionable"),
    "frt_median": MetricSQL("frt_median", "answered_timed"),
    "frt_p90": MetricSQL("frt_p90", "answered_timed"),
    "frt_mean": MetricSQL("frt_mean", "answered_timed"),
    "sla_attainment": MetricSQL("sla_met / nullif(sla_eligible, 0)", "sla_eligible"),
    "backlog": MetricSQL("actionable - answered", None),
    "resolution_rate": MetricSQL("resolved / nullif(actionable, 0)", "actionable"),
    "resolution_median": MetricSQL("resolution_median", "resolved"),
    "csat": MetricSQL("satisfied / nullif(rated, 0)", "rated"),
    "csat_mean": MetricSQL("csat_mean", "rated"),
    "csat_response_rate": MetricSQL("rated_resolved / nullif(resolved, 0)", "resolved"),
    "net_sentiment": MetricSQL("(positive - negative) / nullif(classified, 0)", "classified"),
    "recovery_rate": MetricSQL("recovered / nullif(negative_with_end, 0)", "negative_with_end"),
    "private_move_rate": MetricSQL("moved / nullif(public_count, 0)", "public_count"),
    "exposed_reach": MetricSQL("exposed_reach", None),
}

#: The aggregate columns that add up. Each is counted once per combination of period starts and
#: segments (`partials`), and the partials are then added up per period and segment, so the rows
#: are scanned once however many granularities and dimensions there are.
COUNTS: dict[str, str] = {
    "volume": "count(*)",
    "actionable": "count(*) FILTER (WHERE excluded_by IS NULL)",
    "answered": (
        "count(*) FILTER (WHERE excluded_by IS NULL "
        "AND (first_response_at IS NOT NULL OR response_time_unknown))"
    ),
    # Answered with a known time: a reply without one has no first-response time (SPEC §3.3b).
    "answered_timed": (
        "count(*) FILTER (WHERE excluded_by IS NULL AND first_response_at IS NOT NULL)"
    ),
    "sla_met": (
        "count(*) FILTER (WHERE excluded_by IS NULL AND blackout IS NULL AND within_target)"
    ),
    "sla_eligible": (
        "count(*) FILTER (WHERE excluded_by IS NULL AND blackout IS NULL AND sla_eligible)"
    ),
    "blacked_out": "count(*) FILTER (WHERE excluded_by IS NULL AND blackout IS NOT NULL)",
    "resolved": "count(*) FILTER (WHERE excluded_by IS NULL AND resolved_at IS NOT NULL)",
    "rated": "count(*) FILTER (WHERE excluded_by IS NULL AND csat IS NOT NULL)",
    "satisfied": "count(*) FILTER (WHERE excluded_by IS NULL AND csat_satisfied)",
    "rated_resolved": (
        "count(*) FILTER (WHERE excluded_by IS NULL AND csat IS NOT NULL "
        "AND resolved_at IS NOT NULL)"
    ),
    "classified": "count(*) FILTER (WHERE excluded_by IS NULL AND sentiment_start IS NOT NULL)",
    "positive": "count(*) FILTER (WHERE excluded_by IS NULL AND start_positive)",
    "negative": "count(*) FILTER (WHERE excluded_by IS NULL AND start_negative)",
    "negative_with_end": (
        "count(*) FILTER (WHERE excluded_by IS NULL AND start_negative "
        "AND sentiment_end IS NOT NULL)"
    ),
    "recovered": (
        "count(*) FILTER (WHERE excluded_by IS NULL AND start_negative AND NOT end_negative)"
    ),
    "public_count": "count(*) FILTER (WHERE excluded_by IS NULL AND public)",
    "moved": "count(*) FILTER (WHERE excluded_by IS NULL AND public AND moved_private)",
}
#: The parts of the means and sums, added up like the counts. They are sums of exact numbers
#: (integer microseconds, decimals), so that neither the engine's parallel summation order nor
#: the adding up of partials can change the last digit between builds.
PARTS: dict[str, str] = {
    "frt_us": (
        "sum(CAST(round(frt_minutes * 60e6) AS HUGEINT)) FILTER (WHERE excluded_by IS NULL)"
    ),
    "frt_count": "count(frt_minutes) FILTER (WHERE excluded_by IS NULL)",
    "csat_sum": "sum(CAST(csat AS DECIMAL(38, 9))) FILTER (WHERE excluded_by IS NULL)",
    "csat_count": "count(csat) FILTER (WHERE excluded_by IS NULL)",
    "reach_sum": (
        "sum(CAST(reach AS DECIMAL(38, 6))) FILTER (WHERE excluded_by IS NULL "
        "AND start_negative AND first_response_at IS NULL AND NOT response_time_unknown)"
    ),
}
#: Aggregate columns computed from the parts summed over one period and segment.
FROM_PARTS: dict[str, str] = {
    "frt_mean": "CAST(frt_us AS DOUBLE) / nullif(frt_count, 0) / 60e6",
    "csat_mean": "CAST(csat_sum AS DOUBLE) / nullif(csat_count, 0)",
    "exposed_reach": "coalesce(CAST(reach_sum AS DOUBLE), 0)",
}
#: Aggregate columns that do not add up, computed from the actionable rows of each period and
#: segment (missing, like a quantile of no values, where a segment has none).
QUANTILES: dict[str, str] = {
    # One pass over the response times gives both of their quantiles.
    "frt_quantiles": "quantile_cont(frt_minutes, [0.5, 0.9])",
    "resolution_median": "quantile_cont(resolution_hours, 0.5)",
}
#: The columns of `aggregates`, each over the interactions of one period and segment.
AGGREGATES: dict[str, str] = {
    **{name: name for name in COUNTS},
    **FROM_PARTS,
    "frt_median": "frt_quantiles[1]",
    "frt_p90": "frt_quantiles[2]",
    "resolution_median": "resolution_median",
}
#: The columns that name a row of `aggregates`.
KEYS = "granularity, period_start, dimension, segment"
#: The aggregate columns that are counts (0, not missing, where a segment had no interactions).
COUNT_AGGREGATES = tuple(COUNTS)


def bracket_label(minutes: float) -> str:
    """A bracket's label by its upper edge: '<=5m', '<=60m', '<=4h', '<=90s'."""
    if minutes < 1 or not float(minutes * 60).is_integer():
        return f"<={minutes * 60:g}s"
    if minutes <= 60 or minutes % 60:
        return f"<={minutes:g}m"
    return f"<={minutes / 60:g}h"


#: The brackets after the edges: answered later than the last edge, unanswered and not yet
#: due at data-through, unanswered and overdue (SPEC §5.1).
TAIL_BRACKETS = ("later", "unanswered_in_time", "unanswered_overdue")


def bracket_counts(config: Config) -> dict[str, str]:
    """Aggregate columns `bracket_<i>`: the actionable interactions in each first-response
    bracket (edges inclusive, on the clock of each target), in bracket order; those answered
    at an unknown time are in none."""
    answered = "excluded_by IS NULL AND first_response_at IS NOT NULL"
    columns = {}
    edges = config.site.brackets
    for i, edge in enumerate(edges):
        low = f" AND frt_minutes > {edges[i - 1]!r} + {EPSILON}" if i else ""
        columns[f"bracket_{i}"] = (
            f"count(*) FILTER (WHERE {answered} AND frt_minutes <= {edge!r} + {EPSILON}{low})")
    k = len(edges)
    columns[f"bracket_{k}"] = (  # answered without a time within the last edge
        f"count(*) FILTER (WHERE {answered} "
        f"AND coalesce(frt_minutes > {edges[-1]!r} + {EPSILON}, true))")
    # An answer whose time is unknown (SPEC §3.3b) is in no bracket: it has no response time.
    unanswered = "excluded_by IS NULL AND first_response_at IS NULL AND NOT response_time_unknown"
    columns[f"bracket_{k + 1}"] = f"count(*) FILTER (WHERE {unanswered} AND NOT sla_eligible)"
    columns[f"bracket_{k + 2}"] = f"count(*) FILTER (WHERE {unanswered} AND sla_eligible)"
    return columns


def published_dimensions(config: Config) -> tuple[str, ...]:
    """`channel` then every declared dimension, in first-declared order."""
    names = ["channel"]
    for source in config.sources:
        names += [d for d in source.dimensions if d not in names]
    return tuple(names)


def available_metrics(mapped: set[str]) -> tuple[MetricInfo, ...]:
    """The metrics whose input fields some source maps."""
    return tuple(m for m in METRICS if all(f in mapped for f in m.needs))


def unmet_goal_warnings(config: Config, mapped: set[str]) -> tuple[str, ...]:
    """A warning for each goal (in policy.goals or a version) on a metric that no source
    provides the fields of: such a metric is not shown, so its goal would be ignored silently."""
    needs = {m.id: m.needs for m in METRICS}
    needs.update({m.id: m.needs for m in config.policy.custom_metrics})
    goals = list(config.policy.goals.values())
    goals += [g for version in config.policy.versions for g in version.goals.values()]
    warnings = []
    for goal in goals:
        missing = [f for f in needs.get(goal.metric, ()) if f not in mapped]
        if not missing:
            continue
        fields = " and ".join(f"'{f}'" for f in missing)
        where = f"{config.path.name}:{goal.line}" if goal.line else config.path.name
        source = "sources[0]" if len(config.sources) == 1 else "sources[N]"
        warnings.append(str(Problem(
            where, f"{goal.key or 'policy.goals.' + goal.metric}: no source has a column for "
            f"{fields}, so the metric is not shown and its goal is ignored",
            hint=f"map the column with {source}.columns.{missing[0]}, or remove the goal.")))
    return tuple(warnings)


def judge_interactions(
    con: duckdb.DuckDBPyConnection, config: Config, data_through: datetime | None
) -> None:
    """Create `judged`: each interaction with its exclusion, target, durations and periods."""
    tz = sql_str(config.site.timezone)
    policy = config.policy
    versions = policy_versions(policy)
    local = "local_received"
    satisfied = ", ".join(str(float(s)) for s in policy.csat.satisfied)
    through = (
        f"TIMESTAMPTZ {sql_str(data_through.isoformat())}" if data_through else "NULL::TIMESTAMPTZ"
    )
    # A view, not a table: the wide rows are materialised once, in `judged`.
    con.execute(
        f"""
        CREATE OR REPLACE VIEW targeted AS
        SELECT *,
            {exclusion_sql(versions, local)} AS excluded_by,
            {blackout_sql(policy, local)} AS blackout,
            {target_sql(versions, local, 'within_minutes')} AS target_minutes,
            {target_sql(versions, local, 'rule')} AS target_rule,
            CAST({target_sql(versions, local, 'clock')} AS {CLOCK}) AS target_clock,
            {target_sql(versions, local, 'calendar')} AS target_calendar,
            (epoch_us(first_response_at) - epoch_us(received_at)) / 60e6 AS elapsed_minutes,
            (epoch_us(resolved_at) - epoch_us(received_at)) / 3600e6 AS resolution_hours,
            received_at + to_microseconds(CAST(round(target_minutes * 60e6) AS BIGINT))
                AS elapsed_deadline
        FROM (SELECT *, timezone({tz}, received_at) AS {local} FROM {_as_of(data_through)})
        """
    )
    # Working columns, left out of `judged` (which holds a copy of every interaction column),
    # and the attributes that only the policy reads (nothing reads them from `judged`).
    working = ["row_key", local, "elapsed_minutes", "elapsed_deadline"]
    working += _unread_attributes(con, config)
    if uses_business_clock(policy):
        _business_times(con, config, data_through)
        frt = ("CASE WHEN target_clock = 'business' THEN (b_response - b_received) / 60 "
               "ELSE elapsed_minutes END")
        deadline = ("CASE WHEN target_clock = 'business' THEN business_deadline "
                    "ELSE elapsed_deadline END")
        source = "targeted LEFT JOIN business_timed USING (row_key)"
        working += ["b_received", "b_response", "business_deadline"]
    else:
        frt, deadline, source = "elapsed_minutes", "elapsed_deadline", "targeted"
    starts = ", ".join(
        f"{START_SQL[g].format(ts=local)} AS {sql_ident('p_' + g)}" for g in config.site.periods
    )
    negative = float(policy.sentiment.negative_below)
    positive = float(policy.sentiment.positive_above)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE judged AS
        SELECT * EXCLUDE ({", ".join(sql_ident(c) for c in working)}),
            frt_minutes IS NOT NULL AND frt_minutes <= target_minutes + {EPSILON}
                AS within_target,
            frt_minutes IS NOT NULL OR deadline < {through} AND NOT response_time_unknown
                AS sla_eligible,
            csat IN ({satisfied}) AS csat_satisfied,
            sentiment_start > {positive} AS start_positive,
            sentiment_start < {negative} AS start_negative,
            sentiment_end < {negative} AS end_negative,
            sentiment_end > {positive} AS end_positive,
            {starts}
        FROM (SELECT *, {frt} AS frt_minutes, {deadline} AS deadline FROM {source})
        """
    )
    con.execute("DROP TABLE IF EXISTS business_timed")


def _as_of(data_through: datetime | None) -> str:
    """The interactions as things stood at `data_through` (SPEC §4.1): those received after it
    have not happened yet (the data-quality page counts them), and a response or resolution
    after it has not happened yet either."""
    if data_through is None:
        return "interactions"
    through = f"TIMESTAMPTZ {sql_str(data_through.isoformat())}"
    return (
        "(SELECT * REPLACE ("
        f"CASE WHEN first_response_at <= {through} THEN first_response_at END "
        "AS first_response_at, "
        f"CASE WHEN resolved_at <= {through} THEN resolved_at END AS resolved_at) "
        f"FROM interactions WHERE received_at <= {through})"
    )


def _unread_attributes(con: duckdb.DuckDBPyConnection, config: Config) -> list[str]:
    """The columns of `interactions` that are neither a field, its file and line, a published
    dimension, nor a name that a custom metric reads."""
    wanted = {"row_key", "source", "file", "line", "response_time_unknown",
              *INTERACTION_FIELDS,
              *(attribute_column(d) for d in published_dimensions(config))}
    wanted.update(attribute_column(n) for m in config.policy.custom_metrics for n in m.names)
    columns = [c for (c,) in con.execute("SELECT column_name FROM (DESCRIBE interactions)")
               .fetchall()]
    return [c for c in columns if c not in wanted]


def _business_times(
    con: duckdb.DuckDBPyConnection, config: Config, data_through: datetime | None
) -> None:
    """Create `business_timed`: business positions and deadlines of business-clock rows only.

    The ASOF joins run over a narrow projection (key, calendar, times, target), not the wide
    rows, and only over the interactions whose target is on the business clock.
    """
    con.execute(
        "CREATE OR REPLACE TABLE business_in AS SELECT row_key, target_calendar, received_at, "
        "first_response_at, target_minutes FROM targeted WHERE target_clock = 'business'"
    )
    bounds = con.execute(
        "SELECT min(received_at), max(greatest(received_at, coalesce(first_response_at, "
        "received_at))) FROM business_in"
    ).fetchone()
    if not bounds or bounds[0] is None:
        first = last = date(1970, 1, 1)
    else:
        first, last = bounds[0].date(), bounds[1].date()
    if data_through is not None:
        last = max(last, data_through.date())
    longest = max(
        (r.within_minutes for v in policy_versions(config.policy) for r in v.first_response),
        default=0.0,
    )
    # Pad both ends: calendars in other zones, and deadlines far beyond the data.
    horizon = last + timedelta(days=int(longest / 60 / 24 * 7) + 30)
    create_calendar_table(con, dict(config.calendars), first - timedelta(days=2), horizon)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE business_timed AS
        WITH b0 AS ({position_sql("business_in", "target_calendar", "received_at", "b_received")}
        ), b1 AS ({position_sql("b0", "target_calendar", "first_response_at", "b_response")}
        ), b2 AS (SELECT *, b_received + target_minutes * 60 AS b_due FROM b1)
        SELECT row_key, b_received, b_response, business_deadline
        FROM ({deadline_sql("b2", "target_calendar", "b_due", "business_deadline")})
        """
    )
    con.execute("DROP TABLE business_in")


def custom_aggregates(config: Config) -> dict[str, str]:
    """Aggregate columns of the custom metrics: `cm_<id>_value` and `cm_<id>_n`."""
    columns = {}
    for metric in config.policy.custom_metrics:
        columns[f"cm_{metric.id}_value"] = metric.value_sql
        columns[f"cm_{metric.id}_n"] = metric.n_sql
    return columns


def _aggregate(
    con: duckdb.DuckDBPyConnection, config: Config, cache: Cache | None = None,
    folded: frozenset[str] = frozenset(),
) -> list[tuple[str, date]]:
    """Create `aggregates`: one row per granularity × period_start × dimension × segment.

    With `cache`, the aggregates of a period whose judged rows are unchanged (same digest of
    every row of `judged` received in it, under the same config, code and engine) are taken
    from the cache, and only the other periods are computed. A row's judged values change when
    a drop adds or supersedes it, and while its first-response deadline lies beyond the
    data-through time (`sla_eligible`), so a moving data-through recomputes only the periods
    with deadlines still open. The digest covers the folded segments `judged` holds
    (generator.figures.segments), so a period whose values fold differently is recomputed.
    Return the (granularity, period start) of every period computed here rather than taken
    from the cache.

    Counts and sums are added up from `partials` (one scan of `judged`); quantiles and custom
    aggregates, which do not add up, are computed from the rows of each period and segment and
    joined on.
    """
    if cache is not None and cache.folder is None:
        cache = None  # caching is off
    found, keys = _cached_periods(con, config, cache)
    todo = [(g, start) for g in config.site.periods for (gg, start) in keys if gg == g]
    con.execute("CREATE OR REPLACE TEMP TABLE todo (granularity VARCHAR, period_start DATE)")
    if cache is None:
        con.execute("INSERT INTO todo " + " UNION ALL ".join(
            f"SELECT DISTINCT {sql_str(g)}, {sql_ident('p_' + g)} FROM judged"
            for g in config.site.periods))
        todo = [(g, start) for g, start in con.execute(
            "SELECT * FROM todo ORDER BY ALL").fetchall()]
    elif todo:
        con.executemany("INSERT INTO todo VALUES (?, ?)", todo)
    _aggregate_todo(con, config, folded)
    for (g, start), key in keys.items():
        cache.store_table(  # type: ignore[union-attr]
            con, f"(SELECT * FROM aggregates WHERE granularity = {sql_str(g)} "
            f"AND period_start = DATE {sql_str(start.isoformat())})", key, kind="aggregates")
    if found:
        files = ", ".join(sql_str(path.as_posix()) for path in found)
        con.execute(f"INSERT INTO aggregates SELECT * FROM read_parquet([{files}])")
    log.info("figures: %d period(s) computed, %d from the cache", len(todo), len(found))
    return todo


def _cached_periods(
    con: duckdb.DuckDBPyConnection, config: Config, cache: Cache | None
) -> tuple[list[Path], dict[tuple[str, date], str]]:
    """The cached aggregates files of the periods whose rows are unchanged, and the cache key
    of each other period (nothing without a cache)."""
    if cache is None:
        return [], {}
    import duckdb

    base = cache.key("aggregates", code_version(), duckdb.__version__,
                     hashlib.sha256(config.path.read_bytes()).hexdigest())
    found: list[Path] = []
    keys: dict[tuple[str, date], str] = {}
    for g in config.site.periods:
        column = sql_ident("p_" + g)
        for start, xor, total, count in con.execute(
            f"SELECT {column}, bit_xor(h), sum(CAST(h AS HUGEINT)), count(*) "
            f"FROM (SELECT {column}, hash(j) AS h FROM judged j) GROUP BY 1 ORDER BY 1"
        ).fetchall():
            key = cache.key(base, g, start.isoformat(), f"{xor}:{total}:{count}")
            path = cache.parquet_entry(con, "aggregates", key)
            if path is not None:
                found.append(path)
            else:
                keys[(g, start)] = key
    return found, keys


def _aggregate_todo(
    con: duckdb.DuckDBPyConnection, config: Config, folded: frozenset[str] = frozenset(),
    source: str = "judged", target: str = "aggregates",
) -> None:
    """Create `target` (default `aggregates`) from the rows of `source` (default `judged`) for
    the periods listed in the table `todo` only (the dimensions in `folded` by their folded
    segments)."""
    dimensions = published_dimensions(config)
    groupings = [(g, d) for g in config.site.periods for d in ("all",) + dimensions]

    def key(granularity: str, dimension: str, segment: str) -> str:
        return (
            f"{sql_str(granularity)} AS granularity, {sql_ident('p_' + granularity)} "
            f"AS period_start, {sql_str(dimension)} AS dimension, {segment} AS segment"
        )

    def wanted(granularity: str) -> str:
        return (f"{sql_ident('p_' + granularity)} IN (SELECT period_start FROM todo "
                f"WHERE granularity = {sql_str(granularity)})")

    any_wanted = " OR ".join(wanted(g) for g in config.site.periods)
    brackets = bracket_counts(config)
    parts = {**COUNTS, **PARTS, **brackets}
    keys = [sql_ident("p_" + g) for g in config.site.periods] + [
        f"{segment_sql(d, folded=folded)} AS {sql_ident('s_' + d)}" for d in dimensions
    ]
    con.execute(
        f"CREATE OR REPLACE TABLE partials AS SELECT {', '.join(keys)}, "
        + ", ".join(f"{expr} AS {name}" for name, expr in parts.items())
        + f" FROM {source} WHERE {any_wanted} GROUP BY ALL"
    )
    added = ", ".join(
        f"CAST(sum({name}) AS BIGINT) AS {name}" if expr.startswith("count(")
        else f"sum({name}) AS {name}"
        for name, expr in parts.items()
    )
    summed = " UNION ALL ".join(
        f"SELECT {key(g, d, sql_ident('s_' + d) if d != 'all' else sql_str('all'))}, {added} "
        f"FROM partials WHERE {wanted(g)} GROUP BY ALL"
        for g, d in groupings
    )

    def per_segment(columns: dict[str, str], where: str = "true") -> str:
        computed = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
        return " UNION ALL ".join(
            f"SELECT {key(g, d, segment_sql(d, folded=folded))}, {computed} FROM {source} "
            f"WHERE {where} AND {wanted(g)} GROUP BY ALL"
            for g, d in groupings
        )

    joins = f"LEFT JOIN ({per_segment(QUANTILES, 'excluded_by IS NULL')}) USING ({KEYS})"
    custom = custom_aggregates(config)
    if custom:
        # Over every row: a custom aggregate says itself which rows it takes.
        joins += f" LEFT JOIN ({per_segment(custom)}) USING ({KEYS})"
    columns = ", ".join(
        f"{expr} AS {name}"
        for name, expr in {**AGGREGATES, **{c: c for c in (*custom, *brackets)}}.items()
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {target} AS SELECT {KEYS}, {columns} FROM ({summed}) {joins}"
    )
    con.execute("DROP TABLE partials")


#: The judged columns that depend on whether a response or resolution had happened, and their
#: values as of an instant `c.cut` (SPEC §4.5: a response after it has not happened yet).
AS_OF: dict[str, str] = {
    "first_response_at": "CASE WHEN j.first_response_at <= c.cut THEN j.first_response_at END",
    "frt_minutes": "CASE WHEN j.first_response_at <= c.cut THEN j.frt_minutes END",
    "within_target": "coalesce(j.first_response_at <= c.cut, false) AND j.within_target",
    "sla_eligible": ("coalesce(j.first_response_at <= c.cut AND j.frt_minutes IS NOT NULL, "
                     "false) OR coalesce(j.deadline < c.cut, false)"),
    "resolved_at": "CASE WHEN j.resolved_at <= c.cut THEN j.resolved_at END",
    "resolution_hours": "CASE WHEN j.resolved_at <= c.cut THEN j.resolution_hours END",
}


def _comparison_cuts(
    con: duckdb.DuckDBPyConnection, config: Config, grids: dict[str, tuple[Period, ...]],
    data_through: datetime | None,
) -> list[tuple[str, date, str, date, datetime]]:
    """Create `comparison_cuts`: for the period of each granularity that contains data-through
    (partial), its previous period and the same period a year earlier (where on the grid),
    each with the instant at the same offset from its start (SPEC §4.5). Rows: (granularity,
    partial period start, 'previous' or 'year_ago', compared period start, cut instant)."""
    tz = ZoneInfo(config.site.timezone)
    cuts = []
    for g, grid in grids.items():
        by_label = {p.label: p for p in grid}
        for i, period in enumerate(grid):
            if data_through is None or not contains(period, data_through, tz):
                continue
            compared = {"previous": grid[i - 1] if i > 0 else None,
                        "year_ago": by_label.get(year_ago_label(period.start, g) or "")}
            for kind, other in compared.items():
                if other is not None:
                    cut = same_offset(period, data_through, other, tz)
                    cuts.append((g, period.start, kind, other.start, cut))
    con.execute("CREATE OR REPLACE TABLE comparison_cuts (granularity VARCHAR, period_start "
                "DATE, kind VARCHAR, compared_start DATE, cut TIMESTAMPTZ)")
    if cuts:
        con.executemany("INSERT INTO comparison_cuts VALUES (?, ?, ?, ?, ?)", cuts)
    return cuts


def _aggregate_as_of(
    con: duckdb.DuckDBPyConnection, config: Config, cuts: list[tuple[str, date, str, date,
                                                                      datetime]],
    folded: frozenset[str] = frozenset(),
) -> None:
    """Create `asof_aggregates` (the columns of `aggregates`): the figures of each compared
    period of `comparison_cuts` as of its cut instant, a full as-of cut: only interactions
    received at or before it, and responses and resolutions at or before it, with the cut as
    the data-through time of the SLA deadlines (SPEC §4.5).

    Not cached: the cut moves with data-through on nearly every drop, and there are at most
    two compared periods per granularity."""
    con.execute("CREATE OR REPLACE TABLE asof_aggregates AS SELECT * FROM aggregates LIMIT 0")
    masked = ", ".join(f"{expr} AS {name}" for name, expr in AS_OF.items())
    for g, _start, _kind, compared, cut in cuts:
        column = sql_ident("p_" + g)
        con.execute(
            f"CREATE OR REPLACE TABLE judged_asof AS SELECT j.* REPLACE ({masked}) "
            f"FROM judged j JOIN (SELECT ?::TIMESTAMPTZ AS cut) c ON true "
            f"WHERE j.{column} = ? AND j.received_at <= c.cut", [cut, compared])
        con.execute("CREATE OR REPLACE TEMP TABLE todo AS SELECT ? AS granularity, "
                    "?::DATE AS period_start", [g, compared])
        _aggregate_todo(con, config, folded, source="judged_asof", target="asof_part")
        con.execute("INSERT INTO asof_aggregates SELECT * FROM asof_part")
    con.execute("DROP TABLE IF EXISTS judged_asof")
    con.execute("DROP TABLE IF EXISTS asof_part")


def _grid(
    con: duckdb.DuckDBPyConnection, config: Config, data_through: datetime | None
) -> dict[str, tuple[Period, ...]]:
    """Create `grid` (every period of every granularity) and return it per granularity."""
    tz = ZoneInfo(config.site.timezone)
    # The first and last period with data, from the period starts `judged` already holds.
    starts = [sql_ident("p_" + g) for g in config.site.periods]
    bounds = con.execute(
        "SELECT " + ", ".join(f"min({s}), max({s})" for s in starts) + " FROM judged"
    ).fetchone() or ()
    grids: dict[str, tuple[Period, ...]] = {}
    rows = []
    for index, granularity in enumerate(config.site.periods):
        first, last = bounds[2 * index: 2 * index + 2] or (None, None)
        if first is None:
            grids[granularity] = ()
            continue
        grid = period_grid(first, last, granularity, tz, data_through)
        grids[granularity] = grid
        for p in grid:
            rows.append(
                (granularity, p.label, p.start, p.end, p.partial,
                 year_ago_label(p.start, granularity))
            )
    con.execute(
        "CREATE OR REPLACE TABLE grid (granularity VARCHAR, period VARCHAR, period_start DATE, "
        "period_end DATE, partial BOOLEAN, year_ago_period VARCHAR)"
    )
    if rows:
        con.executemany("INSERT INTO grid VALUES (?, ?, ?, ?, ?, ?)", rows)
    return grids


def _goals(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE goals (valid_from DATE, metric VARCHAR, direction VARCHAR, "
        "goal DOUBLE, tolerance DOUBLE, min_n BIGINT)"
    )
    rows = goal_rows(config)
    if rows:
        con.executemany("INSERT INTO goals VALUES (?, ?, ?, ?, ?, ?)", rows)


def _metric_table(con: duckdb.DuckDBPyConnection, metrics: tuple[MetricInfo, ...]) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE metric_info (metric VARCHAR, is_ratio BOOLEAN, is_count BOOLEAN)"
    )
    con.executemany(
        "INSERT INTO metric_info VALUES (?, ?, ?)",
        [(m.id, m.is_ratio, m.unit == "count") for m in metrics],
    )


def compute_figures(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    quality: QualityReport,
    cache: Cache | None = None,
) -> Figures:
    """Compute every figure for every period, segment and metric; return them sorted. The
    drill-through lists, which only the site shows, are left to the build
    (:func:`generator.figures.drill.compute_drill`)."""
    metrics, grids, recomputed = figure_table(con, config, quality, cache)
    labels = {(g, p.start): p.label for g, grid in grids.items() for p in grid}
    folds = segment_folds(con)
    folded = frozenset(f.dimension for f in folds)
    data_through = quality.data_through
    rows = tuple(Figure(*row) for row in con.execute("SELECT * FROM figures").fetchall())
    segments = tuple(
        (d, s)
        for d, s in con.execute(
            "SELECT DISTINCT dimension, segment FROM figures "
            "ORDER BY dimension <> 'all', dimension, segment <> 'all', segment"
        ).fetchall()
    )
    return Figures(
        rows=rows,
        metrics=metrics,
        periods=grids,
        segments=segments,
        data_through=data_through.astimezone(timezone.utc) if data_through else None,
        # A person has no error budget (site.privacy.people).
        budgets=compute_budgets(con, config, without_people(published_dimensions(config),
                                                            config.site.people),
                                data_through, folded),
        recomputed=tuple((g, labels[(g, start)]) for g, start in recomputed),
        folds=folds,
    )


def figure_table(
    con: duckdb.DuckDBPyConnection, config: Config, quality: QualityReport,
    cache: Cache | None = None,
) -> tuple[tuple[MetricInfo, ...], dict[str, tuple[Period, ...]], list[tuple[str, date]]]:
    """Create the engine table `figures` (sorted like figures.csv) from `interactions`.

    Return the metrics, the period grid of each granularity, and the (granularity, period
    start) of the periods computed rather than taken from `cache` (see :func:`_aggregate`)."""
    data_through = quality.data_through
    mapped = set(quality.mapped_fields)
    custom = tuple(m for m in config.policy.custom_metrics if set(m.needs) <= mapped)
    metrics = available_metrics(mapped) + tuple(m.info() for m in custom)
    metric_sql = {
        **METRIC_SQL,
        **{m.id: MetricSQL(f"cm_{m.id}_value", f"cm_{m.id}_n") for m in custom},
    }
    judge_interactions(con, config, data_through)
    grids = _grid(con, config, data_through)
    # Values beyond site.max_segments fold into '(other)' (generator.figures.segments).
    folded = fold_segments(con, config, published_dimensions(config), grids)
    recomputed = _aggregate(con, config, cache, folded)
    # A partial period compares with the others as of the same offset (SPEC §4.5).
    _aggregate_as_of(con, config, _comparison_cuts(con, config, grids, data_through), folded)
    _goals(con, config)
    _metric_table(con, metrics)
    counts = set(COUNT_AGGREGATES) | {f"cm_{m.id}_n" for m in custom}
    filled = ", ".join(
        f"coalesce(a.{name}, 0) AS {name}" if name in counts else f"a.{name}"
        for name in {**AGGREGATES, **custom_aggregates(config)}
    )

    def long_sql(source: str) -> str:
        # A person's figure from too few interactions is withheld with its n (the n of two
        # metrics can give a third's value); a comparison with it then has no baseline.
        selects = []
        for m in metrics:
            value, n = metric_sql[m.id].value, metric_sql[m.id].n
            hidden = withheld_sql(n, config.site.people)
            selects.append(
                f"SELECT g.*, {sql_str(m.id)} AS metric, "
                f"CASE WHEN {hidden} THEN NULL ELSE CAST({value} AS DOUBLE) END AS value, "
                f"CASE WHEN {hidden} THEN NULL ELSE CAST({n or 'NULL'} AS BIGINT) END AS n, "
                f"{hidden} AS withheld FROM {source} g")
        return " UNION ALL ".join(selects)

    con.execute(
        f"""
        CREATE OR REPLACE TABLE figures AS
        WITH segments AS (
            SELECT DISTINCT dimension, segment FROM aggregates
        ), filled AS (
            SELECT grid.*, s.dimension, s.segment, {filled}
            FROM grid
            JOIN segments s ON true
            LEFT JOIN aggregates a ON a.granularity = grid.granularity
                AND a.period_start = grid.period_start
                AND a.dimension = s.dimension AND a.segment = s.segment
        ), long AS ({long_sql("filled")}
        ), asof_filled AS (
            SELECT c.granularity, c.period_start, c.kind, s.dimension, s.segment, {filled}
            FROM comparison_cuts c
            JOIN segments s ON true
            LEFT JOIN asof_aggregates a ON a.granularity = c.granularity
                AND a.period_start = c.compared_start
                AND a.dimension = s.dimension AND a.segment = s.segment
        ), asof_long AS (
            SELECT granularity, period_start, kind, dimension, segment, metric, value, n
            FROM ({long_sql("asof_filled")})
        ), goaled AS (
            SELECT l.*, mi.is_ratio, mi.is_count, g.direction, g.goal, g.tolerance,
                coalesce(g.min_n, 1) AS min_n,
                greatest(coalesce(g.min_n, 1), {config.site.min_n}) AS compare_n
            FROM long l
            JOIN metric_info mi USING (metric)
            LEFT JOIN goals g ON g.metric = l.metric AND g.valid_from IS NOT DISTINCT FROM (
                SELECT max(valid_from) FROM goals g2
                WHERE g2.metric = l.metric
                  AND (g2.valid_from IS NULL OR g2.valid_from <= l.period_start)
            )
        ), lagged AS (
            SELECT *,
                lag(value) OVER w AS lag_value,
                lag(n) OVER w AS lag_n
            FROM goaled
            WINDOW w AS (PARTITION BY granularity, dimension, segment, metric ORDER BY period_start)
        ), compared AS (
            -- A partial period's comparisons are as of the same offset (asof_long).
            SELECT l.*,
                CASE WHEN p.metric IS NULL THEN l.lag_value ELSE p.value END AS previous_value,
                CASE WHEN p.metric IS NULL THEN l.lag_n ELSE p.n END AS previous_n
            FROM lagged l
            LEFT JOIN asof_long p ON p.kind = 'previous' AND p.granularity = l.granularity
                AND p.period_start = l.period_start AND p.dimension = l.dimension
                AND p.segment = l.segment AND p.metric = l.metric
        ), with_year_ago AS (
            SELECT c.*,
                CASE WHEN ya.metric IS NULL THEN y.value ELSE ya.value END AS year_ago_value,
                CASE WHEN ya.metric IS NULL THEN y.n ELSE ya.n END AS year_ago_n
            FROM compared c
            LEFT JOIN goaled y ON y.granularity = c.granularity AND y.period = c.year_ago_period
                AND y.dimension = c.dimension AND y.segment = c.segment AND y.metric = c.metric
            LEFT JOIN asof_long ya ON ya.kind = 'year_ago' AND ya.granularity = c.granularity
                AND ya.period_start = c.period_start AND ya.dimension = c.dimension
                AND ya.segment = c.segment AND ya.metric = c.metric
        )
        SELECT granularity, period, period_start, period_end, partial, dimension, segment,
            metric, value, n, goal,
            CASE
                WHEN goal IS NULL THEN 'none'
                -- A count of a period so far says nothing about its goal (SPEC §4.5).
                WHEN partial AND is_count THEN 'none'
                WHEN value IS NULL OR n < min_n THEN 'insufficient'
                WHEN direction = 'min' AND value >= goal - {EPSILON} THEN 'green'
                WHEN direction = 'max' AND value <= goal + {EPSILON} THEN 'green'
                WHEN direction = 'min' AND value >= goal - tol - {EPSILON} THEN 'amber'
                WHEN direction = 'max' AND value <= goal + tol + {EPSILON} THEN 'amber'
                ELSE 'red'
            END AS status,
            previous_value,
            {_change_sql('previous_value', 'previous_n')} AS change,
            CASE WHEN {_change_sql('previous_value', 'previous_n')} IS NULL
                      AND {_change_sql('year_ago_value', 'year_ago_n')} IS NULL THEN NULL
                 WHEN is_ratio THEN 'pp' ELSE '%' END AS change_unit,
            year_ago_value,
            {_change_sql('year_ago_value', 'year_ago_n')} AS year_ago_change,
            withheld
        FROM (
            SELECT *, coalesce(tolerance, CASE WHEN is_ratio THEN {RATIO_TOLERANCE}
                                          ELSE {RELATIVE_TOLERANCE} * abs(goal) END) AS tol
            FROM with_year_ago
        )
        ORDER BY {granularity_order_sql("granularity")},
            period_start, dimension <> 'all', dimension, segment <> 'all', segment, metric
        """
    )
    return metrics, grids, recomputed


def _change_sql(baseline: str, baseline_n: str) -> str:
    """Change against a baseline: pp for ratios, % otherwise; none on a missing/zero baseline,
    and none when either side's n is below `compare_n` (the goal's min_n, at least site.min_n;
    SPEC §4.5), or for a count metric when the baseline value itself is below it."""
    return (
        f"CASE WHEN value IS NULL OR {baseline} IS NULL THEN NULL "
        f"WHEN coalesce(n, compare_n) < compare_n "
        f"OR coalesce({baseline_n}, compare_n) < compare_n THEN NULL "
        f"WHEN is_count AND {baseline} < compare_n THEN NULL "
        f"WHEN is_ratio THEN (value - {baseline}) * 100 "
        f"WHEN {baseline} = 0 THEN NULL "
        f"ELSE (value - {baseline}) / abs({baseline}) * 100 END"
    )


def exclusion_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Interactions excluded per rule over all time."""
    return dict(
        con.execute(
            "SELECT excluded_by, count(*) FROM judged WHERE excluded_by IS NOT NULL "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    )


def blackout_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Actionable interactions per blackout reason over all time."""
    return dict(
        con.execute(
            "SELECT blackout, count(*) FROM judged WHERE blackout IS NOT NULL "
            "AND excluded_by IS NULL GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    )


def latest_complete(periods: tuple[Period, ...]) -> Period | None:
    """The latest period that is not partial."""
    complete = [p for p in periods if not p.partial]
    return complete[-1] if complete else None


__all__ = [
    "blackout_counts", "compute_figures", "exclusion_counts", "figure_table", "latest_complete",
]
