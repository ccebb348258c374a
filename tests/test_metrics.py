"""Every figure of the hand-made fixture, computed by hand (tests/projects/handmade).

Week 2026-W45 (Mon 2 – Sun 8 Nov, UTC), volume 10:
  t7 is spam (rule 'spam'), t8 needs no reply (built-in 'no_reply_needed') -> actionable 8.
  First response minutes (target): t1 10 (60), t2 90 (60, late), t3 15 (15 urgent, on time:
  inclusive), t4 20 (60), t5 240 (4h email, on time: inclusive), t6 360 (4h, late),
  t9 120 (4h; the reply arrives in the re-export in w2.csv, which supersedes w1.csv's row),
  t10 30 (60).  Sorted: 10 15 20 30 90 120 240 360.
  Resolution hours: t1 2, t2 24, t4 2, t5 24, t6 18, t9 72.  Sorted: 2 2 18 24 24 72.
  CSAT: t1 5, t2 2, t4 4, t5 3 (all resolved).
Week 2026-W46 (9 – 15 Nov), data through 2026-11-16T00:00Z, volume 6 = actionable:
  u1 45 min (u1 is written with +01:00 and Z offsets), u3 120 (email), u4 20 (urgent: late),
  u2 unanswered, deadline 10 Nov 10:00 (before data-through: a breach),
  u5 unanswered, deadline 16 Nov 00:30 (after data-through: not yet eligible),
  u6 unanswered email, deadline 16 Nov 02:00 (not yet eligible).
  u3 resolved after 6 h with CSAT 5.  'bad' has an unparseable Created and is rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sitefakes

from generator.build import build, check
from generator.model import Figure

HANDMADE = Path(__file__).parent / "projects" / "handmade" / "config.yaml"


@pytest.fixture(scope="module")
def figures() -> dict[tuple[str, str, str, str], Figure]:
    checked = check(HANDMADE)
    return {(f.period, f.dimension, f.segment, f.metric): f for f in checked.figures.rows}


# (metric, value, n, status) for all/all, by hand as in the module docstring.
W45 = [
    ("volume", 10, None, "none"),
    ("actionable", 8, None, "none"),
    ("response_rate", 1.0, 8, "green"),
    ("frt_median", 60.0, 8, "red"),  # (30 + 90) / 2; goal 30, amber up to 33
    ("frt_p90", 276.0, 8, "none"),  # h = 7 * 0.9 = 6.3 -> 240 + 0.3 * (360 - 240)
    ("frt_mean", 885 / 8, 8, "none"),
    ("sla_attainment", 6 / 8, 8, "amber"),  # t2, t6 late; goal 0.8, tolerance 0.1
    ("backlog", 0, None, "green"),
    ("resolution_rate", 6 / 8, 8, "none"),
    ("resolution_median", 21.0, 6, "none"),  # (18 + 24) / 2
    ("csat", 2 / 4, 4, "red"),
    ("csat_mean", 14 / 4, 4, "none"),
    ("csat_response_rate", 4 / 6, 6, "none"),
]
W46 = [
    ("volume", 6, None, "none"),
    ("actionable", 6, None, "none"),
    ("response_rate", 3 / 6, 6, "red"),
    ("frt_median", 45.0, 3, "red"),
    ("frt_p90", 105.0, 3, "none"),  # h = 2 * 0.9 = 1.8 -> 45 + 0.8 * (120 - 45)
    ("frt_mean", 185 / 3, 3, "none"),
    ("sla_attainment", 2 / 4, 4, "red"),  # u1, u3 met; u4 late; u2 overdue; u5, u6 not yet due
    ("backlog", 3, None, "red"),  # goal 0: the amber tolerance (10% of 0) is 0
    ("resolution_rate", 1 / 6, 6, "none"),
    ("resolution_median", 6.0, 1, "none"),
    ("csat", 1.0, 1, "insufficient"),  # n 1 < min_n 2
    ("csat_mean", 5.0, 1, "none"),
    ("csat_response_rate", 1.0, 1, "none"),
]


@pytest.mark.parametrize("period, expected", [("2026-W45", W45), ("2026-W46", W46)])
def test_every_metric_of_segment_all_matches_the_hand_computation(
    figures: dict, period: str, expected: list
) -> None:
    for metric, value, n, status in expected:
        row = figures[(period, "all", "all", metric)]
        assert row.value == pytest.approx(value), metric
        assert row.n == n, metric
        assert row.status == status, metric


def test_no_metric_is_missing_or_extra(figures: dict) -> None:
    metrics = {k[3] for k in figures if k[:3] == ("2026-W45", "all", "all")}
    assert metrics == {m for m, *_ in W45}


def test_changes_use_pp_for_ratios_and_percent_otherwise(tmp_path: Path) -> None:
    import shutil

    site = tmp_path / "site"
    shutil.copytree(HANDMADE.parent, site)
    config = site / "config.yaml"  # n of 6 and 8 compared: only with site.min_n lowered
    config.write_text(config.read_text().replace("  periods: [week]\n",
                                                 "  periods: [week]\n  min_n: 1\n"))
    figures = {(f.period, f.dimension, f.segment, f.metric): f
               for f in check(config).figures.rows}
    volume = figures[("2026-W46", "all", "all", "volume")]
    assert (volume.previous_value, volume.change, volume.change_unit) == (10, -40.0, "%")
    rate = figures[("2026-W46", "all", "all", "response_rate")]
    assert rate.change == pytest.approx(-50.0) and rate.change_unit == "pp"
    median = figures[("2026-W46", "all", "all", "frt_median")]
    assert median.change == pytest.approx(-25.0) and median.change_unit == "%"


def test_no_change_is_computed_when_either_n_is_below_site_min_n(figures: dict) -> None:
    # W46 against W45 at the default site.min_n of 10: volume's baseline (10 interactions)
    # reaches it; response rate (n 6 against 8) and median first response (n 3 against 8)
    # have no goal of their own, and still no change.
    volume = figures[("2026-W46", "all", "all", "volume")]
    assert (volume.previous_value, volume.change, volume.change_unit) == (10, -40.0, "%")
    for metric, previous in (("response_rate", 1.0), ("frt_median", 60.0)):
        row = figures[("2026-W46", "all", "all", metric)]
        assert row.previous_value == pytest.approx(previous)
        assert (row.change, row.change_unit) == (None, None)


def test_zero_baseline_gives_no_percentage(figures: dict) -> None:
    backlog = figures[("2026-W46", "all", "all", "backlog")]
    assert backlog.previous_value == 0
    assert backlog.change is None and backlog.change_unit is None


def test_change_is_withheld_when_n_is_below_the_minimum_sample(figures: dict) -> None:
    csat = figures[("2026-W46", "all", "all", "csat")]
    assert csat.previous_value == 0.5
    assert csat.change is None


def test_first_period_has_no_comparison(figures: dict) -> None:
    row = figures[("2026-W45", "all", "all", "volume")]
    assert row.previous_value is None and row.change is None


def test_segment_figures_use_only_their_interactions(figures: dict) -> None:
    # Email in W45: t5 240 (on time), t6 360 (late), t9 120 (on time).
    assert figures[("2026-W45", "channel", "email", "frt_median")].value == 240.0
    assert figures[("2026-W45", "channel", "email", "sla_attainment")].value == pytest.approx(2 / 3)
    # Twitter in W45: volume 7 (t1 t2 t3 t4 t7 t8 t10), actionable 5.
    assert figures[("2026-W45", "channel", "twitter", "volume")].value == 7
    assert figures[("2026-W45", "channel", "twitter", "actionable")].value == 5
    # Team support in W46: u3, u4, u5 -> answered 2 of 3.
    assert figures[("2026-W46", "team", "support", "response_rate")].value == pytest.approx(2 / 3)


def test_goals_and_partial_flags_are_written(figures: dict) -> None:
    row = figures[("2026-W46", "all", "all", "sla_attainment")]
    assert row.goal == 0.8
    assert row.partial is False  # the week ends exactly at data-through
    assert str(row.period_start) == "2026-11-09" and str(row.period_end) == "2026-11-16"


def test_rows_read_are_all_accounted_for() -> None:
    quality = check(HANDMADE).quality
    by_file = {d.file: d for d in quality.drops}
    w1, w2 = by_file["exports/w1.csv"], by_file["exports/w2.csv"]
    assert (w1.read, w1.kept, w1.superseded, w1.rejected) == (10, 9, 1, 0)
    assert (w2.read, w2.kept, w2.superseded, w2.rejected) == (8, 7, 0, 1)
    assert w2.rejected_by_reason == {"unparseable_timestamp": 1}
    assert quality.exclusions == {"no_reply_needed": 1, "spam": 1}


def test_drill_through_lists_late_and_unanswered_interactions_of_red_and_amber_figures(
    tmp_path: Path,
) -> None:
    checked = build(HANDMADE, output=tmp_path / "out", use_cache=False).checked
    assert checked is not None
    drill = {(d.period, d.dimension, d.segment): d for d in checked.figures.drill}
    # W45 all: sla_attainment is amber; t2 and t6 answered late.
    assert [(r.id, r.state) for r in drill[("2026-W45", "all", "all")].rows] == [
        ("t2", "late"), ("t6", "late")]
    # W46 all: u2 overdue, u4 late (urgent, 20 > 15), u6 and u5 not yet due.
    w46 = drill[("2026-W46", "all", "all")].rows
    assert [(r.id, r.state) for r in w46] == [
        ("u2", "overdue"), ("u4", "late"), ("u6", "waiting"), ("u5", "waiting")]
    assert w46[1].minutes == 20 and w46[1].target_minutes == 15
    assert w46[0].file == "exports/w2.csv" and w46[0].line == 4


def test_interactions_csv_has_every_kept_interaction(tmp_path: Path) -> None:
    from generator.build import build

    config = sitefakes.handmade_with_interactions_csv(tmp_path)
    build(config, output=tmp_path / "out")
    lines = (tmp_path / "out" / "data" / "interactions.csv").read_text().splitlines()
    assert lines[0].startswith("source,id,channel,received_at,first_response_at,resolved_at,")
    assert len(lines) == 1 + 16  # 9 + 7 kept rows, t9 once
    t9 = next(line for line in lines if line.startswith("desk,t9,"))
    assert ",120," in t9 and ",true," in t9


SEGMENTS_CONFIG = """
site: {title: S, timezone: UTC, periods: [week, month]}
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC, dimensions: [team, category]}
policy:
  exclude:
    - {name: spam, where: {category: spam}}
  custom_metrics:
    - {id: tweets, label: Tweets, aggregate: "count(channel == 'twitter')", unit: count}
    - {id: slowest, label: Slowest, aggregate: "max(frt_minutes)", unit: minutes}
