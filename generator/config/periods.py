"""Reporting periods: day, ISO week, month and quarter, cut in the reporting timezone.

The grid of a granularity runs from the first to the last period with data; a period is partial
when it ends (in the reporting timezone) after the data-through time. Figures are as of
data-through (interactions received after it are in no figure), so the last period of the grid
is at latest the one holding data-through.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from generator.model import Period

#: SQL (DuckDB) expression of a period's first day, given a local (naive) timestamp `{ts}`.
START_SQL: dict[str, str] = {
    "day": "CAST({ts} AS DATE)",
    "week": "CAST(date_trunc('week', {ts}) AS DATE)",
    "month": "CAST(date_trunc('month', {ts}) AS DATE)",
    "quarter": "CAST(date_trunc('quarter', {ts}) AS DATE)",
}


def period_start(day: date, granularity: str) -> date:
    """Return the first day of the period of `granularity` that contains `day`."""
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    if granularity == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise ValueError(granularity)


def next_start(start: date, granularity: str) -> date:
    """Return the first day of the period after the one starting on `start`."""
    if granularity == "day":
        return start + timedelta(days=1)
    if granularity == "week":
        return start + timedelta(days=7)
    months = 1 if granularity == "month" else 3
    month0 = start.month - 1 + months
    return date(start.year + month0 // 12, month0 % 12 + 1, 1)


def period_label(start: date, granularity: str) -> str:
    """Return the label of the period starting on `start` (`2026-W47`, `2026-11`, `2026-Q4`)."""
    if granularity == "day":
        return start.isoformat()
    if granularity == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "month":
        return f"{start.year}-{start.month:02d}"
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def year_ago_label(start: date, granularity: str) -> str | None:
    """Return the label of the same period a year earlier, or None where there is none.

    Weeks compare with the same ISO week number of the previous week-year (a W53 has none);
    days with the same calendar date (29 February has none).
    """
    if granularity == "week":
        year, week, _ = start.isocalendar()
        return None if week == 53 else f"{year - 1}-W{week:02d}"
    if granularity == "day":
        if start.month == 2 and start.day == 29:
            return None
        return start.replace(year=start.year - 1).isoformat()
    return period_label(start.replace(year=start.year - 1), granularity)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Return the instant at which `day` begins in `tz` (timezone-aware)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def period_grid(
    first: date, last: date, granularity: str, tz: ZoneInfo, data_through: datetime | None
) -> tuple[Period, ...]:
    """Every period of `granularity` from the one holding `first` to the one holding `last`."""
    periods = []
    start = period_start(first, granularity)
    end_limit = period_start(last, granularity)
    while start <= end_limit:
        end = next_start(start, granularity)
        partial = data_through is not None and local_midnight(end, tz) > data_through
        periods.append(Period(granularity, period_label(start, granularity), start, end, partial))
        start = end
    return tuple(periods)
