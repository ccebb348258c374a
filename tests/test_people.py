"""site.privacy.people (issue 17 item 5): opt-in people views in which a person's figure from
fewer than min_n interactions is shown as 'too few', never as a value, in every output.

The expectations are computed by hand from the rows below (min_n 3, weeks in UTC)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import build
from generator.config.loader import load_config
from generator.errors import ConfigError

CONFIG = """
site:
  title: People
  timezone: UTC
  periods: [week]
  data_through: 2026-11-16T00:00:00+00:00
  min_n: 1
  {privacy}
sources:
  - name: desk
    path: exports/desk.csv
    dimensions: [agent, team]
policy:
  first_response:
    - {{within: 60m}}
  goals:
    sla_attainment: {{min: 0.9}}
    response_rate: {{min: 0.9}}
  error_budget: {{metric: sla_attainment, window: month}}
"""
PEOPLE = "privacy: {people: {dimension: agent, min_n: 3}}"

# Week 45 (2 to 8 Nov): Ann 3 (one late), Bob 2 (one unanswered), Cyd 3 (all in time).
# Week 46 (9 to 15 Nov): Ann 1, Bob 3 (one unanswered), Cyd 3 (one late).
DESK = """
    id,received_at,first_response_at,channel,agent,team
    1,2026-11-02T09:00:00Z,2026-11-02T09:20:00Z,email,Ann,billing
    2,2026-11-02T10:00:00Z,2026-11-02T10:10:00Z,email,Ann,billing
    3,2026-11-03T09:00:00Z,2026-11-03T10:40:00Z,email,Ann,billing
    4,2026-11-03T11:00:00Z,,email,Bob,support
    5,2026-11-04T11:00:00Z,2026-11-04T11:05:00Z,email,Bob,support
    6,2026-11-05T08:00:00Z,2026-11-05T08:10:00Z,email,Cyd,support
    7,2026-11-05T09:00:00Z,2026-11-05T09:10:00Z,email,Cyd,support
    8,2026-11-05T10:00:00Z,2026-11-05T10:10:00Z,email,Cyd,support
    9,2026-11-10T11:00:00Z,2026-11-10T11:30:00Z,email,Ann,support
    10,2026-11-10T12:00:00Z,,email,Bob,billing
    11,2026-11-11T12:00:00Z,2026-11-11T12:30:00Z,email,Bob,billing
    12,2026-11-11T13:00:00Z,2026-11-11T13:30:00Z,email,Bob,billing
    13,2026-11-12T08:00:00Z,2026-11-12T08:10:00Z,email,Cyd,support
    14,2026-11-12T09:00:00Z,2026-11-12T09:10:00Z,email,Cyd,support
    15,2026-11-12T10:00:00Z,2026-11-12T12:10:00Z,email,Cyd,support
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture
def site(project: Callable[..., Path], tmp_path: Path) -> Path:
    """The built output folder of the project with people views of `agent`."""
    config = project({"exports/desk.csv": DESK}, CONFIG.format(privacy=PEOPLE))
    build(config, use_cache=False)
    return tmp_path / "output"


def figure(rows: list[dict[str, str]], period: str, seg: str, metric: str,
           dim: str = "agent") -> dict[str, str]:
    (row,) = [r for r in rows if (r["period"], r["dimension"], r["segment"], r["metric"])
              == (period, dim, seg, metric)]
    return row


