"""Policy versions, blackouts, error budget, year-ago comparisons and the sentiment metrics,
each against hand-computed values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import check
from generator.model import Figure

HEADER = "id,received_at,first_response_at,channel,category\n"


def figures_of(config: Path) -> dict[tuple[str, str, str, str], Figure]:
    checked = check(config)
    return {(f.granularity, f.period, f.segment, f.metric): f for f in checked.figures.rows}


# max_future: the last case comes four days after the others (2 days would reject it).
VERSIONED = """
site: {title: V, timezone: UTC, periods: [week], data_through: "2026-11-16T00:00:00+00:00"}
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC, columns: {category: category},
     max_future: 7d}
policy:
  first_response: [{within: 60m}]
  goals: {sla_attainment: {min: 0.9}}
  versions:
    - valid_from: 2026-11-04
      first_response: [{within: 30m}]
      exclude: [{name: praise, where: {category: praise}}]
      goals: {sla_attainment: {min: 0.5}}
"""


def test_each_interaction_is_judged_by_the_version_in_force_at_receipt(
    project: Callable[..., Path],
) -> None:
    rows = HEADER + (
        "d,2026-11-02 10:00:00,2026-11-02 10:10:00,twitter,praise\n"  # v1: counted, on time
        "a,2026-11-03 10:00:00,2026-11-03 10:45:00,twitter,question\n"  # v1: 45 <= 60
        "b,2026-11-04 10:00:00,2026-11-04 10:45:00,twitter,question\n"  # v2: 45 > 30, late
        "c,2026-11-05 10:00:00,,twitter,praise\n"  # v2: excluded as praise
        "e,2026-11-09 10:00:00,2026-11-09 10:20:00,twitter,question\n"  # v2: on time
    )
    config = project({"exports/w.csv": rows}, VERSIONED)
    checked = check(config)
    figures = {(f.period, f.metric): f for f in checked.figures.rows if f.segment == "all"}
    w45 = figures[("2026-W45", "sla_attainment")]
    assert (w45.value, w45.n) == (pytest.approx(2 / 3), 3)
    # A period's goals are those in force at its start: W45 starts 2 Nov, before v2.
    assert (w45.goal, w45.status) == (0.9, "red")
    w46 = figures[("2026-W46", "sla_attainment")]
    assert (w46.value, w46.goal, w46.status) == (1.0, 0.5, "green")
    assert figures[("2026-W45", "actionable")].value == 3
    assert checked.quality.exclusions == {"praise": 1}


BLACKOUT = """
site: {title: B, timezone: Europe/London, periods: [week]}
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC}
policy:
  first_response: [{within: 60m}]
  blackouts:
    - {start: 2026-11-03T09:00, end: 2026-11-03T12:00, reason: Outage, where: {channel: twitter}}
"""


def test_blackout_removes_interactions_from_sla_only_and_counts_them(
    project: Callable[..., Path],
) -> None:
    rows = HEADER + (
        "x1,2026-11-03 10:00:00,2026-11-03 11:30:00,twitter,q\n"  # inside, in scope: left out
        "x2,2026-11-03 10:00:00,2026-11-03 11:30:00,email,q\n"  # inside, out of scope: late
        "x3,2026-11-03 12:00:00,2026-11-03 12:10:00,twitter,q\n"  # end is exclusive: on time
    )
    config = project({"exports/w.csv": rows}, BLACKOUT)
    checked = check(config)
    figures = {(f.segment, f.metric): f for f in checked.figures.rows}
    assert (figures[("all", "sla_attainment")].value, figures[("all", "sla_attainment")].n) == (
        0.5, 2)
    assert figures[("all", "response_rate")].value == 1.0
    assert figures[("all", "frt_median")].n == 3
    assert checked.quality.blackouts == {"Outage": 1}


BUDGET = """
site: {title: E, timezone: UTC, periods: [month], data_through: "2026-11-20T00:00:00+00:00"}
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC}
policy:
  first_response: [{within: 60m}]
  goals: {sla_attainment: {min: 0.9}}
  error_budget: {metric: sla_attainment, window: month}
