"""The error budget of sla_attainment over the current window (SPEC §4.6).

eligible = the sla_attainment denominator in the window; allowed = (1 − g) × eligible;
used = breaches; remaining = allowed − used; burn rate = (breaches / eligible) / (1 − g).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from generator.config.loader import Config
from generator.config.periods import next_start, period_label, period_start
from generator.config.policy import policy_versions
from generator.model import BudgetRow
from generator.sqltext import segment_sql, sql_str

if TYPE_CHECKING:
    import duckdb


def budget_window(config: Config, data_through: datetime) -> tuple[str, datetime, datetime]:
    """(label, start, end) of the window holding data-through, in the reporting timezone."""
    tz = ZoneInfo(config.site.timezone)
    budget = config.policy.error_budget
    assert budget is not None
    local = data_through.astimezone(tz)
    if budget.window == "rolling":
        start = data_through - timedelta(days=budget.days)
        return f"{budget.days} days to {local.date().isoformat()}", start, data_through
    first = period_start(local.date(), budget.window)
    end = next_start(first, budget.window)
    return (
        period_label(first, budget.window),
        datetime(first.year, first.month, first.day, tzinfo=tz),
        datetime(end.year, end.month, end.day, tzinfo=tz),
    )


def goal_at(config: Config, metric: str, day: date) -> float | None:
    """The goal of `metric` in force on `day` (None when it has none)."""
    goal = None
    for version in policy_versions(config.policy):
        if version.valid_from is None or version.valid_from <= day:
            found = version.goals.get(metric)
            goal = found.value if found else None
    return goal


def compute_budgets(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    dimensions: tuple[str, ...],
    data_through: datetime | None,
    folded: frozenset[str] = frozenset(),
) -> tuple[BudgetRow, ...]:
    """Error budget rows for `all` and every segment over the current window (from `judged`;
    the dimensions in `folded` by their folded segments)."""
    budget = config.policy.error_budget
    if budget is None or data_through is None:
        return ()
    label, start, end = budget_window(config, data_through)
    goal = goal_at(config, budget.metric, start.astimezone(ZoneInfo(config.site.timezone)).date())
    if goal is None:
        return ()
    selects = []
    for dimension in ("all",) + dimensions:
        segment = segment_sql(dimension, folded=folded)
        selects.append(
            f"SELECT {sql_str(dimension)} AS dimension, {segment} AS segment, "
            "count(*) FILTER (WHERE sla_eligible) AS eligible, "
            "count(*) FILTER (WHERE sla_eligible AND NOT within_target) AS breaches "
            "FROM judged WHERE excluded_by IS NULL AND blackout IS NULL "
            "AND received_at >= ? AND received_at < ? GROUP BY ALL"
        )
    params = [start, end] * len(selects)
    rows = con.execute(
        " UNION ALL ".join(selects)
        + " ORDER BY dimension <> 'all', dimension, segment <> 'all', segment",
        params,
    ).fetchall()
    out = []
    for dimension, segment, eligible, breaches in rows:
        allowed = (1 - goal) * eligible
        burn = None if goal >= 1 or eligible == 0 else (breaches / eligible) / (1 - goal)
        out.append(
            BudgetRow(dimension, segment, label, start, end, goal, eligible, breaches, allowed,
                      allowed - breaches, burn)
        )
    return tuple(out)
