"""Incremental builds: a new drop recomputes the periods it touches, and a warm cache never
changes a byte of the site (SPEC §8)."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import build
from generator.config import loader as cfg

HEADER = "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"

#: A site using every section of config.yaml: two granularities, a business-hours calendar, a
#: blackout, a policy version, an error budget and a custom metric. Data-through is fixed so
#: that a new drop changes the periods of its rows only.
CONFIG = """
site:
  title: Incremental
  timezone: Europe/Berlin
  periods: [week, month]
  history: 8
  data_through: 2026-11-30T00:00:00+00:00
  on_bad_rows: report
  interactions_csv: false
sources:
  - name: desk
    path: exports/w*.csv
    shape: interactions
    format: auto
    timezone: UTC
    delimiter: ","
    columns: {id: Case, received_at: Created, first_response_at: Replied, resolved_at: Closed,
              channel: Network, csat: Score, needs_reply: Needs Reply, team: Queue,
              priority: Priority, category: Category}
    values:
      needs_reply: {"Yes": "true", "No": "false"}
    dimensions: [team]
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: ["09:00-17:00"]}
    holidays: [2026-11-11]
policy:
  exclude:
    - {name: spam, where: {category: spam}}
  blackouts:
    - {start: 2026-11-20T00:00, end: 2026-11-20T06:00, reason: outage}
  first_response:
    - {where: {channel: email}, within: 4h, clock: business, calendar: office}
    - {within: 60m}
  csat: {scale: [1, 5], satisfied: [4, 5]}
  sentiment: {positive_above: 0.05, negative_below: -0.05}
  goals:
    response_rate: {min: 0.9}
    sla_attainment: {min: 0.8, tolerance: 0.1}
    frt_median: {max: 30}
  error_budget: {metric: sla_attainment, window: month}
  versions:
    - valid_from: 2026-11-16
      goals: {frt_median: {max: 20}}
  custom_metrics:
    - id: complaint_share
      label: Complaint share
      ratio: {numerator: "category == 'complaint'"}
