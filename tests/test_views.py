"""The views beyond the scorecard (SPEC §5.1): hour of week (data/hourly.csv) and
first-response brackets (data/brackets.csv), hand-computed on a small project across the end
of British Summer Time (Sunday 2026-10-25, 02:00 BST -> 01:00 GMT: the hour 01:00-02:00 is
lived twice)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from generator.build import build
from generator.errors import ConfigError

CONFIG = """
site:
  title: DST views
  timezone: Europe/London
  periods: [week]
  history: 4
  data_through: 2026-10-27T12:00:00+00:00
sources:
  - name: desk
    path: exports/*.csv
    timezone: UTC
policy:
  first_response:
    - {within: 60m}
  goals:
    sla_attainment: {min: 0.9}
"""

# Times in UTC. 1 and 2 are both received at 01:30 on Sunday local time (BST, then GMT).
ROWS = """
id,received_at,first_response_at,channel,needs_reply
1,2026-10-25T00:30:00Z,2026-10-25T00:35:00Z,twitter,true
2,2026-10-25T01:30:00Z,2026-10-25T01:45:00Z,twitter,true
3,2026-10-25T01:10:00Z,,twitter,true
8,2026-10-25T01:45:00Z,,twitter,false
7,2026-10-21T09:00:00Z,2026-10-21T10:01:00Z,twitter,true
9,2026-10-26T08:00:00Z,2026-10-27T09:00:00Z,email,true
4,2026-10-27T11:30:00Z,,twitter,true
5,2026-10-27T11:00:00Z,,twitter,true
6,2026-10-27T10:59:00Z,,twitter,true
"""


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture
def built(project, tmp_path: Path) -> Path:
    config = project({"exports/w1.csv": ROWS}, CONFIG)
    build(config, output=tmp_path / "out", use_cache=False)
    return tmp_path / "out"


def _cell(rows: list[dict[str, str]], weekday: int, hour: int, metric: str,
          segment: tuple[str, str] = ("all", "all")) -> tuple[str, str]:
    found = [r for r in rows if (r["dimension"], r["segment"]) == segment
             and r["weekday"] == str(weekday) and r["hour"] == str(hour)
             and r["metric"] == metric]
    assert len(found) == 1
    return found[0]["value"], found[0]["n"]


def test_hourly_csv_puts_both_sunday_01_30s_of_the_dst_change_in_one_cell(built):
    rows = _rows(built / "data" / "hourly.csv")
    # Sunday 01:00-02:00 local: 1 (01:30 BST, 5 min), 2 (01:30 GMT, 15 min), 3 (01:10 GMT,
    # unanswered, due 02:10 GMT: overdue), 8 (needs no reply: volume only).
    assert _cell(rows, 7, 1, "volume") == ("4", "")
    assert _cell(rows, 7, 1, "frt_median") == ("10", "2")
    assert _cell(rows, 7, 1, "sla_attainment") == (repr(2 / 3), "3")
    assert _cell(rows, 7, 0, "volume") == ("0", "")  # 00:30 UTC is 01:30 BST, not 00:30
    assert _cell(rows, 7, 2, "volume") == ("0", "")
    assert _cell(rows, 7, 2, "frt_median") == ("", "0")
    # Wednesday 10:00 BST (09:00 UTC): 61 minutes, late.
    assert _cell(rows, 3, 10, "frt_median") == ("61", "1")
    assert _cell(rows, 3, 10, "sla_attainment") == ("0", "1")
    # Tuesday after the change (GMT = UTC): 4 and 5 are unanswered and not yet overdue (5 is
    # due exactly at data-through: "before data-through" is strict), 6 is overdue.
    assert _cell(rows, 2, 11, "volume") == ("2", "")
    assert _cell(rows, 2, 11, "sla_attainment") == ("", "0")
    assert _cell(rows, 2, 10, "sla_attainment") == ("0", "1")
    assert _cell(rows, 1, 8, "frt_median") == ("1500", "1")


def test_hourly_csv_has_168_cells_of_three_metrics_per_segment(built):
    rows = _rows(built / "data" / "hourly.csv")
    assert list(rows[0]) == ["dimension", "segment", "weekday", "hour", "metric", "value", "n"]
    segments = [("all", "all"), ("channel", "email"), ("channel", "twitter")]
    assert [(r["dimension"], r["segment"]) for r in rows[::504]] == segments
    assert len(rows) == 3 * 168 * 3
    assert [r["metric"] for r in rows[:3]] == ["volume", "frt_median", "sla_attainment"]
    assert _cell(rows, 1, 8, "volume", ("channel", "email")) == ("1", "")
    assert _cell(rows, 7, 1, "volume", ("channel", "email")) == ("0", "")


def _brackets(rows: list[dict[str, str]], period: str,
              segment: tuple[str, str] = ("all", "all")) -> dict[str, str]:
    return {r["bracket"]: r["count"] for r in rows if r["period"] == period
            and (r["dimension"], r["segment"]) == segment}


def test_brackets_csv_counts_edges_inclusively_and_unanswered_by_deadline(built):
    rows = _rows(built / "data" / "brackets.csv")
    assert list(rows[0]) == ["granularity", "period", "period_start", "period_end", "partial",
                             "dimension", "segment", "bracket", "upper_minutes", "count"]
    # W43: 1 answered in exactly 5 minutes, 2 in exactly 15, 7 in 61; 3 overdue; 8 excluded.
    assert _brackets(rows, "2026-W43") == {
        "<=5m": "1", "<=15m": "1", "<=60m": "0", "<=4h": "1", "<=24h": "0", "later": "0",
        "unanswered_in_time": "0", "unanswered_overdue": "1"}
    # W44 (partial): 9 answered after 25 hours; 4 and 5 not yet due; 6 overdue.
    assert _brackets(rows, "2026-W44") == {
        "<=5m": "0", "<=15m": "0", "<=60m": "0", "<=4h": "0", "<=24h": "0", "later": "1",
        "unanswered_in_time": "2", "unanswered_overdue": "1"}
    assert _brackets(rows, "2026-W44", ("channel", "email"))["later"] == "1"
    first = rows[0]
    assert (first["period"], first["period_start"], first["period_end"], first["partial"],
            first["upper_minutes"]) == ("2026-W43", "2026-10-19", "2026-10-26", "false", "5")
    assert [r["upper_minutes"] for r in rows[5:8]] == ["", "", ""]
    assert rows[-1]["partial"] == "true"


def test_brackets_of_a_period_and_segment_add_up_to_its_actionable_count(built):
    brackets = _rows(built / "data" / "brackets.csv")
    figures = _rows(built / "data" / "figures.csv")
    actionable = {(r["period"], r["dimension"], r["segment"]): int(r["value"])
                  for r in figures if r["metric"] == "actionable"}
    sums: dict[tuple[str, str, str], int] = {}
    for r in brackets:
        key = (r["period"], r["dimension"], r["segment"])
        sums[key] = sums.get(key, 0) + int(r["count"])
    assert sums == actionable


def test_bracket_edges_are_configurable(project, tmp_path):
    config = project({"exports/w1.csv": ROWS},
                     CONFIG.replace("  history: 4\n", "  history: 4\n  brackets: [5m, 2h]\n"))
    build(config, output=tmp_path / "out", use_cache=False)
    rows = _rows(tmp_path / "out" / "data" / "brackets.csv")
    assert _brackets(rows, "2026-W43") == {
        "<=5m": "1", "<=2h": "2", "later": "0", "unanswered_in_time": "0",
        "unanswered_overdue": "1"}


@pytest.mark.parametrize(("value", "message"), [
    ("[15m, 5m]", "config.yaml:6: site.brackets: expected durations in increasing order, "
                  "like [5m, 15m, 60m, 4h, 24h], found '[15m, 5m]'."),
    ("[5m, soon]", "config.yaml:6: site.brackets[1]: expected a duration like '60m' or '4h', "
                   "found 'soon'."),
])
def test_bad_bracket_edges_are_a_config_error_naming_the_line(project, tmp_path, value,
                                                               message):
    config = project({"exports/w1.csv": ROWS},
                     CONFIG.replace("  history: 4\n", f"  history: 4\n  brackets: {value}\n"))
    with pytest.raises(ConfigError) as caught:
        build(config, output=tmp_path / "out", use_cache=False)
    assert message in str(caught.value)
