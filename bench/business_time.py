"""Benchmark the business-time engine alone: N interactions, every one on the business clock.

    python bench/business_time.py --rows 1000000

Builds N random (received, answered) pairs over a year in DuckDB, a Mon–Fri 08:00–12:30 and
13:30–18:00 Europe/London calendar with holidays, then times the three ASOF joins the build
uses (position of receipt, position of the reply, deadline of a 24 open-hour target).
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from datetime import time as clock_time

from generator.build import connect
from generator.config.clock import create_calendar_table, deadline_sql, position_sql
from generator.config.loader import Calendar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    con = connect()
    calendar = Calendar(
        "office", "Europe/London",
        {d: ((clock_time(8), clock_time(12, 30)), (clock_time(13, 30), clock_time(18)))
         for d in ("mon", "tue", "wed", "thu", "fri")},
        (date(2025, 12, 25), date(2025, 12, 26), date(2025, 8, 25)),
    )
    started = time.perf_counter()
    create_calendar_table(con, {"office": calendar}, date(2024, 12, 30), date(2026, 3, 31))
    calendar_seconds = time.perf_counter() - started
    con.execute(
        f"""CREATE TABLE pairs AS SELECT i AS row_key, 'office' AS cal,
            TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_seconds(hash(i, 1) % (364 * 86400)) AS t0,
            NULL::TIMESTAMPTZ AS t1, 24 * 60.0 AS target_minutes FROM range({rows}) r(i)"""
    )
    con.execute("UPDATE pairs SET t1 = t0 + to_seconds(hash(row_key, 2) % (3 * 86400))")
    started = time.perf_counter()
    con.execute("CREATE TABLE p0 AS " + position_sql("pairs", "cal", "t0", "b0"))
    con.execute("CREATE TABLE p1 AS " + position_sql("p0", "cal", "t1", "b1"))
    con.execute("CREATE TABLE p2 AS SELECT *, b0 + target_minutes * 60 AS due FROM p1")
    con.execute("CREATE TABLE p3 AS " + deadline_sql("p2", "cal", "due", "deadline"))
    joins = time.perf_counter() - started
    mean = con.execute("SELECT avg((b1 - b0) / 60) FROM p3").fetchone()[0]  # type: ignore[index]
    print(f"{rows} interactions: calendar table {calendar_seconds:.3f}s, business minutes and "
          f"deadlines {joins:.2f}s ({rows / joins / 1e6:.2f}M rows/s); mean {mean:.1f} min")


if __name__ == "__main__":
    main()
