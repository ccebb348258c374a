"""Business time, computed by hand for the awkward cases (SPEC §4.3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.build import check
from generator.config.clock import business_minutes
from generator.config.loader import Calendar

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = WEEKDAYS + ("sat", "sun")


def calendar(tz: str, days: tuple[str, ...], *intervals: tuple[time, time],
             holidays: tuple[date, ...] = ()) -> Calendar:
    return Calendar("test", tz, {d: tuple(intervals) for d in days}, holidays)


NINE_TO_FIVE = calendar("Europe/London", WEEKDAYS, (time(9), time(17)),
                        holidays=(date(2026, 12, 25),))
LUNCH_BREAK = calendar("Europe/London", WEEKDAYS, (time(8), time(12, 30)),
                       (time(13, 30), time(18)))
DAILY_LONDON = calendar("Europe/London", ALL_DAYS, (time(9), time(17)))
DAILY_NEW_YORK = calendar("America/New_York", ALL_DAYS, (time(9), time(17)))
SUNDAY_ALL_DAY = calendar("Europe/London", ("sun",), (time(0), time(0)))  # 00:00-24:00
NY_OFFICE = calendar("America/New_York", WEEKDAYS, (time(9), time(17)))


def ldn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def nyc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


CASES = [
    # (what, calendar, t0, t1, business minutes by hand)
    ("within one open interval", NINE_TO_FIVE, ldn(2026, 11, 23, 10), ldn(2026, 11, 23, 11, 30), 90),
    ("spanning a night: 16-17 + 9-10", NINE_TO_FIVE, ldn(2026, 11, 23, 16), ldn(2026, 11, 24, 10), 120),
    ("spanning a weekend: Fri 16-17 + Mon 9-10", NINE_TO_FIVE, ldn(2026, 11, 27, 16),
     ldn(2026, 11, 30, 10), 120),
    ("holiday Fri 25 Dec: Thu 16-17 + Mon 9-10", NINE_TO_FIVE, ldn(2026, 12, 24, 16),
     ldn(2026, 12, 28, 10), 120),
    ("received and answered while closed (Saturday)", NINE_TO_FIVE, ldn(2026, 11, 28, 10),
     ldn(2026, 11, 28, 12), 0),
    ("received and answered while closed (overnight)", NINE_TO_FIVE, ldn(2026, 11, 23, 18),
     ldn(2026, 11, 24, 8, 59), 0),
    ("London spring forward: Sat 12-17 + Sun 9-12 (23 h apart)", DAILY_LONDON,
     ldn(2026, 3, 28, 12), ldn(2026, 3, 29, 12), 480),
    ("London fall back: Sat 12-17 + Sun 9-12 (25 h apart)", DAILY_LONDON,
     ldn(2026, 10, 24, 12), ldn(2026, 10, 25, 12), 480),
    ("London spring-forward day open 00:00-24:00 is 23 hours", SUNDAY_ALL_DAY,
     ldn(2026, 3, 29, 0), ldn(2026, 3, 30, 0), 23 * 60),
    ("London fall-back day open 00:00-24:00 is 25 hours", SUNDAY_ALL_DAY,
     ldn(2026, 10, 25, 0), ldn(2026, 10, 26, 0), 25 * 60),
    ("New York spring forward: Sat 12-17 + Sun 9-12", DAILY_NEW_YORK,
     nyc(2026, 3, 7, 12), nyc(2026, 3, 8, 12), 480),
    ("New York fall-back day 09:00-17:00 is 8 hours", DAILY_NEW_YORK,
     nyc(2026, 11, 1, 8), nyc(2026, 11, 1, 18), 480),
    ("two intervals in one day (lunch break): 12-12:30 + 13:30-14", LUNCH_BREAK,
     ldn(2026, 11, 23, 12), ldn(2026, 11, 23, 14), 60),
    ("calendar in another timezone: 14:00-22:00 UTC is 09:00-17:00 EST", NY_OFFICE,
     utc(2026, 11, 23, 14), utc(2026, 11, 23, 22), 480),
    ("calendar in another timezone: 13:00-15:00 UTC opens at 14:00 UTC", NY_OFFICE,
     utc(2026, 11, 23, 13), utc(2026, 11, 23, 15), 60),
]


@pytest.mark.parametrize("what, cal, t0, t1, expected", CASES, ids=[c[0] for c in CASES])
def test_business_minutes_match_hand_computation(
    what: str, cal: Calendar, t0: datetime, t1: datetime, expected: float
) -> None:
    assert business_minutes(cal, [(t0, t1)]) == [pytest.approx(expected)]


NINE_TO_FIVE_CASES = [(c[2], c[3], c[4]) for c in CASES if c[1] is NINE_TO_FIVE]


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(len(NINE_TO_FIVE_CASES))))
def test_business_minutes_do_not_depend_on_the_order_of_rows(order: list[int]) -> None:
    pairs = [NINE_TO_FIVE_CASES[i][:2] for i in order]
    answers = business_minutes(NINE_TO_FIVE, pairs)
    assert answers == pytest.approx([NINE_TO_FIVE_CASES[i][2] for i in order])


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(timezone.utc)
)


@settings(max_examples=40, deadline=None)
@given(a=instants, b=instants, c=instants)
def test_business_time_is_at_most_elapsed_and_additive(a: datetime, b: datetime, c: datetime) -> None:
    t0, t1, t2 = sorted((a, b, c))
    whole, first, second = business_minutes(LUNCH_BREAK, [(t0, t2), (t0, t1), (t1, t2)])
    assert 0 <= whole <= (t2 - t0).total_seconds() / 60 + 1e-6
    assert whole == pytest.approx(first + second, abs=1e-6)


BUSINESS_CONFIG = """
site: {title: Business clock, timezone: Europe/London, periods: [week],
       data_through: "2026-11-27T12:00:00+00:00"}