"""
# Team red: two actionable tweets answered in 30 and 60 minutes, and one spam email.
# Team blue: one spam tweet only, so none of its interactions is actionable.
SEGMENTS_DROP = """
id,received_at,first_response_at,channel,team,category
a,2026-11-02 10:00:00,2026-11-02 10:30:00,twitter,red,billing
b,2026-11-03 10:00:00,2026-11-03 11:00:00,twitter,red,billing
c,2026-11-04 10:00:00,2026-11-04 10:10:00,email,red,spam
d,2026-11-05 10:00:00,2026-11-05 10:05:00,twitter,blue,spam
"""


def test_every_period_and_segment_adds_up_and_an_unactionable_segment_counts_zero(
    project,  # type: ignore[no-untyped-def]
) -> None:
    rows = check(project({"exports/w45.csv": SEGMENTS_DROP}, SEGMENTS_CONFIG)).figures.rows
    got = {(f.granularity, f.dimension, f.segment, f.metric): (f.value, f.n) for f in rows}
    for granularity in ("week", "month"):
        for dimension, segment, volume in (("all", "all", 4), ("team", "red", 3)):
            key = (granularity, dimension, segment)
            assert got[key + ("volume",)] == (volume, None)
            assert got[key + ("actionable",)] == (2, None)
            assert got[key + ("frt_median",)] == (45.0, 2)
            assert got[key + ("frt_mean",)] == (45.0, 2)
            assert got[key + ("tweets",)] == (2, 2)
            assert got[key + ("slowest",)] == (60.0, 2)
        blue = (granularity, "team", "blue")
        assert got[blue + ("volume",)] == (1, None)
        assert got[blue + ("actionable",)] == (0, None)
        assert got[blue + ("response_rate",)] == (None, 0)
        assert got[blue + ("frt_median",)] == (None, 0)
        assert got[blue + ("tweets",)] == (0, 0)  # a count of none is 0, not missing
        assert got[blue + ("slowest",)] == (None, 0)
        assert got[(granularity, "channel", "twitter", "volume")] == (3, None)
        assert got[(granularity, "channel", "email", "actionable")] == (0, None)


TINY = """
site: {title: T, timezone: UTC, periods: [week], data_through: 2026-11-16T00:00:00+00:00MIN_N}
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC}
policy:
  goals:
    response_rate: {min: 0.5, min_n: 12}
