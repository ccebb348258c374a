"""Real export shapes (SPEC §3.3b): event logs and nested JSON conversations build as they
come, their figures match hand derivations, and the README's "Real exports" configs build from
the committed excerpts."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import build, check
from generator.cli import main
from generator.config.loader import load_config
from generator.errors import ConfigError, DataError

DATA = Path(__file__).parent / "data"
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")

EVENTS_CONFIG = """
site: {title: Help desk, timezone: UTC, periods: [month]}
sources:
  - name: desk
    path: exports/desk-*.csv
    shape: events
    channel: email
    columns: {case_id: CaseID, time: CompleteTimestamp, activity: ActivityID}
    events:
      first_response: {activity: [8]}
      resolved: {activity: [6]}
"""

CONVERSATIONS_CONFIG = """
site: {title: Care, timezone: UTC, periods: [month], interactions_csv: true}
sources:
  - name: care
    path: exports/*.json
    shape: conversations
    messages: [dialogContent, {path: agentURL, role: outbound}]
    roles: {client: inbound, client1: inbound, agent: outbound}
    columns:
      id: dialogHeader.sessionID
      message_id: tweet_ID
      created_at: datetime
      text: message
      company: dialogHeader.company
    dimensions: [company]
policy:
  first_response:
    - {within: 60m}
"""


def figures(output: Path) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """(period, dimension, segment, metric) -> (value, n) from data/figures.csv."""
    with (output / "data" / "figures.csv").open(encoding="utf-8") as handle:
        return {(r["period"], r["dimension"], r["segment"], r["metric"]): (r["value"], r["n"])
                for r in csv.DictReader(handle)}


def value(table: dict[tuple[str, str, str, str], tuple[str, str]], period: str, metric: str,
          dimension: str = "all", segment: str = "all") -> tuple[float | None, int | None]:
    text, n = table[(period, dimension, segment, metric)]
    return (float(text) if text else None, int(n) if n else None)


def with_files(project: Callable[..., Path], config: str, files: dict[str, Path]) -> Path:
    path = project({}, config)
    for name, origin in files.items():
        (path.parent / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(origin, path.parent / name)
    return path


# --- shape: events -----------------------------------------------------------------------------


@pytest.fixture
def desk(project: Callable[..., Path]) -> Path:
    return with_files(project, EVENTS_CONFIG, {
        "exports/desk-1.csv": DATA / "events" / "desk-1.csv",
        "exports/desk-2.csv": DATA / "events" / "desk-2.csv",
    })


def test_event_log_figures_match_the_hand_derivation(desk: Path) -> None:
    # tests/data/events (activity 1 = logged, 8 = reply, 6 = closed; UTC, all in 2024-03):
    #   case  receipt (first event)  first 8 after it        last 6 after it
    #   10    04 09:00               09:30  ->  30 min       04 15:00 ->  6 h
    #   11    05 10:00               12:00  -> 120 min       06 10:00 -> 24 h (the last 6)
    #   12    06 14:00 (both drops)  18:00  -> 240 min (2)   07 14:00 -> 24 h (drop 2)
    #   13    07 09:00               09:10  ->  10 min       07 11:00 ->  2 h
    #   14    08 09:00 (2nd row)     09:05  ->   5 min       none
    #   15    08 12:00 (11:00 row rejected: unparseable)     none       none
    # volume 6; response_rate 5/6; frt_median of 5, 10, 30, 120, 240 = 30;
    # resolution_rate 4/6; resolution_median of 2, 6, 24, 24 = 15 h.
    result = build(desk, use_cache=False)
    table = figures(result.output)
    assert value(table, "2024-03", "volume") == (6, None)
    assert value(table, "2024-03", "response_rate") == (pytest.approx(5 / 6), 6)
    assert value(table, "2024-03", "frt_median") == (pytest.approx(30), 5)
    assert value(table, "2024-03", "resolution_rate") == (pytest.approx(4 / 6), 6)
    assert value(table, "2024-03", "resolution_median") == (pytest.approx(15), 4)


def test_event_rows_are_kept_superseded_or_rejected_never_duplicates(desk: Path) -> None:
    # desk-1.csv: 17 events. Case 13's reply appears twice (the copy is superseded), case 12's
    # receipt is in desk-2.csv too (the later drop's copy is kept), case 15's first row has an
    # unparseable time. desk-2.csv: 3 events, all kept. No row is a duplicate id.
    quality = check(desk).quality
    stats = {d.file: (d.read, d.kept, d.superseded, d.rejected) for d in quality.drops}
    assert stats == {"exports/desk-1.csv": (17, 14, 2, 1), "exports/desk-2.csv": (3, 3, 0, 0)}
    assert [(r.position, r.field, r.reason) for r in quality.rejections] == [
        ("line 17", "time", "unparseable_timestamp")]


def test_event_rules_by_actor_with_dimensions_of_the_last_event(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Case A: opened by the customer in queue 'new', answered by an agent 25 minutes later,
    # moved to queue 'billing', closed (the last 'Closed' of two) after 3 hours.
    # Case B: received at its 'Created' event (an earlier system event does not count), never
    # answered; its last event is in queue 'new'. Case C has no 'Created' event: not an
    # interaction; its event is counted as one of a case with no receipt.
    config = project({"log.csv": """
        case,at,what,who,queue
        A,2024-05-06 09:00:00,Created,customer,new
        A,2024-05-06 09:25:00,Comment,agent,new
        A,2024-05-06 10:00:00,Closed,agent,billing
        A,2024-05-06 11:00:00,Reopened,customer,billing
        A,2024-05-06 12:00:00,Closed,agent,billing
        B,2024-05-07 07:00:00,Imported,system,new
        B,2024-05-07 08:00:00,Created,customer,new
        C,2024-05-08 07:00:00,Imported,system,new
        """}, """
        site: {title: T, timezone: UTC, periods: [month]}
        sources:
          - name: desk
            path: log.csv
            shape: events
            channel: email
            columns: {case_id: case, time: at, activity: what, actor: who}
            dimensions: [queue]
            events:
              received: {activity: Created}
              first_response: {actor: agent}
              resolved: {activity: [Closed, Resolved], pick: last}
              dimensions_from: last
        """)
    table = figures(build(config, use_cache=False).output)
    assert value(table, "2024-05", "volume") == (2, None)
    assert value(table, "2024-05", "frt_median") == (pytest.approx(25), 1)
    assert value(table, "2024-05", "resolution_median") == (pytest.approx(3), 1)
    assert value(table, "2024-05", "volume", "queue", "billing") == (1, None)
    assert value(table, "2024-05", "volume", "queue", "new") == (1, None)
    assert main(["check", "--config", str(config)]) == 0
    assert ("source 'desk': 8 events in 2 cases; 1 events of cases with no receipt event "
            "(not interactions, not rejected)") in capsys.readouterr().out


def test_event_source_data_through_is_its_latest_event(project: Callable[..., Path]) -> None:
    # The last event (a survey sent two days after the closure) matches no rule: data-through
    # is still its time, so 2024-05-08 is not cut off.
    config = project({"log.csv": """
        case,at,what
        A,2024-05-06 09:00:00,Created
        A,2024-05-06 10:00:00,Closed
        A,2024-05-08 10:00:00,Survey sent
        """}, """
        site: {title: T, timezone: UTC, periods: [day]}
        sources:
          - name: desk
            path: log.csv
            shape: events
            channel: email
            columns: {case_id: case, time: at, activity: what}
            events: {resolved: {activity: Closed}}
        """)
    quality = check(config).quality
    assert quality.data_through is not None
    assert quality.data_through.isoformat() == "2024-05-08T10:00:00+00:00"


def test_event_keys_on_another_shape_are_a_config_error(project: Callable[..., Path]) -> None:
    config = project({"a.csv": "id,received_at,channel\n1,2024-01-01,email\n"}, """
        site: {title: T}
        sources:
          - name: a
            path: a.csv
            events: {resolved: {activity: Closed}}
        """)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value.problems[0]).endswith(
        "/config.yaml:5: sources[0].events: expected a key of a source with shape: events, "
        "found 'shape: interactions'. Hint: set 'shape: events' or remove 'events'.")


# --- shape: conversations -------------------------------------------------------------------


@pytest.fixture
def care(project: Callable[..., Path]) -> Path:
    return with_files(project, CONVERSATIONS_CONFIG, {
        "exports/ibm.json": DATA / "ibm_conversations_excerpt.json"})


#: The six conversations of tests/data/ibm_conversations_excerpt.json (UTC): first customer
#: message; first brand reply in dialogContent (timed) or only the final agentURL reply, whose
#: time is not given but follows from its tweet id ((id >> 22) + 1288834974657 ms).
#:   MpB8… Rockstar  2020-02-24 19:20:10  agent 19:22:32           ->   2.366667 min
#:   rV8X… Apple     2020-03-16 20:56:36  agentURL 21:07:36.577    ->  11.009617 min
#:   V0mh… zoom_us   2020-03-20 16:27:23  agentURL 18:31:02.413    -> 123.656883 min
#:   Qt4M… Rockstar  2020-03-20 18:34:50  agent 18:43:36           ->   8.766667 min
#:   6kHx… TMobile   2020-04-01 13:30:04  agentURL 20:40:14.588    -> 430.176467 min
#:   NFUD… YouTube   2020-04-01 15:21:28  agentURL 16:15:19.341    ->  53.855683 min


def test_ibm_conversations_without_reply_times_are_answered_time_unknown(care: Path) -> None:
    # Without time_from_id the four agentURL replies have no time: answered (response_rate 1
    # every month, backlog 0), left out of first-response times and SLA (60m target).
    result = build(care, use_cache=False)
    table = figures(result.output)
    assert value(table, "2020-02", "frt_median") == (pytest.approx(2.366667, abs=1e-6), 1)
    assert value(table, "2020-03", "volume") == (3, None)
    assert value(table, "2020-03", "response_rate") == (1, 3)
    assert value(table, "2020-03", "backlog") == (0, None)
    assert value(table, "2020-03", "frt_median") == (pytest.approx(8.766667, abs=1e-6), 1)
    assert value(table, "2020-03", "sla_attainment") == (1, 1)
    assert value(table, "2020-04", "response_rate") == (1, 2)
    assert value(table, "2020-04", "frt_median") == (None, 0)
    assert value(table, "2020-04", "sla_attainment") == (None, 0)
    page = (result.output / "data-quality.html").read_text(encoding="utf-8")
    assert "conversations answered, time unknown: 4 " in page
    # Brackets hold response times: an answer at an unknown time is in none (not 'unanswered').
    with (result.output / "data" / "brackets.csv").open(encoding="utf-8") as handle:
        brackets = {(r["period"], r["bracket"]): int(r["count"]) for r in csv.DictReader(handle)
                    if r["granularity"] == "month" and r["dimension"] == "all"}
    assert {k: c for k, c in brackets.items() if c} == {
        ("2020-02", "<=5m"): 1, ("2020-03", "<=15m"): 1}
    quality = check(care).quality
    assert [(d.read, d.kept, d.rejected) for d in quality.drops] == [(18, 18, 0)]
    with (result.output / "data" / "interactions.csv").open(encoding="utf-8") as handle:
        rows = {r["id"]: r["first_response_at"] for r in csv.DictReader(handle)}
    assert rows == {  # the record's id; the reply's time where it has one
        "MpB8YHHKXxEKVhySuLDg": "2020-02-24T19:22:32", "rV8Xu2UyD9VjNEZdjGTc": "",
        "V0mhAyeN83QySeN1mQL4": "", "Qt4M3sXkR71V9CT9Xr5U": "2020-03-20T18:43:36",
        "6kHxCxC6yB7Dd4DdaAoa": "", "NFUDPkkooFvg5tf3xszV": ""}


def test_check_counts_the_conversations_answered_with_no_reply_time(
    care: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--config", str(care)]) == 0
    assert ("source 'care': 4 conversations answered, time unknown (counted as answered; no "
            "first-response time)") in capsys.readouterr().out


def test_ibm_conversations_with_snowflake_times_match_the_hand_derivation(
    care: Path,
) -> None:
    care.write_text(care.read_text().replace(
        "    dimensions: [company]\n",
        "    dimensions: [company]\n    time_from_id: twitter_snowflake\n"), encoding="utf-8")
    table = figures(build(care, use_cache=False).output)
    assert value(table, "2020-03", "frt_median") == (pytest.approx(11.009617, abs=1e-6), 3)
    assert value(table, "2020-04", "frt_median") == (
        pytest.approx((430.176467 + 53.855683) / 2, abs=1e-6), 2)
    # Within 60 minutes: 2.37 (Feb); 11.01 and 8.77 of 3 (Mar); 53.86 of 2 (Apr).
    assert value(table, "2020-03", "sla_attainment") == (pytest.approx(2 / 3), 3)
    assert value(table, "2020-04", "sla_attainment") == (pytest.approx(1 / 2), 2)
    assert value(table, "2020-03", "volume", "company", "RockstarSupport") == (1, None)


def test_dotted_path_reads_a_field_inside_any_json_record(
    project: Callable[..., Path],
) -> None:
    config = project({"a.jsonl": """
        {"case": {"id": "1", "team": "north"}, "at": "2024-01-02 09:00:00", "ch": "email"}
        {"case": {"id": "2", "team": "south"}, "at": "2024-01-03 09:00:00", "ch": "email"}
        """}, """
        site: {title: T, timezone: UTC, periods: [month]}
        sources:
          - name: a
            path: a.jsonl
            columns: {id: case.id, received_at: at, channel: ch, team: case.team}
            dimensions: [team]
        """)
    table = figures(build(config, use_cache=False).output)
    assert value(table, "2024-01", "volume", "team", "north") == (1, None)
    assert value(table, "2024-01", "volume", "team", "south") == (1, None)


def test_conversation_records_without_messages_or_role_are_rejected_rows(
    project: Callable[..., Path],
) -> None:
    # JSON Lines, the role in a field of each message (mapped by `values`). Line 1: answered
    # after 15 minutes. Line 2: no message at all: one rejected row. Line 3: its second message
    # has a role no mapping knows: that message is rejected, the conversation is kept unanswered.
    config = project({"c.jsonl": """
        {"id": "c1", "turns": [{"from": "customer", "at": "2024-02-01T10:00:00Z"}, {"from": "staff", "at": "2024-02-01T10:15:00Z"}]}
        {"id": "c2", "turns": []}
        {"id": "c3", "turns": [{"from": "customer", "at": "2024-02-02T10:00:00Z"}, {"from": "bot", "at": "2024-02-02T10:01:00Z"}]}
        """}, """
        site: {title: T, timezone: UTC, periods: [month]}
        sources:
          - name: chat
            path: c.jsonl
            shape: conversations
            channel: chat
            messages: turns
            columns: {inbound: from, created_at: at}
            values: {inbound: {customer: "true", staff: "false"}}
        """)
    checked = check(config)
    assert [(d.read, d.kept, d.rejected) for d in checked.quality.drops] == [(5, 3, 2)]
    assert [(r.position, r.field, r.reason) for r in checked.quality.rejections] == [
        ("line 2", "messages", "missing_required"), ("line 3", "inbound", "unmapped_value")]
    assert checked.quality.rejections[0].message == (
        "c.jsonl, line 2, column 'turns': expected a conversation record holding at least one "
        "message. Hint: check sources[0].messages: the place(s) where each record keeps its "
        "messages.")
    figures_ = {(f.period, f.metric): (f.value, f.n) for f in checked.figures.rows
                if f.dimension == "all"}
    assert figures_[("2024-02", "volume")] == (2, None)
    assert figures_[("2024-02", "response_rate")] == (0.5, 2)
    assert figures_[("2024-02", "frt_median")] == (15, 1)


def test_an_actor_rule_needs_an_actor_column(project: Callable[..., Path]) -> None:
    config = project({"log.csv": "case,at,what\nA,2024-05-06 09:00:00,Created\n"}, """
        site: {title: T, timezone: UTC}
        sources:
          - name: desk
            path: log.csv
            shape: events
            columns: {case_id: case, time: at, activity: what}
            events: {first_response: {actor: agent}}
        """)
    with pytest.raises(DataError) as caught:
        check(config)
    assert str(caught.value.problems[0]).startswith(
        "log.csv, line 1: expected a column 'actor' for the field 'actor'.")


def test_conversations_need_messages(project: Callable[..., Path]) -> None:
    config = project({"a.json": "[]"}, """
        site: {title: T}
        sources:
          - name: a
            path: a.json
            shape: conversations
        """)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value.problems[0]).endswith(
        "/config.yaml:3: sources[0].messages: missing required key: expected the path of the "
        "list of messages in each record, e.g. 'messages: turns'.")


# --- README: one worked config per shape ------------------------------------------------------

#: The excerpt each README example reads, in the order of the section's examples.
README_EXCERPTS: dict[str, dict[str, Path]] = {
    "interactions": {"exports/social-1.csv": DATA / "formats" / "comma.csv"},
    "messages": {"exports/twcs-1.csv": DATA / "twcs_excerpt.csv"},
    "events": {"exports/desk-1.csv": DATA / "events" / "desk-1.csv",
               "exports/desk-2.csv": DATA / "events" / "desk-2.csv"},
    "conversations": {"exports/care-1.json": DATA / "ibm_conversations_excerpt.json"},
}


def readme_examples() -> dict[str, str]:
    """shape -> the YAML of its worked config in the README's "Real exports" section."""
    match = re.search(r"^## Real exports$.*?(?=^## )", README, re.S | re.M)
    assert match, "README has no 'Real exports' section"
    blocks = re.findall(r"```yaml\n(.*?)```", match.group(0), re.S)
    return {re.search(r"shape: (\w+)", b).group(1): b for b in blocks}  # type: ignore[union-attr]


@pytest.mark.parametrize("shape", list(README_EXCERPTS))
def test_readme_real_export_config_builds_from_its_excerpt(
    project: Callable[..., Path], shape: str
) -> None:
    examples = readme_examples()
    assert shape in examples
    config = with_files(project, examples[shape], README_EXCERPTS[shape])
    result = build(config, use_cache=False)
    assert result.rows_read > 0
    assert (result.output / "index.html").is_file()


def test_since_sets_aside_the_cases_of_an_event_log_received_before_it(
    project: Callable[..., Path],
) -> None:
    # desk-1.csv and desk-2.csv with since 2024-03-06: cases 10 (received 04 09:00) and 11
    # (05 10:00) fall before it. Their kept events count as "before since": case 10's three
    # and case 11's five (its 06 08:00 'logged' is not its receipt; the case's first event is).
    # Left: cases 12-15 (see the hand derivation above): volume 4, response_rate 3/4,
    # frt_median of 5, 10, 240 = 10 (n 3); resolution_rate 2/4, median of 2, 24 = 13 h.
    config = with_files(project, EVENTS_CONFIG.replace(
        "periods: [month]}", "periods: [month], since: 2024-03-06}"), {
        "exports/desk-1.csv": DATA / "events" / "desk-1.csv",
        "exports/desk-2.csv": DATA / "events" / "desk-2.csv",
    })
    stats = {d.file: (d.read, d.kept, d.superseded, d.rejected, d.before_since)
             for d in check(config).quality.drops}
    assert stats == {"exports/desk-1.csv": (17, 6, 2, 1, 8), "exports/desk-2.csv": (3, 3, 0, 0, 0)}
    table = figures(build(config, use_cache=False).output)
    assert value(table, "2024-03", "volume") == (4, None)
    assert value(table, "2024-03", "response_rate") == (pytest.approx(3 / 4), 4)
    assert value(table, "2024-03", "frt_median") == (pytest.approx(10), 3)
    assert value(table, "2024-03", "resolution_rate") == (pytest.approx(2 / 4), 4)
    assert value(table, "2024-03", "resolution_median") == (pytest.approx(13), 2)