def test_a_persons_figure_from_too_few_interactions_has_no_value_nor_n(site: Path) -> None:
    rows = read_csv(site / "data" / "figures.csv")
    # Bob, W45: 2 interactions. Every figure is withheld, with its n (the n of response_rate,
    # 2, and of frt_median, 1, would give his response rate of 50%).
    for metric in ("volume", "actionable", "backlog", "response_rate", "sla_attainment",
                   "frt_median"):
        row = figure(rows, "2026-W45", "Bob", metric)
        assert (row["value"], row["n"]) == ("", ""), metric
    assert figure(rows, "2026-W45", "Bob", "sla_attainment")["status"] == "insufficient"
    assert figure(rows, "2026-W45", "Bob", "volume")["status"] == "none"
    # Ann, W46: 1 interaction, withheld likewise, and so is its change; her W45 (3
    # interactions, shown) is still its previous value.
    assert figure(rows, "2026-W46", "Ann", "sla_attainment")["value"] == ""
    ann_volume = figure(rows, "2026-W46", "Ann", "volume")
    assert (ann_volume["value"], ann_volume["previous_value"], ann_volume["change"]) == (
        "", "3", "")
    # Ann, W45: 3 interactions, 1 answered after 100 minutes: 2 of 3 in time.
    ann = figure(rows, "2026-W45", "Ann", "sla_attainment")
    assert (float(ann["value"]), ann["n"], ann["status"]) == (2 / 3, "3", "red")
    assert figure(rows, "2026-W45", "Ann", "frt_median")["value"] == "20"
    # Bob, W46: 3 interactions, 2 answered in 30 minutes: response rate 2/3 (n 3) is shown,
    # the median first response rests on 2 answers and is withheld; his W45 is not compared.
    bob = figure(rows, "2026-W46", "Bob", "response_rate")
    assert (float(bob["value"]), bob["n"]) == (2 / 3, "3")
    assert (bob["previous_value"], bob["change"]) == ("", "")
    assert figure(rows, "2026-W46", "Bob", "frt_median")["value"] == ""
    assert figure(rows, "2026-W46", "Bob", "volume")["value"] == "3"
    # Cyd: 3 and 3, compared: SLA 3/3 then 2/3 (one answer after 130 minutes), -33.3 pp.
    cyd = figure(rows, "2026-W46", "Cyd", "sla_attainment")
    assert (float(cyd["value"]), float(cyd["previous_value"])) == (2 / 3, 1.0)
    assert float(cyd["change"]) == pytest.approx(-100 / 3)
    # Other dimensions are untouched: team support in W45 holds Bob's 2 and Cyd's 3.
    support = figure(rows, "2026-W45", "support", "response_rate", dim="team")
    assert (float(support["value"]), support["n"]) == (4 / 5, "5")


def test_the_views_beside_the_figures_withhold_people_alike(site: Path) -> None:
    hourly = read_csv(site / "data" / "hourly.csv")
    # Every cell of a person holds at most 3 interactions an hour; Cyd's Thursday 08:00 cell
    # holds 2 (W45 and W46), below 3: withheld, value and n.
    people = [r for r in hourly if r["dimension"] == "agent"]
    assert people and all(r["value"] == "" and r["n"] == "" for r in people)
    team = [r for r in hourly if (r["dimension"], r["segment"], r["weekday"], r["hour"],
                                  r["metric"]) == ("team", "support", "4", "8", "volume")]
    assert [r["value"] for r in team] == ["2"]

    brackets = read_csv(site / "data" / "brackets.csv")
    kept = {(r["period"], r["segment"]) for r in brackets if r["dimension"] == "agent"}
    # Left out: Bob's W45 (2 interactions) and Ann's W46 (1).
    assert kept == {("2026-W45", "Ann"), ("2026-W45", "Cyd"), ("2026-W46", "Bob"),
                    ("2026-W46", "Cyd")}
    ann = {r["bracket"]: int(r["count"]) for r in brackets
           if (r["period"], r["dimension"], r["segment"]) == ("2026-W45", "agent", "Ann")}
    assert sum(ann.values()) == 3
    assert (ann["<=15m"], ann["<=60m"], ann["<=4h"]) == (1, 1, 1)