"""


def week_rows(week: int, prefix: str, day: int) -> str:
    """Six interactions on one day of a week of November 2026 (day = day of the month)."""
    rows = []
    for i in range(6):
        channel = "email" if i % 3 == 0 else "twitter"
        replied = f"2026-11-{day:02d} {10 + i}:{5 + 9 * i:02d}:00" if i != 5 else ""
        category = "spam" if i == 4 else ("complaint" if i % 2 else "question")
        rows.append(f"{prefix}{week}-{i},2026-11-{day:02d} {9 + i}:00:00,{replied},,{channel},"
                    f"{'billing' if i < 3 else 'support'},normal,{category},{1 + i % 5},Yes\n")
    return "".join(rows)


def make_site(root: Path) -> Path:
    (root / "exports").mkdir(parents=True)
    for number, day in enumerate((3, 10, 17, 24), start=1):  # weeks 45 to 48 of 2026
        (root / "exports" / f"w{number}.csv").write_text(HEADER + week_rows(number, "t", day),
                                                         encoding="utf-8")
    (root / "config.yaml").write_text(textwrap.dedent(CONFIG).lstrip(), encoding="utf-8")
    return root / "config.yaml"


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site")


def test_a_cold_build_computes_every_period_and_a_rebuild_none(site: Path) -> None:
    first = build(site)
    assert set(first.periods_recomputed) == {
        ("week", "2026-W45"), ("week", "2026-W46"), ("week", "2026-W47"), ("week", "2026-W48"),
        ("month", "2026-11")}
    (site.parent / "content").mkdir()
    (site.parent / "content" / "about.md").write_text("---\ntitle: About\n---\nHi.\n")
    again = build(site)  # content changed: the site is built again, the figures come back
    assert not again.skipped and again.periods_recomputed == ()


def test_a_new_drop_touching_two_weeks_recomputes_exactly_those_weeks(
    site: Path, tmp_path: Path
) -> None:
    build(site)
    new = HEADER + week_rows(2, "n", 11) + week_rows(4, "n", 25)  # weeks 46 and 48
    (site.parent / "exports" / "w5.csv").write_text(new, encoding="utf-8")
    result = build(site)
    assert set(result.periods_recomputed) == {
        ("week", "2026-W46"), ("week", "2026-W48"), ("month", "2026-11")}
    build(site, output=tmp_path / "cold", use_cache=False)
    assert tree(site.parent / "output") == tree(tmp_path / "cold")


def test_a_drop_superseding_rows_of_an_old_week_recomputes_that_week(
    site: Path, tmp_path: Path
) -> None:
    build(site)
    # t1-5 of week 45 was unanswered; a later export carries its reply.
    again = HEADER + "t1-5,2026-11-03 14:00:00,2026-11-03 14:20:00,,twitter,support,normal," \
        "complaint,1,Yes\n"
    (site.parent / "exports" / "w5.csv").write_text(again, encoding="utf-8")
    result = build(site)
    assert set(result.periods_recomputed) == {("week", "2026-W45"), ("month", "2026-11")}
    build(site, output=tmp_path / "cold", use_cache=False)
    assert tree(site.parent / "output") == tree(tmp_path / "cold")


def edit(old: str, new: str) -> Callable[[str], str]:
    def apply(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return apply


def both(first: Callable[[str], str], second: Callable[[str], str]) -> Callable[[str], str]:
    return lambda text: second(first(text))


#: One change per config key (section.key): each is made to a site built with a warm cache,
#: and the next build with that cache must give the bytes of a build without one. Every key of
#: the config's dataclasses must be listed here, so that a key added later is tested too.
#: A conversation source (shape: conversations) that some cases add to the desk.
CARE_SOURCE = """  - name: care
    path: exports/care.json
    shape: conversations
    messages: [turns, {{path: final, role: outbound}}]
    roles: {{customer: inbound, agent: outbound}}
    columns: {{id: head.session, message_id: id, created_at: at, brand: head.brand}}
    dimensions: [brand]
{extra}"""
#: Its export: the final reply of the first conversation has no time but a tweet id that
#: says 2026-11-10 10:30 UTC.
CARE_JSON = """[
 {"head": {"session": "s1", "brand": "acme"},
  "turns": [{"customer": "ann", "at": "2026-11-10T10:00:00Z", "id": "1"}],
  "final": {"id": "2120101660062646272"}},
 {"head": {"session": "s2", "brand": "acme"},
  "turns": [{"customer": "bob", "at": "2026-11-17T11:00:00Z", "id": "3"},
            {"agent": "acme", "at": "2026-11-17T11:20:00Z", "id": "4"}]}
]
"""


CHANGES: dict[str, Callable[[str], str]] = {
    "site.title": edit("title: Incremental", "title: Changed"),
    "site.timezone": edit("timezone: Europe/Berlin\n  periods", "timezone: UTC\n  periods"),
    "site.periods": edit("periods: [week, month]", "periods: [week]"),
    "site.history": edit("history: 8", "history: 2"),
    "site.data_through": edit("data_through: 2026-11-30T00:00:00+00:00",
                              "data_through: 2026-11-24T12:00:00+00:00"),
    "site.templates": edit("  interactions_csv: false",
                           "  interactions_csv: false\n  templates: overrides"),
    "site.on_bad_rows": edit("on_bad_rows: report", "on_bad_rows: fail"),
    "site.interactions_csv": edit("interactions_csv: false", "interactions_csv: true"),
    "site.brackets": edit("  interactions_csv: false",
                          "  interactions_csv: false\n  brackets: [10m, 2h]"),
    "site.bracket_mark": edit("  interactions_csv: false",
                              "  interactions_csv: false\n  bracket_mark: 15m"),
    # Segments, pages and slugs of team become pseudonyms (the key comes from the test).
    "site.people": edit("  interactions_csv: false", "  interactions_csv: false\n"
                        "  privacy: {people: {dimension: team, min_n: 40}}"),
    "site.pseudonymise": edit("  interactions_csv: false",
                              "  interactions_csv: false\n  privacy: {pseudonymise: [team]}"),
    "site.max_segments": edit("  interactions_csv: false",
                              "  interactions_csv: false\n  max_segments: {default: 1}"),
    "site.min_n": edit("  interactions_csv: false", "  interactions_csv: false\n  min_n: 1"),
    "site.max_rejected_share": edit("  interactions_csv: false",
                                    "  interactions_csv: false\n  max_rejected_share: 0.9"),
    "site.since": edit("  interactions_csv: false",
                       "  interactions_csv: false\n  since: 2026-11-09"),
    "sources.name": edit("- name: desk", "- name: helpdesk"),
    "sources.path": edit("path: exports/w*.csv", "path: exports/w[123].csv"),
    "sources.shape": edit("shape: interactions", "shape: 'interactions'"),
    "sources.format": edit("format: auto", "format: csv"),
    "sources.timezone": edit("timezone: UTC\n    delimiter", "timezone: Asia/Tokyo\n    delimiter"),
    "sources.columns": edit("csat: Score, ", ""),
    "sources.values": edit('{"Yes": "true", "No": "false"}', '{"Yes": "false", "No": "true"}'),
    "sources.dimensions": edit("dimensions: [team]", "dimensions: [team, priority]"),
    "sources.channel": both(edit("channel: Network, ", ""),  # one channel for every row
                            edit("dimensions: [team]", "dimensions: [team]\n    channel: chat")),
    "sources.delimiter": edit('delimiter: ","', 'delimiter: ";"'),
    "sources.normalize": edit("dimensions: [team]",
                              "dimensions: [team]\n    normalize: [trim, casefold, nfkc]"),
    "sources.max_future": edit('delimiter: ","', 'delimiter: ","\n    max_future: 1m'),
    # One source (and site.data_through set): closing it changes no figure, only the page.
    "sources.closed": edit('delimiter: ","', 'delimiter: ","\n    closed: true'),
    "sources.on_duplicate": edit('delimiter: ","', 'delimiter: ","\n    on_duplicate: identical'),
    "sources.since": edit('delimiter: ","', 'delimiter: ","\n    since: 2026-11-16'),
    "sources.timestamp_format": edit('delimiter: ","',
                                     'delimiter: ","\n    timestamp_format: "%Y-%m-%d %H:%M"'),
    "calendars.timezone": edit("timezone: Europe/Berlin\n    hours",
                               "timezone: America/New_York\n    hours"),
    "calendars.hours": edit('mon-fri: ["09:00-17:00"]', 'mon-fri: ["10:00-12:00"]'),
    "calendars.holidays": edit("holidays: [2026-11-11]", "holidays: [2026-11-03, 2026-11-17]"),
    "policy.exclude": edit("category: spam}", "category: question}"),
    "policy.blackouts": edit("end: 2026-11-20T06:00", "end: 2026-11-20T23:00"),
    "policy.first_response": edit("within: 60m", "within: 90m"),
    "policy.csat": edit("satisfied: [4, 5]", "satisfied: [3, 4, 5]"),
    "policy.sentiment": edit("positive_above: 0.05", "positive_above: 0.5"),
    "policy.goals": edit("response_rate: {min: 0.9}", "response_rate: {min: 0.5}"),
    "policy.error_budget": edit("window: month}", "window: 14d}"),
    "policy.versions": edit("valid_from: 2026-11-16", "valid_from: 2026-11-09"),
    "policy.custom_metrics": edit("category == 'complaint'", "category == 'question'"),
    # The desk's rows read as events of their cases: one event per row, activity = category.
    "sources.events": both(
        edit("shape: interactions", "shape: events"),
        edit("columns: {id: Case, received_at: Created, first_response_at: Replied, "
             "resolved_at: Closed,\n              channel: Network, csat: Score, "
             "needs_reply: Needs Reply, team: Queue,",
             "events: {first_response: {activity: complaint}, dimensions_from: last}\n"
             "    columns: {case_id: Case, time: Created, activity: Category, channel: Network,"
             "\n              team: Queue,")),
    # A second source of conversations (exports/care.json, written by the test).
    "sources.messages": edit("calendars:", CARE_SOURCE.format(extra="") + "calendars:"),
    "sources.roles": edit("calendars:", CARE_SOURCE.format(extra="") + "calendars:"),
    "sources.time_from_id": edit("calendars:", CARE_SOURCE.format(
        extra="    time_from_id: twitter_snowflake\n") + "calendars:"),
}
#: Keys that hold no value of their own (the parts listed above, and bookkeeping).
NOT_KEYS = {"line", "name", "warnings", "path", "site", "sources", "calendars", "policy",
            "pseudonym_key", "pseudonym_key_id", "pseudonymised"}
#: Changes that need not change a byte of the site (they may, but the test does not ask).
NO_VISIBLE_CHANGE = {"site.on_bad_rows", "site.max_rejected_share", "sources.format", "sources.delimiter",
                     "sources.shape", "sources.timestamp_format", "site.templates",
                     "policy.sentiment",
                     "sources.on_duplicate",  # the drops repeat no id
                     "sources.normalize"}  # the values are lower case and trimmed already


def config_keys() -> set[str]:
    keys = {f"{title}.{f.name}" for title, dataclass in (
        ("site", cfg.SiteConfig), ("sources", cfg.SourceConfig), ("calendars", cfg.Calendar),
        ("policy", cfg.Policy)) for f in dataclasses.fields(dataclass)
        if f.name not in NOT_KEYS}
    return keys | {"sources.name", "sources.path"}


def test_every_config_key_has_a_warm_cache_case() -> None:
    assert config_keys() <= set(CHANGES), sorted(config_keys() - set(CHANGES))


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site built once with its cache (copied by each case)."""
    root = tmp_path_factory.mktemp("warm") / "site"
    config = make_site(root)
    (root / "overrides").mkdir()
    (root / "overrides" / "page.html").write_text('{% extends "theme/page.html" %}\n')
    build(config)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(CHANGES))