"""


def test_error_budget_arithmetic(project: Callable[..., Path]) -> None:
    rows = [HEADER.strip()]
    for i in range(20):  # 17 on time, 3 late, all in November on twitter
        reply = "10:30:00" if i < 17 else "11:30:00"
        rows.append(f"i{i},2026-11-{i % 9 + 1:02d} 10:00:00,2026-11-{i % 9 + 1:02d} {reply},twitter,q")
    rows.append("late,2026-11-19 23:30:00,,twitter,q")  # due 00:30 on the 20th: not yet eligible
    rows.append("oct,2026-10-30 10:00:00,,twitter,q")  # October: outside the window
    config = project({"exports/w.csv": "\n".join(rows) + "\n"}, BUDGET)
    budgets = {(b.dimension, b.segment): b for b in check(config).figures.budgets}
    total = budgets[("all", "all")]
    assert total.window == "2026-11"
    assert (total.eligible, total.breaches) == (20, 3)
    assert total.allowed == pytest.approx(2.0)  # (1 - 0.9) * 20
    assert total.remaining == pytest.approx(-1.0)
    assert total.burn_rate == pytest.approx(1.5)  # (3 / 20) / 0.1
    assert total.on_track is False
    assert budgets[("channel", "twitter")].eligible == 20


YEARS = """
site: {title: Y, timezone: UTC, periods: [week, month], min_n: 1,
       data_through: 2026-12-01T00:00:00+00:00}  # complete periods: compared in full
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC}
"""


def test_year_ago_comparison_uses_same_iso_week_and_month(project: Callable[..., Path]) -> None:
    rows = HEADER + (
        "p1,2025-11-12 10:00:00,2025-11-12 10:10:00,twitter,q\n"  # 2025-W46
        "p2,2025-11-12 11:00:00,,twitter,q\n"
        "n1,2026-11-11 10:00:00,2026-11-11 10:10:00,twitter,q\n"  # 2026-W46
        "n2,2026-11-11 11:00:00,2026-11-11 11:10:00,twitter,q\n"
        "n3,2026-11-11 12:00:00,2026-11-11 12:10:00,twitter,q\n"
    )
    figures = figures_of(project({"exports/w.csv": rows}, YEARS))
    volume = figures[("week", "2026-W46", "all", "volume")]
    assert (volume.year_ago_value, volume.year_ago_change) == (2, 50.0)  # type: ignore[attr-defined]
    rate = figures[("month", "2026-11", "all", "response_rate")]
    assert (rate.year_ago_value, rate.year_ago_change) == (0.5, 50.0)  # type: ignore[attr-defined]
    # The previous week (2026-W45) is empty: volume 0 -> no percentage change.
    assert volume.previous_value == 0 and volume.change is None  # type: ignore[attr-defined]
    assert figures[("week", "2025-W46", "all", "volume")].year_ago_value is None  # type: ignore[attr-defined]


SENTIMENT = """
site: {title: S, timezone: UTC, periods: [week]}
sources:
  - name: desk
    path: exports/*.csv
    timezone: UTC
"""


def test_sentiment_recovery_private_move_and_exposed_reach(project: Callable[..., Path]) -> None:
    rows = (
        "id,received_at,first_response_at,channel,sentiment_start,sentiment_end,public,"
        "moved_private,reach\n"
        "s1,2026-11-02 10:00:00,2026-11-02 10:05:00,twitter,-0.5,0.2,true,true,100\n"
        "s2,2026-11-02 11:00:00,,twitter,negative,negative,true,false,50\n"
        "s3,2026-11-02 12:00:00,2026-11-02 12:05:00,twitter,0.03,,false,,10\n"
        "s4,2026-11-02 13:00:00,2026-11-02 13:05:00,twitter,positive,,true,true,\n"
        "s5,2026-11-02 14:00:00,,twitter,-0.2,,,,1000\n"
        "s6,2026-11-02 15:00:00,2026-11-02 15:05:00,twitter,,,,,\n"
    )
    figures = figures_of(project({"exports/w.csv": rows}, SENTIMENT))
    get = lambda m: figures[("week", "2026-W45", "all", m)]  # noqa: E731
    # classified s1-s5; positive s4; negative s1 s2 s5 -> (1 - 3) / 5
    assert (get("net_sentiment").value, get("net_sentiment").n) == (pytest.approx(-0.4), 5)
    # negative start with an end: s1 (recovered), s2 (not) -> 1 / 2
    assert (get("recovery_rate").value, get("recovery_rate").n) == (0.5, 2)
    # public: s1 s2 s4; moved: s1 s4 -> 2 / 3
    assert (get("private_move_rate").value, get("private_move_rate").n) == (pytest.approx(2 / 3), 3)
    # negative start and unanswered: s2 (50) + s5 (1000)
    assert get("exposed_reach").value == 1050


CUSTOM = """
site: {title: C, timezone: UTC, periods: [week]}
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC, dimensions: [category]}
policy:
  goals: {complaint_share: {max: 0.4}}
  custom_metrics:
    - {id: complaint_share, label: Complaint share, ratio: {numerator: "category == 'complaint'"}}
    - id: fast
      label: Answered within 15 minutes
      ratio: {numerator: "frt_minutes <= 15", denominator: "frt_minutes != null"}
    - {id: mean_reach, label: Mean reach, aggregate: "sum(reach) / count()", unit: count}
"""


def test_custom_metrics_appear_in_figures_like_built_in_ones(project: Callable[..., Path]) -> None:
    rows = (
        "id,received_at,first_response_at,channel,category,reach\n"
        "a,2026-11-02 10:00:00,2026-11-02 10:10:00,twitter,complaint,100\n"
        "b,2026-11-02 11:00:00,2026-11-02 11:20:00,twitter,complaint,0\n"
        "c,2026-11-02 12:00:00,2026-11-02 12:05:00,twitter,question,50\n"
        "d,2026-11-02 13:00:00,,twitter,question,10\n"
    )
    figures = figures_of(project({"exports/w.csv": rows}, CUSTOM))
    share = figures[("week", "2026-W45", "all", "complaint_share")]
    assert (share.value, share.n, share.goal, share.status) == (0.5, 4, 0.4, "red")  # type: ignore[attr-defined]
    fast = figures[("week", "2026-W45", "all", "fast")]
    assert (fast.value, fast.n) == (pytest.approx(2 / 3), 3)  # type: ignore[attr-defined]
    assert figures[("week", "2026-W45", "all", "mean_reach")].value == 40  # type: ignore[attr-defined]
    # Per segment: complaints are all complaints.
    assert figures[("week", "2026-W45", "complaint", "complaint_share")].value == 1.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "window, days, label, start, end",
    [
        ("month", 28, "2026-11", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
        ("quarter", 28, "2026-Q4", "2026-10-01T00:00:00+01:00", "2027-01-01T00:00:00+00:00"),
        ("rolling", 7, "7 days to 2026-11-20", "2026-11-13T00:00:00+00:00",
         "2026-11-20T00:00:00+00:00"),
    ],
)
def test_error_budget_windows_in_the_reporting_timezone(
    window: str, days: int, label: str, start: str, end: str
) -> None:
    from datetime import datetime, timezone

    from generator.config.loader import Config, ErrorBudget, Policy, SiteConfig
    from generator.figures.budget import budget_window

    config = Config(
        path=Path("config.yaml"),
        site=SiteConfig(timezone="Europe/London"),
        sources=(),
        policy=Policy(error_budget=ErrorBudget("sla_attainment", window, days)),
    )
    through = datetime(2026, 11, 20, tzinfo=timezone.utc)
    got_label, got_start, got_end = budget_window(config, through)
    assert got_label == label
    assert got_start.isoformat() == start and got_end.isoformat() == end


@pytest.mark.parametrize(
    ("granularity", "partial", "compared", "through", "cut"),
    [
        # Wednesday 14:52 matches Wednesday 14:52 across the end of summer time (25 Oct 2026):
        # 14:52 GMT in the partial week, 14:52 BST (13:52 UTC) in the week before.
        ("week", "2026-10-26", "2026-10-19", "2026-10-28T14:52:00+00:00",
         "2026-10-21T13:52:00+00:00"),
        # 30 days and 10 hours into March run past the end of February: capped at its end.
        ("month", "2026-03-01", "2026-02-01", "2026-03-31T10:00:00+01:00",
         "2026-03-01T00:00:00+00:00"),
        ("month", "2026-03-01", "2025-03-01", "2026-03-31T10:00:00+01:00",
         "2025-03-31T09:00:00+00:00"),
    ],
)
def test_the_comparison_cut_is_the_same_wall_clock_offset_capped_at_the_period_end(
    granularity: str, partial: str, compared: str, through: str, cut: str
) -> None:
    from datetime import date, datetime, timezone
    from zoneinfo import ZoneInfo

    from generator.config.periods import next_start, period_label, same_offset
    from generator.model import Period

    def period(start: str) -> Period:
        first = date.fromisoformat(start)
        return Period(granularity, period_label(first, granularity), first,
                      next_start(first, granularity), False)

    got = same_offset(period(partial), datetime.fromisoformat(through), period(compared),
                      ZoneInfo("Europe/London"))
    assert got.astimezone(timezone.utc) == datetime.fromisoformat(cut)
