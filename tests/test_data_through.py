"""Several sources, one stopped: data-through, partial periods and figures as of data-through
(SPEC §4.1, issue 15 item 4).

Two help desks (times UTC, day periods, default target: respond within 60 minutes):
  desk  a1 received 03-02 09:00, response 09:30, resolved 03-02 12:00 (3 h)
        a2 received 03-03 10:00, no response            -> desk's latest: 03-03 10:00
  chat  b1 received 03-02 11:00, response 11:10, resolved 03-04 08:00 (45 h)
        b2 received 03-03 09:30, response 10:20 (50 min)
        b3 received 03-04 09:00, response 09:05
        b4 received 03-05 09:00, no response            -> chat's latest: 03-05 09:00
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from generator.build import build, check
from generator.cli import main

DESK = """
    id,received_at,channel,first_response_at,resolved_at
    a1,2026-03-02T09:00:00Z,email,2026-03-02T09:30:00Z,2026-03-02T12:00:00Z
    a2,2026-03-03T10:00:00Z,email,,
"""
CHAT = """
    id,received_at,channel,first_response_at,resolved_at
    b1,2026-03-02T11:00:00Z,chat,2026-03-02T11:10:00Z,2026-03-04T08:00:00Z
    b2,2026-03-03T09:30:00Z,chat,2026-03-03T10:20:00Z,
    b3,2026-03-04T09:00:00Z,chat,2026-03-04T09:05:00Z,
    b4,2026-03-05T09:00:00Z,chat,,