"""


def tiny_figures(project, min_n: str = ""):  # type: ignore[no-untyped-def]
    """W45 2025: 3 interactions; W44 2026: 1; W45 2026: 24; W46 2026: 11 (all answered in
    5 minutes but the first of each week, unanswered)."""
    weeks = (("2025-11-03", 3), ("2026-10-26", 1), ("2026-11-02", 24), ("2026-11-09", 11))
    rows = ["id,received_at,first_response_at,channel"]
    for day, count in weeks:
        for i in range(count):
            reply = "" if i == 0 else f"{day} 10:{i + 5:02d}:00"
            rows.append(f"{day}-{i},{day} 10:{i:02d}:00,{reply},twitter")
    path = project({"exports/w.csv": "\n".join(rows) + "\n"}, TINY.replace("MIN_N", min_n))
    return {(f.period, f.metric): f for f in check(path).figures.rows if f.dimension == "all"}


def test_a_count_compares_only_with_a_baseline_that_reaches_site_min_n(project) -> None:  # type: ignore[no-untyped-def]
    figures = tiny_figures(project)
    # 24 against 1 (the "▲ 2,300 %" of issue 15) and against 3 a year ago: no change at all.
    volume = figures[("2026-W45", "volume")]
    assert (volume.previous_value, volume.change) == (1, None)
    assert (volume.year_ago_value, volume.year_ago_change) == (3, None)
    assert volume.change_unit is None
    # 11 against 24: the baseline reaches 10.
    later = figures[("2026-W46", "volume")]
    assert later.change == pytest.approx((11 - 24) / 24 * 100) and later.change_unit == "%"
    # response_rate has a goal with min_n 12: 11 answered-or-not interactions are too few
    # on the current side, though both reach site.min_n (status is the goal's own rule).
    rate = figures[("2026-W46", "response_rate")]
    assert (rate.n, rate.change, rate.status) == (11, None, "insufficient")
    # Without a goal, site.min_n alone: frt_median, n 10 against 23.
    median = figures[("2026-W46", "frt_median")]
    assert median.change is not None
    lowered = tiny_figures(project, ", min_n: 1")
    assert lowered[("2026-W45", "volume")].change == pytest.approx(2300.0)
    assert lowered[("2026-W45", "volume")].year_ago_change == pytest.approx(700.0)


# --- a partial period compared like with like (SPEC §4.5) --------------------------------------

PARTIAL_SITE = """
site: {title: P, timezone: UTC, periods: [week]}
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC, max_future: 7d}
policy:
  goals:
    sla_attainment: {min: 0.9}
    backlog: {max: 0}
    volume: {min: 1}