def test_people_are_listed_only_on_the_people_page(site: Path) -> None:
    people = (site / "people.html").read_text(encoding="utf-8")
    for name in ("Ann", "Bob", "Cyd"):
        assert f">{name}</a>" in people
    assert "too few" in people
    assert "fewer than 3 interactions" in people
    # The team-wide views and the chat digest name no person.
    for page in ("index.html", "league.html", "data/digest.md"):
        text = (site / page).read_text(encoding="utf-8")
        assert not any(name in text for name in ("Ann", "Bob", "Cyd")), page
    assert 'href="people.html"' in (site / "index.html").read_text(encoding="utf-8")
    # Each person keeps a segment page, where a withheld figure reads 'too few'.
    (bob,) = (site / "segments" / "agent").glob("bob*.html")
    page = bob.read_text(encoding="utf-8")
    assert '<td class="cell cell-none" data-label="Volume"><span class="cell-value">too few' \
        in page
    # His W45 brackets (left out of brackets.csv): the table's total says so, not 0.
    assert "<td>too few</td></tr>" in page
    # A person has no error budget; a team has.
    assert "Error budget" not in page
    (billing,) = (site / "segments" / "team").glob("billing*.html")
    assert "Error budget" in billing.read_text(encoding="utf-8")


def test_without_the_setting_there_is_no_people_page(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    config = project({"exports/desk.csv": DESK}, CONFIG.format(privacy=""))
    build(config, use_cache=False)
    out = tmp_path / "output"
    assert not (out / "people.html").exists()
    assert "Bob" in (out / "league.html").read_text(encoding="utf-8")
    rows = read_csv(out / "data" / "figures.csv")
    assert figure(rows, "2026-W45", "Bob", "volume")["value"] == "2"


@pytest.mark.parametrize(("people", "expected"), [
    ("{dimension: agnet}", "did you mean 'agent'?"),
    ("{dimension: agent, min_n: 0}", "a whole number ≥ 1"),
    ("{min_n: 5}", "missing required key"),
    ("agent", "a mapping like {dimension: agent, min_n: 10}"),
])
def test_a_bad_people_setting_is_a_config_error_at_its_line(
    project: Callable[..., Path], people: str, expected: str
) -> None:
    config = project({"exports/desk.csv": DESK},
                     CONFIG.format(privacy="privacy: {people: " + people + "}"))
    with pytest.raises(ConfigError) as error:
        load_config(config)
    message = str(error.value)
    assert "config.yaml:7" in message and "site.privacy.people" in message
    assert expected in message


#: The only outputs that may name a person: the people views and the figures files.
PEOPLE_VIEWS = ("people.html", "segments/index.html", "segments/agent/", "hours/agent/",
                "charts/agent/", "data/figures.csv", "data/figures.json", "data/hourly.csv",
                "data/brackets.csv")


def test_no_other_output_names_a_person_or_lists_their_interactions(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    names = {"Ann": "Annzq", "Bob": "Bobzq", "Cyd": "Cydzq"}
    desk = DESK
    for name, distinct in names.items():
        desk = desk.replace(name, distinct)
    # A second drop re-exports interaction 3 answered at another time: W45 is restated.
    later = "\n".join(desk.strip().splitlines()[:1]) + (
        "\n    3,2026-11-03T09:00:00Z,2026-11-03T09:40:00Z,email,Annzq,billing\n")
    config = project({"exports/desk.csv": desk, "exports/desk-2.csv": later},
                     CONFIG.format(privacy=PEOPLE + "\n  interactions_csv: true").replace(
                         "exports/desk.csv", "exports/desk*.csv"))
    build(config, use_cache=False)
    out = tmp_path / "output"
    named = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        text = path.read_bytes().decode("utf-8", errors="replace")
        if not rel.startswith(PEOPLE_VIEWS) and any(n in text for n in names.values()):
            named.append(rel)
    assert not named
    # The scan can find a name: the people page holds them, and the teams' lists exist.
    assert "Annzq" in (out / "people.html").read_text(encoding="utf-8")
    assert any((out / "drill" / "week" / "2026-W45" / "team").glob("*.csv"))
    # The newest drop restates figures of W45: the teams' are listed, the people's are not.
    restated = {r["dimension"] for r in read_csv(out / "data" / "restatements.csv")}
    assert "team" in restated and "agent" not in restated
    assert "agent" not in (out / "data" / "interactions.csv").read_text().splitlines()[0]
    assert not (out / "drill" / "week" / "2026-W45" / "agent").exists()
