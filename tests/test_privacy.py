"""site.privacy.pseudonymise (issue 17 item 5): no agent name or handle from the input reaches
output/ or the cache; the pseudonyms are keyed and stable; the figures do not change."""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from generator.build import build, check
from generator.config.loader import load_config
from generator.errors import ConfigError

KEY = "a-test-key-of-32-characters-long"
OTHER_KEY = "another-key-of-32-characters-lng"

#: Distinctive strings: agent names, customer handles, the brand account.
SECRETS = ("Zorblax", "Quintavius", "Wilhelmina", "Oyelaranfitch", "Qwertzuiop", "Plughwomble",
           "AcmeBrandXyzzy")

CONFIG = """
site:
  title: Privacy
  timezone: UTC
  periods: [week]
  data_through: 2026-11-16T00:00:00+00:00
  min_n: 1
  interactions_csv: true
  {privacy}
sources:
  - name: desk
    path: exports/desk.csv
    dimensions: [agent, team]
  - name: twitter
    path: exports/tweets.csv
    shape: messages
    dimensions: [brand]
policy:
  first_response:
    - {{where: {{agent: Zorblax Quintavius}}, within: 15m}}
    - {{within: 60m}}
  exclude:
    - {{name: tests, where: {{agent: [Test Plughwomble]}}}}
"""
PRIVACY = "privacy: {pseudonymise: [agent, author]}"

FILES = {
    "exports/desk.csv": """
        id,received_at,first_response_at,channel,agent,team
        1,2026-11-02T09:00:00Z,2026-11-02T09:20:00Z,email,Zorblax Quintavius,billing
        2,2026-11-02T10:00:00Z,2026-11-02T10:10:00Z,email,Zorblax Quintavius,billing
        3,2026-11-03T09:00:00Z,2026-11-03T09:40:00Z,email,Wilhelmina Oyelaranfitch,support
        4,2026-11-03T11:00:00Z,,email,Wilhelmina Oyelaranfitch,support
        5,2026-11-04T11:00:00Z,2026-11-04T11:05:00Z,email,Test Plughwomble,support
        6,2026-11-10T11:00:00Z,2026-11-10T11:30:00Z,email,Wilhelmina Oyelaranfitch,support
        7,2026-11-10T12:00:00Z,,email,Zorblax Quintavius,billing
        8,2026-11-11T12:00:00Z,2026-11-11T12:30:00Z,email,,billing
        9,not a time,,email,Zorblax Quintavius,billing
        10,2026-11-11T12:00:00Z,,email,Zorblax Quintavius,billing,one value too many
    """,
    "exports/tweets.csv": """
        message_id,author,inbound,created_at,text,in_reply_to
        10,Qwertzuiop_fan,true,2026-11-02T08:00:00Z,@AcmeBrandXyzzy my order is late,
        11,AcmeBrandXyzzy,false,2026-11-02T08:30:00Z,@Qwertzuiop_fan sorry! On it,10
        12,plain_customer,true,2026-11-09T08:00:00Z,hello @acmebrandxyzzy anyone there?,
        13,Qwertzuiop_fan,true,2026-11-10T08:00:00Z,@AcmeBrandXyzzy still waiting,
        14,AcmeBrandXyzzy,false,2026-11-10T09:30:00Z,@Qwertzuiop_fan done,13
    """,
}


def expected_pseudonym(value: str, key: str) -> str:
    """SPEC §10: 'p-' and the first 10 hex digits of HMAC-SHA256(key, value)."""
    return "p-" + hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:10]


