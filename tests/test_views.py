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
          segment: tuple[str, str] = ("all", "all")) -> tuple[str, str] | None:
    found = [r for r in rows if (r["dimension"], r["segment"]) == segment
             and r["weekday"] == str(weekday) and r["hour"] == str(hour)
             and r["metric"] == metric]
    assert len(found) <= 1
    return (found[0]["value"], found[0]["n"]) if found else None


def test_hourly_csv_puts_both_sunday_01_30s_of_the_dst_change_in_one_cell(built):
    rows = _rows(built / "data" / "hourly.csv")
    # Sunday 01:00-02:00 local: 1 (01:30 BST, 5 min), 2 (01:30 GMT, 15 min), 3 (01:10 GMT,
    # unanswered, due 02:10 GMT: overdue), 8 (needs no reply: volume only).
    assert _cell(rows, 7, 1, "volume") == ("4", "")
    assert _cell(rows, 7, 1, "frt_median") == ("10", "2")
    assert _cell(rows, 7, 1, "sla_attainment") == (repr(2 / 3), "3")
    # 00:30 UTC is 01:30 BST, not 00:30; nothing was received at 02:00 (cells without
    # interactions are left out).
    assert _cell(rows, 7, 0, "volume") is None
    assert _cell(rows, 7, 2, "volume") is None
    # Wednesday 10:00 BST (09:00 UTC): 61 minutes, late.
    assert _cell(rows, 3, 10, "frt_median") == ("61", "1")
    assert _cell(rows, 3, 10, "sla_attainment") == ("0", "1")
    # Tuesday after the change (GMT = UTC): 4 and 5 are unanswered and not yet overdue (5 is
    # due exactly at data-through: "before data-through" is strict), 6 is overdue.
    assert _cell(rows, 2, 11, "volume") == ("2", "")
    assert _cell(rows, 2, 11, "sla_attainment") == ("", "0")
    assert _cell(rows, 2, 10, "sla_attainment") == ("0", "1")
    assert _cell(rows, 1, 8, "frt_median") == ("1500", "1")


def test_hourly_csv_has_the_cells_with_interactions_of_every_segment_in_order(built):
    rows = _rows(built / "data" / "hourly.csv")
    assert list(rows[0]) == ["dimension", "segment", "weekday", "hour", "metric", "value", "n"]
    cells = [(r["dimension"], r["segment"], r["weekday"], r["hour"]) for r in rows[::3]]
    assert cells == [
        ("all", "all", "1", "8"), ("all", "all", "2", "10"), ("all", "all", "2", "11"),
        ("all", "all", "3", "10"), ("all", "all", "7", "1"),
        ("channel", "email", "1", "8"),
        ("channel", "twitter", "2", "10"), ("channel", "twitter", "2", "11"),
        ("channel", "twitter", "3", "10"), ("channel", "twitter", "7", "1")]
    assert [r["metric"] for r in rows] == ["volume", "frt_median", "sla_attainment"] * 10
    assert _cell(rows, 1, 8, "volume", ("channel", "email")) == ("1", "")
    assert _cell(rows, 7, 1, "volume", ("channel", "email")) is None


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


# --- Pages: the hour-of-week page and the brackets table of the DST project ---------------------


def _page(out: Path, path: str):
    import sitefakes

    return sitefakes.parse_html((out / path).read_bytes())


def _table(doc, caption: str):
    return next(t for t in doc.find_all("table") if t.find("caption").text.startswith(caption))


def _cells(row) -> list[str]:
    return [c.text for c in row.children if not isinstance(c, str)]


