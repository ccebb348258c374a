"""What happens to rows that are neither plainly kept nor rejected (SPEC §3.3b, §3.4): copies of
an id in one drop (`on_duplicate`), stray history (`since`) and retractions (`deleted`).

Every case checks the row accounting (read = kept + superseded + rejected + before since +
retracted) and the figures that follow from it, computed by hand in the test.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import build, check
from generator.cli import main
from generator.errors import ConfigError

# --- on_duplicate ------------------------------------------------------------------------------

# The shape of the airline-sentiment export (synthetic rows, written for this test): one row per
# tweet, tweet ids repeated in one drop. a2 is repeated byte for byte; a3's copies differ only in
# a column carecard does not read (the crowd's confidence); a4's copies differ in the sentiment.
AIRLINE = """\
tweet_id,airline_sentiment,airline_sentiment_confidence,airline,text,tweet_created
a1,negative,1.0,United,@united late again,2015-02-17 09:00:00 -0800
a2,negative,1.0,United,@united lost my bag,2015-02-17 10:00:00 -0800
a2,negative,1.0,United,@united lost my bag,2015-02-17 10:00:00 -0800
a3,negative,0.6667,Delta,@delta no seat,2015-02-17 11:00:00 -0800
a3,negative,0.6842,Delta,@delta no seat,2015-02-17 11:00:00 -0800
a4,neutral,0.5,Delta,@delta what gate?,2015-02-18 12:00:00 -0800
a4,positive,0.7,Delta,@delta what gate?,2015-02-18 12:00:00 -0800
a5,negative,1.0,United,@united rude staff,2015-02-18 13:00:00 -0800
"""


def airline_config(on_duplicate: str | None) -> str:
    """A config reading AIRLINE, with `on_duplicate` set (None: the default)."""
    line = f"\n    on_duplicate: {on_duplicate}" if on_duplicate else ""
    return f"""