"""


def partial_drop() -> str:
    """Data through Wed 2026-11-25 14:52 (UTC), in 2026-W48; W47 and 2025-W48 compared.

    2026-W48 so far: 15 received Mon 23 Nov 09:00-09:14, the first 12 answered after 30
    minutes, 3 unanswered (deadlines passed); one received Wed 14:52, unanswered (the
    data-through time; its deadline has not passed).
    2026-W47, cut at Wed 18 Nov 14:52: 20 received Mon 16 Nov 09:00-09:19 and answered after
    10 minutes; 4 received Tue 17 Nov 10:00-10:03 and answered Wed 18 Nov 16:00, after the cut;
    6 received Thu 19 Nov, after the cut.
    2025-W48, cut at Wed 26 Nov 2025 14:52: 12 received Mon 24 Nov 09:00-09:11, answered after
    20 minutes; one received Tue 25 Nov 10:00 and answered Thu 27 Nov; 2 received Thu 27 Nov.
    """
    rows = ["id,received_at,first_response_at,channel"]

    def add(prefix: str, day: str, count: int, reply: Callable[[int], str] | None,
            hour: int = 9) -> None:
        for i in range(count):
            rows.append(f"{prefix}{i},{day} {hour:02d}:{i:02d}:00,"
                        f"{reply(i) if reply else ''},twitter")

    add("n", "2026-11-23", 12, lambda i: f"2026-11-23 09:{i + 30:02d}:00")
    add("u", "2026-11-23", 3, None)
    rows[-3:] = [r.replace("09:0", "09:1", 1) for r in rows[-3:]]  # u0-u2 at 09:10-09:12
    rows.append("last,2026-11-25 14:52:00,,twitter")
    add("p", "2026-11-16", 20, lambda i: f"2026-11-16 09:{i + 10:02d}:00")
    add("late", "2026-11-17", 4, lambda i: "2026-11-18 16:00:00", hour=10)
    add("after", "2026-11-19", 6, lambda i: f"2026-11-19 09:{i + 5:02d}:00")
    add("y", "2025-11-24", 12, lambda i: f"2025-11-24 09:{i + 20:02d}:00")
    add("ylate", "2025-11-25", 1, lambda i: "2025-11-27 09:00:00", hour=10)
    add("yafter", "2025-11-27", 2, lambda i: "2025-11-27 12:00:00")
    return "\n".join(rows) + "\n"


def test_a_partial_period_compares_with_the_others_as_of_the_same_offset(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    from generator.build import build

    config = project({"exports/w.csv": partial_drop()}, PARTIAL_SITE)
    result = build(config, output=tmp_path / "out")
    assert result.checked is not None
    through = result.checked.quality.data_through
    assert through is not None and through.isoformat() == "2026-11-25T14:52:00+00:00"
    got = {(f.period, f.metric): f for f in result.checked.figures.rows
           if f.dimension == "all"}
    w48 = {m: got[("2026-W48", m)] for m in
           ("volume", "backlog", "response_rate", "sla_attainment", "frt_median")}
    # As of Wed 14:52, 2026-W47 had 24 interactions (the 6 of Thursday not yet), 20 of them
    # answered (the 4 replies of Wed 16:00 not yet): response rate 20/24, backlog 4, SLA
    # 20 on time of 20 answered + 4 overdue, median first response 10 minutes (n 20).
    # 2025-W48 as of Wed 26 Nov 2025 14:52: 13 interactions, 12 answered.
    volume = w48["volume"]
    assert (volume.value, volume.previous_value, volume.year_ago_value) == (16, 24, 13)
    assert volume.change == pytest.approx((16 - 24) / 24 * 100)
    assert volume.year_ago_change == pytest.approx((16 - 13) / 13 * 100)
    rate = w48["response_rate"]
    assert (rate.value, rate.n) == (0.75, 16)
    assert rate.previous_value == pytest.approx(20 / 24)
    assert rate.change == pytest.approx((0.75 - 20 / 24) * 100) and rate.change_unit == "pp"
    assert rate.year_ago_value == pytest.approx(12 / 13)
    assert rate.year_ago_change == pytest.approx((0.75 - 12 / 13) * 100)
    sla = w48["sla_attainment"]
    assert (sla.value, sla.n) == (pytest.approx(12 / 15), 15)
    assert sla.previous_value == pytest.approx(20 / 24)
    assert sla.change == pytest.approx((12 / 15 - 20 / 24) * 100)
    median = w48["frt_median"]
    assert (median.value, median.previous_value) == (30.0, 10.0)
    assert median.change == pytest.approx(200.0)
    # Backlog 4 against 4 as of the cut: a count whose baseline is below site.min_n.
    backlog = w48["backlog"]
    assert (backlog.value, backlog.previous_value, backlog.change) == (4, 4, None)
    # Count metrics carry no status while partial, with a goal or without; others keep theirs.
    assert (backlog.status, volume.status, w48["response_rate"].status) == ("none",) * 3
    assert sla.status == "red"
    # The complete week before keeps its full figures and its own comparisons.
    w47 = got[("2026-W47", "response_rate")]
    assert (w47.value, w47.n) == (1.0, 30)
    assert got[("2026-W47", "backlog")].status == "green"
    # figures.csv carries the as-of comparisons.
    import csv

    with (tmp_path / "out" / "data" / "figures.csv").open(encoding="utf-8") as handle:
        rows = {(r["period"], r["dimension"], r["metric"]): r for r in csv.DictReader(handle)}
    row = rows[("2026-W48", "all", "response_rate")]
    assert (row["partial"], row["value"], row["previous_value"], row["year_ago_value"]) == (
        "true", "0.75", repr(20 / 24), repr(12 / 13))
    assert float(row["change"]) == pytest.approx((0.75 - 20 / 24) * 100)
    assert rows[("2026-W48", "all", "backlog")]["status"] == "none"


def test_cached_figures_follow_the_comparison_cut_when_data_through_moves(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    from generator.build import build

    config = project({"exports/w1.csv": partial_drop()}, PARTIAL_SITE)
    build(config)  # warm: the figures of 2026-W47 as of Wednesday 14:52 are cached
    (config.parent / "exports" / "w2.csv").write_text(
        "id,received_at,first_response_at,channel\nthu,2026-11-26 09:03:00,,twitter\n",
        encoding="utf-8")
    warm = build(config)
    # 2026-W47's rows are unchanged (and its own figures come from the cache), but the cut
    # is now Thursday 09:03: 4 of the 6 Thursday interactions (received 09:00-09:03, answered
    # from 09:05) and the 4 late replies of Wednesday 16:00 are in.
    assert ("week", "2026-W47") not in warm.periods_recomputed
    assert warm.checked is not None
    got = {(f.period, f.metric): f for f in warm.checked.figures.rows if f.dimension == "all"}
    assert got[("2026-W48", "volume")].previous_value == 28
    assert got[("2026-W48", "response_rate")].previous_value == pytest.approx(24 / 28)
    build(config, output=tmp_path / "cold", use_cache=False)
    for name in ("figures.csv", "figures.json"):
        assert ((config.parent / "output" / "data" / name).read_bytes()
                == (tmp_path / "cold" / "data" / name).read_bytes())


def test_the_overview_shows_the_partial_week_compared_at_the_same_point(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    from generator.build import build

    build(project({"exports/w.csv": partial_drop()}, PARTIAL_SITE), output=tmp_path / "out")
    doc = sitefakes.parse_html((tmp_path / "out" / "index.html").read_bytes())
    found = [t for t in doc.find_all("table")
             if t.find("caption").text.startswith("This week so far: 2026-W48")]
    rows = {r.find("th").text: [c.text for c in r.find_all("td")]
            for r in found[0].find("tbody").find_all("tr")}
    assert rows["Volume"] == ["16 (goal ≥ 1)", "– judged when complete", "▼ 33.3% down",
                              "24 in 2026-W47 to Wed 18 Nov 14:52",
                              "13 a year ago at the same point (▲ 23.1% up)", ""]
    assert rows["Backlog"][1:4] == ["– judged when complete", "change not computed (sample too small)",
                                    "4 in 2026-W47 to Wed 18 Nov 14:52"]
    assert rows["SLA attainment"][:2] == ["80.0% (goal ≥ 90.0%)", "✗ off goal so far"]