sources:
  - {name: desk, path: exports/*.csv, timezone: Europe/London}
calendars:
  office:
    timezone: Europe/London
    hours: {mon-fri: ["09:00-17:00"]}
    holidays: [2026-11-26]
policy:
  first_response:
    - {where: {channel: email}, within: 4h, clock: business, calendar: office}
    - {within: 60m}
"""


def test_business_targets_drive_frt_and_sla(project: Callable[..., Path]) -> None:
    rows = (
        "id,received_at,first_response_at,channel\n"
        # Fri 20 Nov 16:00 -> Mon 23 Nov 11:00: 60 + 120 = 180 open minutes, on time.
        "e1,2026-11-20 16:00:00,2026-11-23 11:00:00,email\n"
        # Mon 23 Nov 15:00 -> Tue 24 Nov 12:00: 120 + 180 = 300 open minutes, late.
        "e2,2026-11-23 15:00:00,2026-11-24 12:00:00,email\n"
        # Wed 25 Nov 16:00, unanswered: due Fri 27 Nov 12:00 (Thu is a holiday): 16-17 (60)
        # + Fri 09-12 (180) = 4 h; data-through is Fri 12:00 exactly, so not yet overdue.
        "e3,2026-11-25 16:00:00,,email\n"
        # Tue 24 Nov 13:00, unanswered: due Tue 17:00; overdue at data-through.
        "e4,2026-11-24 13:00:00,,email\n"
    )
    config = project({"exports/w.csv": rows}, BUSINESS_CONFIG)
    figures = {(f.period, f.segment, f.metric): f for f in check(config).figures.rows}
    assert figures[("2026-W47", "all", "frt_median")].value == 180
    w48 = {m: figures[("2026-W48", "all", m)] for m in ("frt_median", "frt_mean", "sla_attainment")}
    assert w48["frt_median"].value == 300
    # W48: e2 late (answered), e4 overdue, e3 not yet due -> 0 / 2.
    assert (w48["sla_attainment"].value, w48["sla_attainment"].n) == (0.0, 2)
    assert (figures[("2026-W47", "all", "sla_attainment")].value,
            figures[("2026-W47", "all", "sla_attainment")].n) == (1.0, 1)


def test_zero_length_span_is_zero_business_time() -> None:
    # Received and answered in the same instant while open.
    t = ldn(2026, 11, 23, 10)
    assert business_minutes(NINE_TO_FIVE, [(t, t + timedelta(0))]) == [0]