site: {{title: Airline, timezone: UTC, periods: [month]}}
sources:
  - name: tweets
    path: exports/*.csv
    channel: twitter
    timestamp_format: "%Y-%m-%d %H:%M:%S %z"
    columns: {{id: tweet_id, received_at: tweet_created, sentiment_start: airline_sentiment}}
    dimensions: [airline]{line}
"""


def month_figures(config: Path) -> tuple[tuple[int, int, int, int], dict[str, float | None]]:
    """(read, kept, superseded, rejected) of the one drop, and the all/all figures of the month
    by metric (a single month of data)."""
    checked = check(config)
    (drop,) = checked.quality.drops
    rows = {f.metric: f.value for f in checked.figures.rows
            if f.dimension == "all" and f.granularity == "month"}
    return (drop.read, drop.kept, drop.superseded, drop.rejected), rows


@pytest.mark.parametrize(
    "on_duplicate, accounting, volume, net_sentiment",
    [
        # Every copy of a2, a3, a4 rejected: a1 and a5 remain, both negative.
        (None, (8, 2, 0, 6), 2, -1.0),
        ("reject", (8, 2, 0, 6), 2, -1.0),
        # a2's copies are one interaction (one superseded); a3 and a4 differ: rejected.
        # a1, a2, a5 remain, all negative.
        ("identical", (8, 3, 1, 4), 3, -1.0),
        # The last copy of each wins: a1..a5, one copy each of a2, a3, a4 superseded.
        # a4 is the last copy's 'positive': (1 positive - 4 negative) / 5.
        ("keep_last", (8, 5, 3, 0), 5, -0.6),
    ],
)
def test_on_duplicate_decides_what_copies_of_an_id_in_one_drop_count_as(
    project: Callable[..., Path],
    on_duplicate: str | None,
    accounting: tuple[int, int, int, int],
    volume: int,
    net_sentiment: float,
) -> None:
    config = project({"exports/tweets.csv": AIRLINE}, airline_config(on_duplicate))
    counts, figures = month_figures(config)
    assert counts == accounting
    assert figures["volume"] == volume
    assert figures["net_sentiment"] == pytest.approx(net_sentiment)


def test_identical_copies_are_compared_on_every_column_not_only_the_mapped_ones(
    project: Callable[..., Path],
) -> None:
    config = project({"exports/tweets.csv": AIRLINE}, airline_config("identical"))
    rejected = [(r.position, r.reason) for r in check(config).quality.rejections]
    # a3 (lines 5, 6) differs only in the confidence column; a4 (lines 7, 8) in the sentiment.
    assert rejected == [("line 5", "duplicate_id"), ("line 6", "duplicate_id"),
                        ("line 7", "duplicate_id"), ("line 8", "duplicate_id")]
    assert check(config).quality.rejections[0].message == (
        "exports/tweets.csv, line 5, column 'tweet_id': expected an id that appears once in "
        "the drop, or only in identical copies, found 'a3'. Hint: its copies differ, so every "
        "copy is rejected; set sources[0].on_duplicate: keep_last to keep the last copy.")


def test_keep_last_lets_a_valid_copy_win_over_a_later_rejected_one(
    project: Callable[..., Path],
) -> None:
    header, *_ = AIRLINE.splitlines(keepends=True)
    rows = (header + "b1,negative,1.0,United,@united first,2015-02-17 09:00:00 -0800\n"
            "b1,positive,1.0,United,@united second,yesterday\n")
    config = project({"exports/tweets.csv": rows}, airline_config("keep_last"))
    counts, figures = month_figures(config)
    assert counts == (2, 1, 0, 1)
    assert figures["net_sentiment"] == -1.0


def test_on_duplicate_applies_to_the_message_ids_of_a_message_export(
    project: Callable[..., Path],
) -> None:
    header = "tweet_id,author_id,inbound,created_at,in_reply_to_status_id,text\n"
    root = "1,alice,True,Tue Oct 31 10:00:00 +0000 2017,,@acme help\n"
    reply = "2,acme,False,Tue Oct 31 10:30:00 +0000 2017,1,@alice sure\n"
    config_text = """
site: {title: Messages, timezone: UTC, periods: [day]}
sources:
  - name: tweets
    path: exports/*.csv
    shape: messages
    on_duplicate: identical
    columns: {message_id: tweet_id, author: author_id, created_at: created_at,
              in_reply_to: in_reply_to_status_id}
"""
    config = project({"exports/t.csv": header + root + root + reply}, config_text)
    checked = check(config)
    (drop,) = checked.quality.drops
    assert (drop.read, drop.kept, drop.superseded, drop.rejected) == (3, 2, 1, 0)
    frt = {f.metric: f.value for f in checked.figures.rows
           if f.dimension == "all" and f.period == "2017-10-31"}
    assert frt["volume"] == 1
    assert frt["frt_median"] == 30.0


def test_on_duplicate_must_be_one_of_its_choices(project: Callable[..., Path]) -> None:
    config = project({"exports/tweets.csv": AIRLINE}, airline_config("first"))
    with pytest.raises(ConfigError) as error:
        check(config)
    assert str(error.value).endswith(
        "config.yaml:9: sources[0].on_duplicate: expected one of 'reject', 'identical', "
        "'keep_last', found 'first'.")


# --- since -------------------------------------------------------------------------------------

# A 2017 export with stray history: s1 (2011, team 'legacy', a value seen nowhere else) and s2
# (2016). Months: 2017-10 holds c1, c2 (10 and 30 minutes); 2017-11 holds c3 (20 minutes).
STRAY = """\
id,received_at,first_response_at,resolved_at,channel,team
s1,2011-03-04 10:00:00,2011-03-04 11:00:00,,twitter,legacy
c1,2017-10-02 09:00:00,2017-10-02 09:10:00,,twitter,billing
c2,2017-10-31 09:00:00,2017-10-31 09:30:00,,twitter,tech
s2,2016-12-31 23:30:00,,,twitter,billing
c3,2017-11-01 09:00:00,2017-11-01 09:20:00,,twitter,billing
"""


def stray_config(site_since: str = "", source_since: str = "", periods: str = "[month]") -> str:
    """A config reading STRAY, with site.since and sources[0].since when given."""
    site = f", since: {site_since}" if site_since else ""
    source = f"\n    since: {source_since}" if source_since else ""
    return f"""
site: {{title: Stray, timezone: Europe/London, periods: {periods}, history: 3{site}}}
sources:
  - name: desk
    path: exports/*.csv
    timezone: UTC
    dimensions: [team]{source}
"""


def test_since_counts_older_rows_as_before_since_and_keeps_them_off_the_grid(
    project: Callable[..., Path],
) -> None:
    config = project({"exports/desk.csv": STRAY}, stray_config(site_since="2017-01-01"))
    checked = check(config)
    (drop,) = checked.quality.drops
    # s2 is received 2016-12-31 23:30 UTC: before midnight in London (GMT in winter).
    assert (drop.read, drop.kept, drop.superseded, drop.rejected, drop.before_since,
            drop.retracted) == (5, 3, 0, 0, 2, 0)
    assert drop.balanced
    assert [p.label for p in checked.figures.periods["month"]] == ["2017-10", "2017-11"]
    volume = {(f.period, f.segment): f.value for f in checked.figures.rows
              if f.metric == "volume" and f.dimension in ("all", "team")}
    assert volume == {("2017-10", "all"): 2, ("2017-10", "billing"): 1, ("2017-10", "tech"): 1,
                      ("2017-11", "all"): 1, ("2017-11", "billing"): 1, ("2017-11", "tech"): 0}
    frt = {f.period: f.value for f in checked.figures.rows
           if f.metric == "frt_median" and f.segment == "all"}
    assert frt == {"2017-10": 20.0, "2017-11": 20.0}


def test_a_sources_since_overrides_the_sites(project: Callable[..., Path]) -> None:
    # The site cuts at 2017; the source's own since lets 2016 in (s2), not 2011 (s1).
    config = project({"exports/desk.csv": STRAY},
                     stray_config(site_since="2017-01-01", source_since="2016-12-01"))
    checked = check(config)
    (drop,) = checked.quality.drops
    assert (drop.kept, drop.before_since) == (4, 1)
    assert checked.figures.periods["month"][0].label == "2016-12"


def test_before_since_is_shown_wherever_rows_are_accounted_for(
    project: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sitefakes

    config = project({"exports/desk.csv": STRAY}, stray_config(site_since="2017-01-01"))
    out = tmp_path / "out"
    build(config, output=out, use_cache=False)
    summary = json.loads((out / "data" / "summary.json").read_text())
    assert summary["inputs"][0] | {"sha256": ""} == {
        "source": "desk", "file": "exports/desk.csv", "sha256": "", "rows_read": 5, "kept": 3,
        "superseded": 0, "rejected": 0, "before_since": 2, "retracted": 0}
    assert (summary["rows_read"], summary["rows_before_since"]) == (5, 2)
    doc = sitefakes.parse_html((out / "data-quality.html").read_bytes())
    drops = next(t for t in doc.find_all("table")
                 if t.find("caption").text.startswith("Rows per drop"))
    header = [c.text for c in drops.find("thead").iter() if c.tag == "th"]
    assert header == ["File", "Source", "Read", "Kept", "Superseded", "Rejected", "Before since",
                      "Rejected by reason", "Balanced"]
    total = [c.text for c in drops.find("tfoot").iter() if c.tag in ("th", "td")]
    assert total == ["Total", "", "5", "3", "0", "0", "2", "—", "✓ yes"]
    assert "read = kept + superseded + rejected + before since for every drop" in doc.text
    assert "2017-01-01 00:00 GMT" in doc.text
    capsys.readouterr()
    assert main(["check", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "drop                 read    kept superseded rejected before since",
        "exports/desk.csv        5       3          0        0            2",
    ]
    assert "5 rows read, 0 rejected, 2 before since;" in lines[-1]


def test_since_sets_aside_whole_threads_of_a_message_export(project: Callable[..., Path]) -> None:
    header = "tweet_id,author_id,inbound,created_at,in_reply_to_status_id,text\n"
    rows = (
        # A 2016 thread: its root, a brand reply in 2016 and a follow-up in 2017.
        "1,alice,True,Fri Dec 30 10:00:00 +0000 2016,,@acme help\n"
        "2,acme,False,Fri Dec 30 10:30:00 +0000 2016,1,@alice sure\n"
        "3,alice,True,Mon Jan 02 10:00:00 +0000 2017,2,@acme still broken\n"
        # A 2017 conversation answered after 15 minutes.
        "4,bob,True,Tue Oct 31 10:00:00 +0000 2017,,@acme hi\n"
        "5,acme,False,Tue Oct 31 10:15:00 +0000 2017,4,@bob hello\n"
    )
    config_text = """
site: {title: Messages, timezone: UTC, periods: [month], since: 2017-01-01}
sources:
  - name: tweets
    path: exports/*.csv
    shape: messages
    columns: {message_id: tweet_id, author: author_id, created_at: created_at,
              in_reply_to: in_reply_to_status_id}
"""
    config = project({"exports/t.csv": header + rows}, config_text)
    checked = check(config)
    (drop,) = checked.quality.drops
    assert (drop.read, drop.kept, drop.rejected, drop.before_since) == (5, 2, 0, 3)
    (threads,) = checked.quality.threads
    assert (threads.messages, threads.conversations, threads.orphans) == (2, 1, 0)
    assert [p.label for p in checked.figures.periods["month"]] == ["2017-10"]
    figures = {f.metric: f.value for f in checked.figures.rows if f.segment == "all"}
    assert (figures["volume"], figures["frt_median"]) == (1, 15.0)


def test_since_must_be_a_date_or_a_time(project: Callable[..., Path]) -> None:
    config = project({"exports/desk.csv": STRAY}, stray_config(site_since="soon"))
    with pytest.raises(ConfigError) as error:
        check(config)
    assert str(error.value).endswith(
        "config.yaml:1: site.since: expected a local date and time like '2026-10-14T09:00', "
        "found 'soon'.")


# --- stray history on the pages ----------------------------------------------------------------


def test_pages_leave_out_segments_and_empty_periods_of_stray_history(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    import sitefakes

    # No since: the grid runs from 2011-03 to 2017-11 (81 months), but only four months hold
    # interactions; 'legacy' has none in the shown history (the last 3 months).
    config = project({"exports/desk.csv": STRAY}, stray_config())
    out = tmp_path / "out"
    build(config, output=out, use_cache=False)
    # Pages: the months with interactions (2011-03, 2016-12, 2017-10, 2017-11) and the last 3
    # (2017-09 .. 2017-11): five pages for 81 periods.
    pages = sorted(p.stem for p in (out / "periods" / "month").glob("*.html"))
    assert pages == ["2011-03", "2016-12", "2017-09", "2017-10", "2017-11"]
    index = (out / "periods" / "index.html").read_text()
    assert "2011-04" not in index and "2011-03" in index
    # Previous / next skip the empty months.
    doc = sitefakes.parse_html((out / "periods" / "month" / "2016-12.html").read_bytes())
    links = {a.attrs.get("rel"): (a.text, a.attrs["href"]) for a in doc.find_all("a")}
    assert links["prev"] == ("← Previous: 2011-03", "../../periods/month/2011-03.html")
    assert links["next"] == ("Next: 2017-09 →", "../../periods/month/2017-09.html")
    # 'legacy' gets no page, chart or row; billing and tech do. figures.csv keeps it.
    assert sorted(p.stem for p in (out / "segments" / "team").glob("*.html")) == [
        "billing", "tech"]
    assert not list((out / "charts").rglob("legacy*"))
    assert "legacy" not in (out / "periods" / "month" / "2011-03.html").read_text()
    assert "legacy" not in (out / "segments" / "index.html").read_text()
    with (out / "data" / "figures.csv").open(newline="") as handle:
        legacy = [r for r in csv.DictReader(handle)
                  if r["segment"] == "legacy" and r["metric"] == "volume" and r["value"] != "0"]
    assert [(r["period"], r["value"]) for r in legacy] == [("2011-03", "1")]
    # No page links to a page left out.
    for page in out.rglob("*.html"):
        doc = sitefakes.parse_html(page.read_bytes())
        for node in doc.iter():
            href = node.attrs.get("href") if node.tag == "a" else None
            if href and not href.startswith("#"):
                target = (page.parent / href.split("#")[0]).resolve()
                assert target.is_file(), (page.relative_to(out), href)


# --- retractions -------------------------------------------------------------------------------

# A third drop of the hand-made fixture takes back t2 (received in 2026-W45, answered after 90
# minutes against 60: late). Its row is the full row plus a column `deleted`, which the earlier
# drops do not have.
RETRACTION = (
    "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply,deleted\n"
    "t2,2026-11-02 10:00:00,2026-11-02 11:30:00,2026-11-03 10:00:00,twitter,billing,normal,"
    "complaint,2,Yes,true\n"
)


def drill_ids(out: Path) -> dict[str, list[str]]:
    """The ids in the 2026-W45 drill-through CSVs of a built site, by 'dimension/segment'."""
    found = {}
    for path in sorted((out / "drill" / "week" / "2026-W45").rglob("*.csv")):
        with path.open(newline="") as handle:
            found[f"{path.parent.name}/{path.stem}"] = [r["id"] for r in csv.DictReader(handle)]
    return found


@pytest.fixture
def retracted(tmp_path: Path) -> tuple[Path, Path]:
    """The hand-made fixture (interactions.csv on) with RETRACTION as w3.csv, built: (config,
    output folder)."""
    import sitefakes

    config = sitefakes.handmade_with_interactions_csv(tmp_path)
    (config.parent / "exports" / "w3.csv").write_text(RETRACTION, encoding="utf-8")
    out = tmp_path / "out"
    build(config, output=out, use_cache=False)
    return config, out


def test_a_retracted_interaction_leaves_every_figure(retracted: tuple[Path, Path]) -> None:
    config, _ = retracted
    checked = check(config)
    w45 = {f.metric: (f.value, f.n) for f in checked.figures.rows
           if f.period == "2026-W45" and f.dimension == "all"}
    # tests/test_metrics.py's W45 without t2: volume 10 -> 9, actionable 8 -> 7; first
    # responses 10 15 20 30 120 240 360 (median 30, mean 795 / 7); only t6 late.
    assert w45["volume"] == (9, None)
    assert w45["actionable"] == (7, None)
    assert w45["frt_median"] == (30.0, 7)
    assert w45["frt_mean"][0] == pytest.approx(795 / 7)
    assert w45["sla_attainment"] == (pytest.approx(6 / 7), 7)
    # Resolutions without t2's 24 h: 2 18 24 72 2 -> median 18; CSAT 5 4 3: 2 of 3 satisfied.
    assert w45["resolution_median"] == (18.0, 5)
    assert w45["csat"] == (pytest.approx(2 / 3), 3)
    billing = {f.metric: f.value for f in checked.figures.rows
               if f.period == "2026-W45" and f.segment == "billing"}
    assert billing["volume"] == 4  # t1, t5, t7 (spam) and t9; t2 is gone
    # The figure the retraction changed is a restatement (old: every drop but w3).
    volume = [r for r in checked.quality.restatements
              if (r.period, r.dimension, r.metric) == ("2026-W45", "all", "volume")]
    assert [(r.old_value, r.new_value) for r in volume] == [(10, 9)]


def test_a_retracted_interaction_leaves_drill_through_and_interactions_csv(
    retracted: tuple[Path, Path],
) -> None:
    config, out = retracted
    # Without w3, t2 is late in the lists of all and billing for 2026-W45 (twitter is green).
    (config.parent / "exports" / "w3.csv").unlink()
    build(config, output=config.parent / "before", use_cache=False)
    assert drill_ids(config.parent / "before") == {
        "all/all": ["t2", "t6"], "channel/email": ["t6"],
        "team/billing": ["t2"], "team/support": ["t6"]}
    assert drill_ids(out) == {"channel/email": ["t6"], "team/support": ["t6"]}
    assert not any("t2" in page.read_text() for page in (out / "drill").rglob("*.html"))
    with (out / "data" / "interactions.csv").open(newline="") as handle:
        ids = [r["id"] for r in csv.DictReader(handle)]
    assert "t2" not in ids and len(ids) == 15  # 10 in W45 and 6 in W46, less t2


def test_a_retraction_is_counted_wherever_rows_are_accounted_for(
    retracted: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import sitefakes

    config, out = retracted
    drops = {d.file: (d.read, d.kept, d.superseded, d.rejected, d.retracted, d.balanced)
             for d in check(config).quality.drops}
    # w1: t1..t8 and t9 (superseded by w2) and t2 (now superseded by the retraction).
    assert drops == {"exports/w1.csv": (10, 8, 2, 0, 0, True),
                     "exports/w2.csv": (8, 7, 0, 1, 0, True),
                     "exports/w3.csv": (1, 0, 0, 0, 1, True)}
    summary = json.loads((out / "data" / "summary.json").read_text())
    assert summary["rows_retracted"] == 1
    assert [i["retracted"] for i in summary["inputs"]] == [0, 0, 1]
    doc = sitefakes.parse_html((out / "data-quality.html").read_bytes())
    table = next(t for t in doc.find_all("table")
                 if t.find("caption").text.startswith("Rows per drop"))
    total = [c.text for c in table.find("tfoot").iter() if c.tag in ("th", "td")]
    assert total[:8] == ["Total", "", "19", "15", "2", "1", "1", "unparseable timestamp 1"]
    assert "read = kept + superseded + rejected + retracted for every drop" in doc.text
    capsys.readouterr()
    main(["check", "--config", str(config)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == "exports/w3.csv        1       0          0        0         1"
    assert "19 rows read, 1 rejected, 1 retracted;" in lines[-1]


def test_deleted_is_refused_in_a_message_export(project: Callable[..., Path]) -> None:
    config_text = """
site: {title: Messages, timezone: UTC, periods: [day]}
sources:
  - name: tweets
    path: exports/*.csv
    shape: messages
    columns: {message_id: tweet_id, author: author_id, created_at: created_at,
              in_reply_to: in_reply_to_status_id, deleted: gone}
"""
    config = project({"exports/t.csv": "tweet_id\n"}, config_text)
    with pytest.raises(ConfigError) as error:
        check(config)
    assert str(error.value).endswith(
        "config.yaml:7: sources[0].columns.deleted: expected a field of shape: messages. "
        "Hint: 'deleted' retracts rows of interaction-level sources only.")


def test_a_grid_stretched_by_stray_rows_warns_and_suggests_a_since(
    project: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import date, timedelta

    # 40 interactions, one a day from 2017-10-02 to 2017-11-10, and the two strays of STRAY.
    days = [date(2017, 10, 2) + timedelta(days=i) for i in range(40)]
    rows = "".join(f"d{i},{day} 09:00:00,,,twitter,billing\n" for i, day in enumerate(days))
    stray = "".join(line + "\n" for line in STRAY.splitlines() if line.startswith("s"))
    data = STRAY.splitlines()[0] + "\n" + stray + rows
    check(project({"exports/desk.csv": data}, stray_config()))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    # 2011-03 .. 2017-11 is 81 months; only 2011-03, 2016-12, 2017-10 and 2017-11 hold rows.
    # From 2017-10 on no month is empty; from 2016-12 on, 9 of 12 are: since 2017-10-01 leaves
    # out s1 and s2, 2 of 42 interactions (at most 5 % may be).
    assert warnings == [
        "site.since: the month grid runs from 2011-03 to 2017-11 (81 periods) but 77 of them "
        "have no interactions: a few old rows stretch it, and figures.csv and figures.json "
        "hold every period. Hint: set site.since: 2017-10-01 to count the 2 interactions "
        "received before it as 'before since'."]
    caplog.clear()
    check(project({"exports/desk.csv": data}, stray_config(site_since="2017-10-01")))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    # Many old rows are history, not strays: no warning.
    caplog.clear()
    check(project({"exports/desk.csv": STRAY}, stray_config()))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