@pytest.fixture
def site(project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CARECARD_KEY", KEY)
    return project(FILES, CONFIG.format(privacy=PRIVACY))


def texts_of(folder: Path) -> list[tuple[Path, str]]:
    """Every file under `folder` as text; a Parquet file also as the text of all its cells."""
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out.append((path, path.read_bytes().decode("utf-8", errors="replace")))
        if path.suffix == ".parquet":
            rows = duckdb.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
            out.append((path, repr(rows)))
    return out


def leaks(folder: Path) -> list[str]:
    found = []
    for path, text in texts_of(folder):
        folded = text.casefold()
        for secret in SECRETS:
            forms = {secret.casefold(), urllib.parse.quote(secret).casefold(),
                     re.sub(r"\W+", "-", secret).casefold()}
            if any(form in folded for form in forms):
                found.append(f"{path.relative_to(folder)}: {secret}")
    return found


Figures = dict[tuple[str, str, str, str], tuple[float | None, int | None, str]]


def figures_by_segment(config: Path) -> Figures:
    return {(f.period, f.dimension, f.segment, f.metric): (f.value, f.n, f.status)
            for f in check(config).figures.rows}


def test_no_name_or_handle_reaches_output_or_cache(site: Path) -> None:
    build(site)
    assert (site.parent / "output" / "index.html").is_file()
    # The scan finds what it looks for: the input and the config do hold the secrets.
    assert leaks(site.parent / "exports") and "Zorblax" in site.read_text()
    assert leaks(site.parent / "output") == []
    # The cache scan has something to scan: the staged drops are there.
    assert any((site.parent / ".carecard-cache").rglob("*.parquet"))
    assert leaks(site.parent / ".carecard-cache") == []
    # The rule naming an agent is shown on the definitions page with the agent's pseudonym.
    definitions = (site.parent / "output" / "definitions.html").read_text(encoding="utf-8")
    assert expected_pseudonym("Zorblax Quintavius", KEY) in definitions


def test_figures_are_unchanged_segment_by_pseudonym(
    project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = figures_by_segment(project(FILES, CONFIG.format(privacy="")))
    monkeypatch.setenv("CARECARD_KEY", KEY)
    hashed = figures_by_segment(project(FILES, CONFIG.format(privacy=PRIVACY)))

    def mapped(dimension: str, segment: str) -> str:
        if segment == "unknown":  # no value: the placeholder is not a person
            return segment
        if dimension == "agent":
            return expected_pseudonym(segment, KEY)
        if dimension == "brand":  # handles are pseudonymised case-folded
            return expected_pseudonym(segment.lower(), KEY)
        return segment

    assert {(p, d, mapped(d, s), m): v for (p, d, s, m), v in plain.items()} == hashed
    # The rules still match: Zorblax's 20-minute reply misses his 15-minute target, the test
    # agent's interaction is excluded, and both tweets to the brand count (one via @mention).
    zorblax = expected_pseudonym("Zorblax Quintavius", KEY)
    assert hashed[("2026-W45", "agent", zorblax, "sla_attainment")][0] == 0.5
    tester = expected_pseudonym("Test Plughwomble", KEY)
    assert hashed[("2026-W45", "agent", tester, "volume")][0] == 1
    assert hashed[("2026-W45", "agent", tester, "actionable")][0] == 0
    brand = expected_pseudonym("acmebrandxyzzy", KEY)
    assert hashed[("2026-W46", "brand", brand, "volume")][0] == 2


def test_pseudonyms_are_stable_and_keyed(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def agents() -> set[str]:
        return {f.segment for f in check(site).figures.rows
                if f.dimension == "agent" and f.segment != "unknown"}

    first = agents()
    assert first == agents()
    assert expected_pseudonym("Wilhelmina Oyelaranfitch", KEY) in first
    build(site)
    monkeypatch.setenv("CARECARD_KEY", OTHER_KEY)
    again = build(site)  # a new key is a new build, not a skipped one
    assert not again.skipped
    assert again.checked is not None
    other = {f.segment for f in again.checked.figures.rows
             if f.dimension == "agent" and f.segment != "unknown"}
    assert other.isdisjoint(first) and len(other) == len(first)
    assert leaks(site.parent / "output") == []
    pages = (site.parent / "output" / "data" / "figures.csv").read_text(encoding="utf-8")
    assert expected_pseudonym("Wilhelmina Oyelaranfitch", OTHER_KEY) in pages
    assert expected_pseudonym("Wilhelmina Oyelaranfitch", KEY) not in pages


@pytest.mark.parametrize("key", [None, "too-short"])
def test_a_missing_or_short_key_is_a_config_error(
    site: Path, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    if key is None:
        monkeypatch.delenv("CARECARD_KEY")
    else:
        monkeypatch.setenv("CARECARD_KEY", key)
    with pytest.raises(ConfigError) as error:
        load_config(site)
    message = str(error.value)
    assert "config.yaml:8: site.privacy.pseudonymise: expected a key of at least 16 characters " \
           "in the environment variable CARECARD_KEY" in message
    assert "Hint: set CARECARD_KEY" in message


def test_an_unknown_name_is_a_config_error(
    project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARECARD_KEY", KEY)
    config = project(FILES, CONFIG.format(privacy="privacy: {pseudonymise: [agnet]}"))
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert "site.privacy.pseudonymise: expected a dimension or 'author'" in str(error.value)
    assert "found 'agnet'" in str(error.value)


EVENTS_CONFIG = """
site:
  title: Events
  periods: [week]
  data_through: 2026-11-16T00:00:00+00:00
  privacy: {pseudonymise: [author]}
sources:
  - name: desk
    path: exports/events.csv
    shape: events
    events: {first_response: {actor: [Zorblax Quintavius]}}
"""
EVENTS = {"exports/events.csv": """
    case_id,time,activity,actor,channel
    c1,2026-11-02T09:00:00Z,Opened,Qwertzuiop_fan,email
    c1,2026-11-02T09:05:00Z,Note,Wilhelmina Oyelaranfitch,email
    c1,2026-11-02T09:30:00Z,Reply,Zorblax Quintavius,email
    c2,2026-11-03T09:00:00Z,Opened,Plughwomble_customer,email
    c2,2026-11-03T09:10:00Z,Reply,Zorblax Quintavius,email
"""}


def test_event_actor_rules_match_pseudonymised_actors(
    project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARECARD_KEY", KEY)
    config = project(EVENTS, EVENTS_CONFIG)
    figures = {f.metric: f.value for f in check(config).figures.rows
               if f.dimension == "all" and f.period == "2026-W45"}
    # Zorblax's replies are the first responses (30 and 10 minutes), not Wilhelmina's note.
    assert (figures["response_rate"], figures["frt_median"]) == (1.0, 20.0)
    build(config)
    assert leaks(config.parent / "output") == []
    assert any((config.parent / ".carecard-cache").rglob("*.parquet"))
    assert leaks(config.parent / ".carecard-cache") == []