def test_a_changed_config_key_with_a_warm_cache_gives_the_cold_build(
    key: str, warm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARECARD_KEY", "incremental-test-key-0123456789")
    site = tmp_path / "site"
    shutil.copytree(warm, site)
    before = tree(site / "output")
    config = site / "config.yaml"
    config.write_text(CHANGES[key](config.read_text(encoding="utf-8")), encoding="utf-8")
    if key == "sources.delimiter":
        for drop in (site / "exports").glob("*.csv"):
            drop.write_text(drop.read_text().replace(",", ";"), encoding="utf-8")
    if key == "sources.timestamp_format":
        for drop in (site / "exports").glob("*.csv"):
            drop.write_text(drop.read_text().replace(":00,", ",").replace(":00\n", "\n"))
    if "care.json" in config.read_text(encoding="utf-8"):
        (site / "exports" / "care.json").write_text(CARE_JSON, encoding="utf-8")
    warm_result = build(config)
    assert not warm_result.skipped
    build(config, output=tmp_path / "cold", use_cache=False)
    assert tree(site / "output") == tree(tmp_path / "cold")
    if key not in NO_VISIBLE_CHANGE:
        assert tree(site / "output") != before, f"the change of {key} changed nothing"


def test_the_cache_keeps_what_the_last_build_used_and_nothing_else(site: Path) -> None:
    build(site)
    (site.parent / "exports" / "w5.csv").write_text(HEADER + week_rows(2, "n", 11),
                                                    encoding="utf-8")
    result = build(site)
    cache, output = site.parent / ".carecard-cache", site.parent / "output"
    assert len(list((cache / "aggregates").iterdir())) == 5  # 4 weeks and 1 month
    assert len(list((cache / "charts").iterdir())) == result.charts
    lists = {p.read_bytes() for p in output.glob("drill/**/*.csv")}  # same rows: one entry
    assert len(list((cache / "drill").iterdir())) == len(lists)
    assert len(list((cache / "staged").glob("*.parquet"))) == 5  # one per drop