"""


def two_desks(project: Callable[..., Path], closed: str = "") -> Path:
    return project({"exports/desk.csv": DESK, "exports/chat.csv": CHAT}, f"""
        site: {{title: Two desks, timezone: UTC, periods: [day]}}
        sources:
          - {{name: desk, path: exports/desk.csv{closed}}}
          - {{name: chat, path: exports/chat.csv}}
    """)


METRICS = ("volume", "response_rate", "frt_median", "sla_attainment", "backlog",
           "resolution_rate", "resolution_median")


def all_figures(config: Path) -> tuple[dict[str, bool], dict[tuple[str, str], float | None]]:
    """(period -> partial, (period, metric) -> value) of segment all."""
    figures = check(config).figures
    partial = {p.label: p.partial for p in figures.periods["day"]}
    values = {(f.period, f.metric): f.value for f in figures.rows
              if f.dimension == "all" and f.metric in METRICS}
    return partial, values


def test_figures_are_as_of_data_through(project: Callable[..., Path]) -> None:
    # Data-through = the earlier of the two sources' latest times: desk's 03-03 10:00. As of
    # then:
    #   03-02: volume 2; both answered (30, 10 min: median 20); a1 resolved (3 h), b1's
    #          resolution (03-04) has not happened yet: resolution rate 1/2 (before: 2/2),
    #          median 3 h (before: (3 + 45) / 2 = 24).
    #   03-03: volume 2; b2's reply (10:20) has not happened: none answered, response rate 0
    #          (before: 1/2), backlog 2 (before: 1); SLA: b2's deadline 10:30 and a2's 11:00 are
    #          after data-through, so nothing is eligible: no value (before: 1/1 = 1.0).
    config = two_desks(project)
    _, values = all_figures(config)
    assert values == {
        ("2026-03-02", "volume"): 2, ("2026-03-02", "response_rate"): 1.0,
        ("2026-03-02", "frt_median"): 20.0, ("2026-03-02", "sla_attainment"): 1.0,
        ("2026-03-02", "backlog"): 0, ("2026-03-02", "resolution_rate"): 0.5,
        ("2026-03-02", "resolution_median"): 3.0,
        ("2026-03-03", "volume"): 2, ("2026-03-03", "response_rate"): 0.0,
        ("2026-03-03", "frt_median"): None, ("2026-03-03", "sla_attainment"): None,
        ("2026-03-03", "backlog"): 2, ("2026-03-03", "resolution_rate"): 0.0,
        ("2026-03-03", "resolution_median"): None,
    }


def test_a_lagging_source_holds_the_site_back_and_only_the_period_holding_it_is_partial(
    project: Callable[..., Path],
) -> None:
    # Data-through = the earlier of the two: desk's 03-03 10:00. Only 03-03 is partial; 03-04
    # and 03-05 start after data-through and leave the grid (before the fix all three were
    # partial "so far" days).
    config = two_desks(project)
    partial, _ = all_figures(config)
    assert partial == {"2026-03-02": False, "2026-03-03": True}
    quality = check(config).quality
    assert quality.data_through == datetime(2026, 3, 3, 10, tzinfo=timezone.utc)
    # b3 and b4 are kept (the accounting balances) and counted as beyond data-through.
    assert [(b.source, b.period, b.interactions) for b in quality.beyond] == [
        ("chat", "2026-03-04", 1), ("chat", "2026-03-05", 1)]
    assert (quality.rows_read, sum(d.kept for d in quality.drops)) == (6, 6)


def test_the_data_quality_page_flags_the_periods_beyond_data_through(
    project: Callable[..., Path], tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    build(two_desks(project), output=out)
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (out / "data-quality.html").read_text()))
    assert "2 kept interactions were received after data-through" in page
    assert "chat 2026-03-04 1 chat 2026-03-05 1" in page
    # The overview's partial period is the one holding data-through (before: "so far:
    # 2026-03-05", a period that starts after it).
    overview = (out / "index.html").read_text()
    assert "so far: 2026-03-03" in overview
    assert "2026-03-05" not in overview
    summary = json.loads((out / "data" / "summary.json").read_text())
    assert (summary["data_through"], summary["latest_complete_period"]) == (
        "2026-03-03T10:00:00+00:00", "2026-03-02")


def test_a_closed_source_does_not_hold_the_site_back(project: Callable[..., Path]) -> None:
    # desk closed: data-through = chat's latest, 03-05 09:00; only 03-05 is partial and nothing
    # lies beyond. Every response and resolution has happened by then:
    #   03-02: resolution rate 2/2, median (3 + 45) / 2 = 24 h.
    #   03-03: b2 answered in 50 min (median 50), a2 not: response rate 1/2, backlog 1; SLA:
    #          b2 within 60 min, a2 overdue (deadline 11:00 before data-through): 1/2.
    #   03-04: b3 answered in 5 min.  03-05: b4 unanswered, deadline 10:00 after data-through.
    config = two_desks(project, closed=", closed: true")
    partial, values = all_figures(config)
    assert partial == {"2026-03-02": False, "2026-03-03": False, "2026-03-04": False,
                       "2026-03-05": True}
    assert values[("2026-03-02", "resolution_rate")] == 1.0
    assert values[("2026-03-02", "resolution_median")] == 24.0
    assert [values[("2026-03-03", m)] for m in METRICS] == [2, 0.5, 50.0, 0.5, 1, 0.0, None]
    assert [values[("2026-03-04", m)] for m in METRICS] == [1, 1.0, 5.0, 1.0, 0, 0.0, None]
    assert [values[("2026-03-05", m)] for m in METRICS] == [1, 0.0, None, None, 1, 0.0, None]
    quality = check(config).quality
    assert quality.data_through == datetime(2026, 3, 5, 9, tzinfo=timezone.utc)
    assert quality.beyond == ()
    assert quality.closed_sources == ("desk",)


def test_when_every_source_is_closed_data_through_is_the_latest_of_them(
    project: Callable[..., Path],
) -> None:
    config = project({"exports/desk.csv": DESK, "exports/chat.csv": CHAT}, """
        site: {title: Two desks, timezone: UTC, periods: [day]}
        sources:
          - {name: desk, path: exports/desk.csv, closed: true}
          - {name: chat, path: exports/chat.csv, closed: true}
    """)
    assert check(config).quality.data_through == datetime(2026, 3, 5, 9, tzinfo=timezone.utc)


def test_closed_must_be_a_boolean(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str],
) -> None:
    config = two_desks(project, closed=", closed: maybe")
    assert main(["check", "--config", str(config)]) == 2
    assert "config.yaml:3: sources[0].closed: expected true or false, found 'maybe'" in (
        capsys.readouterr().err)


def test_check_says_how_many_interactions_lie_beyond_data_through(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--config", str(two_desks(project)), "--quiet"]) == 0
    assert ("data through 2026-03-03T10:00:00+00:00 (2 interactions of chat received after it: "
            "in no figure until the lagging source catches up or is marked closed)") in (
                capsys.readouterr().out)