def test_hours_page_shows_each_metric_as_a_heatmap_with_a_legend_and_a_table(built):
    doc = _page(built, "hours/all/all.html")
    volume = _table(doc, "Volume by hour")
    rows = volume.find("tbody").find_all("tr")
    assert [h.text for h in volume.find("thead").find_all("th")] == [
        "Hour", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert [r.find("th").text for r in rows] == ["01:00", "08:00", "10:00", "11:00"]
    assert _cells(rows[0]) == ["01:00", "—", "—", "—", "—", "—", "—", "4"]
    sla = _table(doc, "SLA attainment by hour")
    assert _cells(sla.find("tbody").find_all("tr")[0])[7] == "66.7%"
    heatmaps = doc.find_all("svg", "heatmap-svg")
    assert len(heatmaps) == 3
    titles = [t.text for t in heatmaps[0].find_all("title")]
    assert titles == ["Mon 08:00–09:00: 1", "Tue 10:00–11:00: 1", "Tue 11:00–12:00: 2",
                      "Wed 10:00–11:00: 1", "Sun 01:00–02:00: 4"]
    assert "Sun 01:00–02:00: 66.7% (n = 3)" in [t.text for t in heatmaps[2].find_all("title")]
    assert heatmaps[0].attrs["role"] == "img" and "highest 4 on Sun at 01:00" in \
        heatmaps[0].attrs["aria-label"]
    legend = [li.text for li in doc.find_all("ul", "heat-legend")[0].find_all("li")]
    assert legend == ["1 – 1.6", "1.6 – 2.2", "2.2 – 2.8", "2.8 – 3.4", "3.4 – 4",
                      "no interactions"]
    segment = _page(built, "segments/all/all.html")
    assert any(a.attrs.get("href") == "../../hours/all/all.html" for a in segment.find_all("a"))


def test_segment_page_lists_the_brackets_per_period_with_the_60_minute_share(built):
    doc = _page(built, "segments/all/all.html")
    brackets = _table(doc, "Actionable interactions per first-response bracket")
    assert [h.text for h in brackets.find("thead").find_all("th")] == [
        "Period", "≤ 5 min", "≤ 15 min", "≤ 60 min", "≤ 4 h", "≤ 24 h", "later than 24 h",
        "unanswered, not yet due", "unanswered, overdue", "Within 60 min", "Actionable"]
    rows = [_cells(r) for r in brackets.find("tbody").find_all("tr")]
    assert rows == [["2026-W43", "1", "1", "0", "1", "0", "0", "0", "1", "50.0%", "4"],
                    ["2026-W44 partial", "0", "0", "0", "0", "0", "1", "2", "1", "0.0%", "4"]]
    svg = doc.find("svg", "brackets-svg")
    assert svg.find("polyline", "bracket-mark")
    assert "2026-W43: ≤ 5 min: 1 of 4 (25.0%)" in [t.text for t in svg.find_all("title")]


# --- League tables and the digest ----------------------------------------------------------------

LEAGUE_CONFIG = """
site:
  title: League
  timezone: UTC
  periods: [week]
  data_through: 2026-11-16T00:00:00+00:00
  min_n: 1  # samples of 4: the Change column compares them all the same
sources:
  - name: desk
    path: exports/*.csv
    timezone: UTC
    dimensions: [team]
policy:
  first_response:
    - {within: 60m}
  goals:
    frt_median: {max: 30}
    sla_attainment: {min: 0.8, tolerance: 0.1, min_n: 2}
"""


def _replies(team: str, day: int, minutes: list[int], first: int) -> list[str]:
    return [f"{team}-{day}-{i},2026-11-{day:02d}T10:{i:02d}:00Z,"
            f"2026-11-{day:02d}T{10 + (i + m) // 60:02d}:{(i + m) % 60:02d}:00Z,x,{team}"
            for i, m in enumerate(minutes, first)]


HEADER = "id,received_at,first_response_at,channel,team"
# Week 45: red1 on goal, green off goal. Week 46: red1 25% and red2 50% within 60 minutes
# (off goal), amber 75% (near: tolerance 10 pp), green 100%, few one interaction (n < 2).
WEEK45 = _replies("red1", 3, [10] * 4, 0) + _replies("green", 3, [90] * 4, 10)
WEEK46 = (_replies("red1", 10, [10, 90, 90, 90], 0) + _replies("red2", 10, [10, 10, 90, 90], 10)
          + _replies("amber", 10, [10, 10, 10, 90], 20) + _replies("green", 10, [10] * 4, 30)
          + _replies("few", 10, [10], 40) + [",2026-11-10T10:00:00Z,,x,few"])  # no id: rejected


@pytest.fixture
def league(project, tmp_path: Path) -> Path:
    config = project({"exports/w45.csv": "\n".join([HEADER, *WEEK45]) + "\n",
                      "exports/w46.csv": "\n".join([HEADER, *WEEK46]) + "\n"}, LEAGUE_CONFIG)
    build(config, output=tmp_path / "out", use_cache=False)
    return tmp_path / "out"


def test_league_tables_rank_by_status_then_distance_from_goal_sla_attainment_first(league):
    doc = _page(league, "league.html")
    team = next(s for s in doc.find_all("section") if s.attrs.get("id") == "league-team")
    tables = team.find_all("table", "league")
    assert [t.find("caption").text for t in tables] == [
        "SLA attainment by team: furthest behind first",
        "Median first response by team: furthest behind first"]
    assert [h.text for h in tables[0].find("thead").find_all("th")] == [
        "Team", "Status", "Value", "Goal", "Change", "n"]
    rows = [_cells(r) for r in tables[0].find("tbody").find_all("tr")]
    assert rows == [
        ["red1", "✗ off goal", "25.0%", "≥ 80.0%", "▼ 75.0 pp worse", "4"],
        ["red2", "✗ off goal", "50.0%", "≥ 80.0%", "—", "4"],
        ["amber", "! near goal", "75.0%", "≥ 80.0%", "—", "4"],
        ["green", "✓ on goal", "100.0%", "≥ 80.0%", "▲ 100.0 pp better", "4"],
        ["few", "? too few", "100.0%", "≥ 80.0%", "—", "1"],
    ]
    # Ties (10 minutes each) keep the segments' order; red1 is 3 times the goal, red2 1.7.
    frt = [_cells(r)[:3] for r in tables[1].find("tbody").find_all("tr")]
    assert frt == [["red1", "✗ off goal", "90.0 min"], ["red2", "✗ off goal", "50.0 min"],
                   ["amber", "✓ on goal", "10.0 min"], ["few", "✓ on goal", "10.0 min"],
                   ["green", "✓ on goal", "10.0 min"]]
    link = tables[0].find("tbody").find("a")
    assert link.attrs["href"] == "segments/team/red1.html" and (league / link.attrs["href"]).exists()


DIGEST = """\
### League: week 2026-W46
2026-11-09 – 2026-11-15, data through 2026-11-16 00:00 UTC

**All interactions:** 1 of 2 goals met, 1 off

- **Turned red since 2026-W45 (4):** SLA attainment of team red1 25.0%; Median first \
response of team red1 90.0 min; SLA attainment of team red2 50.0%; Median first response of \
team red2 50.0 min
- **Turned green since 2026-W45 (6):** Median first response of all interactions 10.0 min; \
Median first response of channel x 10.0 min; Median first response of team amber 10.0 min; \
Median first response of team few 10.0 min; and 2 more
- **Furthest behind:** 1. SLA attainment of team red1 25.0%, goal ≥ 80.0% (off goal); 2. SLA \
attainment of team red2 50.0%, goal ≥ 80.0% (off goal); 3. SLA attainment of channel x \
64.7%, goal ≥ 80.0% (off goal)
- **Restatements:** none
- **Rejected rows:** 1 of 26 read (listed on the data-quality page and in data/rejected.csv)
"""


def test_digest_says_what_turned_red_or_green_who_is_furthest_behind_and_what_was_rejected(
    league,
):
    assert (league / "data" / "digest.md").read_text(encoding="utf-8") == DIGEST


def test_build_digest_prints_the_digest_and_the_summary_line_to_stderr(project, tmp_path):
    import subprocess
    import sys

    config = project({"exports/w45.csv": "\n".join([HEADER, *WEEK45]) + "\n",
                      "exports/w46.csv": "\n".join([HEADER, *WEEK46]) + "\n"}, LEAGUE_CONFIG)
    result = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--config", str(config), "--output",
         str(tmp_path / "out"), "--no-cache", "--digest"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == DIGEST
    assert "built " in result.stderr


def test_without_response_times_hourly_csv_has_volume_only_and_brackets_csv_no_rows(
    project, tmp_path,
):
    rows = "\n".join(",".join(line.split(",")[i] for i in (0, 1, 3))
                     for line in ROWS.strip().splitlines()) + "\n"
    assert rows.splitlines()[:2] == ["id,received_at,channel", "1,2026-10-25T00:30:00Z,twitter"]
    config = project({"exports/w1.csv": rows}, CONFIG)
    build(config, output=tmp_path / "out", use_cache=False)
    hourly = _rows(tmp_path / "out" / "data" / "hourly.csv")
    assert {r["metric"] for r in hourly} == {"volume"} and len(hourly) == 10
    assert _rows(tmp_path / "out" / "data" / "brackets.csv") == []
    page = (tmp_path / "out" / "segments" / "all" / "all.html").read_text(encoding="utf-8")
    # The caption the brackets table is found by elsewhere (and its chart) are absent.
    assert "Actionable interactions per first-response bracket" not in page
    assert "brackets-svg" not in page
