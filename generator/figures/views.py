"""The views beyond the scorecard (SPEC §5.1): hour of week and first-response brackets.

Receives the engine's tables `judged` (every interaction with its target, response time and
period starts), `aggregates` (which holds the bracket counts of every period and segment,
computed and cached per period with the other counts: see
:func:`generator.figures.metrics.bracket_counts`), `grid` and `figures`; hands on
:class:`HourCell` and :class:`BracketCount` rows, sorted like data/hourly.csv and
data/brackets.csv.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from generator.config.loader import Config
from generator.figures.metrics import (
    COUNTS,
    TAIL_BRACKETS,
    bracket_counts,
    bracket_label,
    granularity_order_sql,
)
from generator.figures.people import withheld_sql
from generator.model import BracketCount, HourCell, Period
from generator.sqltext import segment_sql, sql_ident, sql_str

if TYPE_CHECKING:
    import duckdb

#: The metrics of the hour-of-week view, in data/hourly.csv's order.
HOURLY_METRICS = ("volume", "frt_median", "sla_attainment")
_SEGMENT_ORDER = "dimension <> 'all', dimension, segment <> 'all', segment"


def compute_hourly(
    con: duckdb.DuckDBPyConnection, config: Config, dimensions: tuple[str, ...],
    periods: tuple[Period, ...], folded: frozenset[str] = frozenset(),
    metrics: Collection[str] = HOURLY_METRICS,
) -> tuple[HourCell, ...]:
    """Volume, median first response and SLA attainment by weekday × hour of received_at (in
    the reporting timezone) over the last `history` periods of `periods` (the headline grid),
    for every segment: the cells that received interactions (a cell left out received none:
    volume 0, the other metrics undefined), so that the view grows with the data, not with
    segments × 168. Only the metrics in `metrics` (those whose inputs the data has) are
    given. A person's cell whose metric rests on too few interactions has no value nor n
    (site.privacy.people)."""
    window = periods[-config.site.history:]
    if not window:
        return ()
    tz = sql_str(config.site.timezone)
    people = config.site.people  # a person's cell from too few interactions is withheld
    column = sql_ident("p_" + config.site.periods[0])
    starts = ", ".join(f"DATE {sql_str(p.start.isoformat())}" for p in window)
    selects = " UNION ALL ".join(
        f"SELECT {sql_str(d)} AS dimension, {segment_sql(d, folded=folded)} AS segment, "
        "isodow(lr) AS weekday, hour(lr) AS hour, count(*) AS volume, "
        "quantile_cont(frt_minutes, 0.5) FILTER (WHERE excluded_by IS NULL) AS frt_median, "
        f"{COUNTS['answered_timed']} AS answered, {COUNTS['sla_met']} AS met, "
        f"{COUNTS['sla_eligible']} AS eligible FROM windowed GROUP BY ALL"
        for d in ("all",) + dimensions
    )
    rows = con.execute(
        f"""
        WITH windowed AS (
            SELECT *, timezone({tz}, received_at) AS lr FROM judged WHERE {column} IN ({starts})
        ), cells AS ({selects})
        SELECT dimension, segment, weekday, hour, volume, frt_median, answered,
            CAST(met AS DOUBLE) / nullif(eligible, 0), eligible,
            {withheld_sql(None, people)}, {withheld_sql("answered", people)},
            {withheld_sql("eligible", people)}
        FROM cells
        ORDER BY {_SEGMENT_ORDER}, weekday, hour
        """
    ).fetchall()
    cells: list[HourCell] = []
    for dim, seg, weekday, hour, volume, median, answered, sla, eligible, *hidden in rows:
        for metric, value, n, withheld in (("volume", float(volume), None, hidden[0]),
                                           ("frt_median", median, answered, hidden[1]),
                                           ("sla_attainment", sla, eligible, hidden[2])):
            if metric in metrics:
                cells.append(HourCell(dim, seg, weekday, hour, metric,
                                      None if withheld else value, None if withheld else n,
                                      withheld))
    return tuple(cells)


def compute_brackets(con: duckdb.DuckDBPyConnection, config: Config) -> tuple[BracketCount, ...]:
    """The actionable interactions of every period (every granularity) and segment of
    `figures` in each first-response bracket; the counts of a period and segment add up to
    its actionable count. A person's period with too few interactions has no brackets."""
    columns = list(bracket_counts(config))
    edges = config.site.brackets
    names = [bracket_label(e) for e in edges] + list(TAIL_BRACKETS)
    uppers: list[float | None] = [*edges, None, None, None]
    counts = ", ".join(f"coalesce(a.{c}, 0)" for c in columns)
    rows = con.execute(
        f"""
        WITH segments AS (SELECT DISTINCT dimension, segment FROM figures)
        SELECT g.granularity, g.period, g.period_start, g.period_end, g.partial,
            s.dimension, s.segment, {counts}
        FROM grid g CROSS JOIN segments s
        LEFT JOIN aggregates a ON a.granularity = g.granularity
            AND a.period_start = g.period_start AND a.dimension = s.dimension
            AND a.segment = s.segment
        -- A person's period with too few interactions is left out (site.privacy.people).
        WHERE NOT {withheld_sql("a.actionable", config.site.people, "a.volume", "s.dimension")}
        ORDER BY {granularity_order_sql("g.granularity")}, g.period_start,
            {", ".join("s." + t.strip() for t in _SEGMENT_ORDER.split(","))}
        """
    ).fetchall()
    out: list[BracketCount] = []
    for granularity, period, start, end, partial, dim, seg, *values in rows:
        for name, upper, count in zip(names, uppers, values):
            out.append(BracketCount(granularity, period, start, end, partial, dim, seg, name,
                                    upper, int(count)))
    return tuple(out)


__all__ = ["HOURLY_METRICS", "compute_brackets", "compute_hourly"]
