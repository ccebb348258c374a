"""Business time: elapsed open time between two instants, vectorised in the engine.

Each calendar becomes a table of its open intervals as UTC instants (computed in the calendar's
own timezone, so a 09:00–17:00 day is 8 hours on the day clocks change too), with the open
seconds before each interval (``cum_before``). The business position of an instant t is

    B(t) = cum_before(last interval starting at or before t) + clamp(t − start, 0, length)

found with one ASOF join per column, and business time between t0 and t1 is B(t1) − B(t0).
The deadline of a target of D open seconds is the earliest instant where B reaches B(t0) + D.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from generator.config.loader import WEEKDAYS, Calendar

if TYPE_CHECKING:
    import duckdb

INTERVALS_TABLE = "calendar_intervals"


def open_intervals(
    calendar: Calendar, first: date, last: date
) -> list[tuple[datetime, datetime]]:
    """The calendar's open intervals on local days `first`..`last` as UTC instants, in order."""
    tz = ZoneInfo(calendar.timezone)
    holidays = set(calendar.holidays)
    out: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        if day not in holidays:
            for start, end in calendar.hours.get(WEEKDAYS[day.weekday()], ()):
                begin = datetime.combine(day, start, tzinfo=tz)
                # An end of 00:00 is the end of the day ('24:00').
                end_day = day + timedelta(days=1) if end == time(0, 0) else day
                finish = datetime.combine(end_day, end, tzinfo=tz)
                out.append((begin.astimezone(timezone.utc), finish.astimezone(timezone.utc)))
        day += timedelta(days=1)
    return out


def create_calendar_table(
    con: duckdb.DuckDBPyConnection,
    calendars: dict[str, Calendar],
    first: date,
    last: date,
) -> None:
    """Create `calendar_intervals` (calendar, start_utc, end_utc, cum_before, cum_after)."""
    rows = []
    for name in sorted(calendars):
        cumulative = 0.0
        for start, end in open_intervals(calendars[name], first, last):
            length = (end - start).total_seconds()
            rows.append((name, start, end, cumulative, cumulative + length))
            cumulative += length
    con.execute(
        f"CREATE OR REPLACE TABLE {INTERVALS_TABLE} (calendar VARCHAR, start_utc TIMESTAMPTZ, "
        "end_utc TIMESTAMPTZ, cum_before DOUBLE, cum_after DOUBLE)"
    )
    if rows:
        con.executemany(f"INSERT INTO {INTERVALS_TABLE} VALUES (?, ?, ?, ?, ?)", rows)


def position_sql(table: str, calendar_column: str, instant: str, alias: str) -> str:
    """SELECT adding `alias` = B(instant) (open seconds) to every row of `table`.

    Rows whose calendar is NULL or whose instant is NULL get NULL.
    """
    return f"""
        SELECT t.*,
            CASE WHEN t.{instant} IS NULL OR t.{calendar_column} IS NULL THEN NULL
                 WHEN c.start_utc IS NULL THEN 0.0
                 ELSE c.cum_before + least(greatest(
                     (epoch_us(t.{instant}) - epoch_us(c.start_utc)) / 1e6, 0.0),
                     c.cum_after - c.cum_before)
            END AS {alias}
        FROM {table} t
        ASOF LEFT JOIN {INTERVALS_TABLE} c
            ON c.calendar = t.{calendar_column} AND t.{instant} >= c.start_utc
    """


def deadline_sql(table: str, calendar_column: str, target_position: str, alias: str) -> str:
    """SELECT adding `alias` = the earliest instant at which B reaches `target_position`."""
    return f"""
        SELECT t.*,
            CASE WHEN t.{target_position} IS NULL OR t.{calendar_column} IS NULL THEN NULL
                 WHEN c.start_utc IS NULL THEN NULL
                 WHEN t.{target_position} > c.cum_after THEN NULL
                 ELSE c.start_utc + to_microseconds(CAST(round(
                     (t.{target_position} - c.cum_before) * 1e6) AS BIGINT))
            END AS {alias}
        FROM {table} t
        ASOF LEFT JOIN {INTERVALS_TABLE} c
            ON c.calendar = t.{calendar_column} AND t.{target_position} > c.cum_before
    """


def business_minutes(
    calendar: Calendar, pairs: list[tuple[datetime, datetime]]
) -> list[float]:
    """Business minutes between each (t0, t1) pair, through the same engine SQL as the build."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    instants = [t for pair in pairs for t in pair]
    first = min(t.astimezone(ZoneInfo(calendar.timezone)).date() for t in instants)
    last = max(t.astimezone(ZoneInfo(calendar.timezone)).date() for t in instants)
    create_calendar_table(con, {calendar.name: calendar}, first - timedelta(days=1),
                          last + timedelta(days=1))
    con.execute("CREATE TABLE pairs (i INTEGER, cal VARCHAR, t0 TIMESTAMPTZ, t1 TIMESTAMPTZ)")
    con.executemany(
        "INSERT INTO pairs VALUES (?, ?, ?, ?)",
        [(i, calendar.name, t0, t1) for i, (t0, t1) in enumerate(pairs)],
    )
    con.execute(f"CREATE TABLE p0 AS {position_sql('pairs', 'cal', 't0', 'b0')}")
    con.execute(f"CREATE TABLE p1 AS {position_sql('p0', 'cal', 't1', 'b1')}")
    rows = con.execute("SELECT (b1 - b0) / 60 FROM p1 ORDER BY i").fetchall()
    return [row[0] for row in rows]
