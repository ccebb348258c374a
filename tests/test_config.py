"""Tests of generator.config.loader: the shape of config.yaml (SPEC §10) and its messages (STYLE)."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from generator.config.loader import (
    Blackout,
    Calendar,
    CsatPolicy,
    ErrorBudget,
    ExcludeRule,
    Goal,
    SentimentPolicy,
    TargetRule,
    Where,
    load_config,
    parse_duration,
)
from generator.errors import ConfigError, Problem

THEME = Path(__file__).resolve().parent.parent / "templates"

SPEC_EXAMPLE = """\
site:
  title: Acme Social Care Scorecard
  timezone: Europe/London          # reporting timezone (IANA)
  periods: [week, month]           # granularities; the first is the headline
  history: 26                      # periods shown on trend charts
  # data_through: 2026-11-30T00:00:00+00:00   # optional explicit cut-off
  # templates: templates/          # theme overrides

sources:
  - name: social
    path: content/exports/social-*.csv
    shape: interactions            # interactions | messages
    format: auto                   # auto (by extension) | csv | jsonl | json | parquet | xlsx
    timezone: UTC                  # for timestamps without an offset
    columns:                       # canonical field: column in the export (identity when omitted)
      id: Case ID
      received_at: Created
      first_response_at: First Reply
      resolved_at: Closed
      channel: Network
      team: Queue
      csat: Survey Score
    values:                        # optional value mapping per canonical field
      channel: {Twitter: twitter, X: twitter}
    dimensions: [team, category]   # published as segments; channel always is one

calendars:
  uk-office:
    timezone: Europe/London
    hours:
      mon-fri: ["08:00-12:30", "13:30-18:00"]
      sat: ["09:00-13:00"]
    holidays: [2026-12-25, 2026-12-26]

policy:
  exclude:                         # first matching rule counts the interaction
    - {name: spam, where: {category: spam}}
  blackouts:
    - {start: 2026-10-14T09:00, end: 2026-10-14T13:00, reason: Platform outage,
       where: {channel: twitter}}
  first_response:                  # first matching rule wins; the last one has no `where`
    - {where: {priority: urgent}, within: 15m}
    - {where: {channel: email}, within: 24h, clock: business, calendar: uk-office}
    - {within: 60m}                # elapsed clock by default
  csat: {scale: [1, 5], satisfied: [4, 5]}
  sentiment: {positive_above: 0.05, negative_below: -0.05}
  goals:                           # min: higher is better; max: lower is better
    sla_attainment: {min: 0.90, tolerance: 0.05, min_n: 20}
    frt_median: {max: 30}
    response_rate: {min: 0.95}
    csat: {min: 0.80, min_n: 20}
  error_budget: {metric: sla_attainment, window: month}
  versions:                        # from valid_from on: goals merged, lists replaced
    - valid_from: 2026-11-01
      goals:
        sla_attainment: {min: 0.92}
  custom_metrics:
    - {id: complaint_share, label: Complaint share, ratio: {numerator: "category == 'complaint'"}}
"""

#: A minimal valid config; cases below append to it or replace parts of it.
MINIMAL = """\
site:
  timezone: Europe/London
sources:
  - name: social
    path: exports/*.csv
    columns: {id: Case ID, team: Queue}
    dimensions: [team]
"""

#: The names an interaction source's dimension may not carry, as the config error lists them.
RESERVED = ("id, received_at, first_response_at, resolved_at, csat, sentiment_start, "
            "sentiment_end, public, moved_private, reach, needs_reply, deleted, frt_minutes, "
            "resolution_hours, within_target, target_minutes, all")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Return a function writing a scratch site (config.yaml + export files); cwd is its folder."""
    monkeypatch.chdir(tmp_path)

    def write(config: str, files: tuple[str, ...] = ("exports/w1.csv",)) -> Path:
        for name in files:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("id,received_at,channel\n", encoding="utf-8")
        (tmp_path / "config.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
        return Path("config.yaml")

    return write


def messages(path: Path | str, strict: bool = False) -> list[str]:
    """Return the messages load_config raises for a config."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, strict=strict)
    return [str(p) for p in caught.value.problems]


# --- a valid config --------------------------------------------------------------------------


def test_spec_example_loads_into_dataclasses(project) -> None:
    # §10 matches on `priority`, which it never declares; a column mapping declares it.
    text = SPEC_EXAMPLE.replace(
        "      csat: Survey Score\n", "      csat: Survey Score\n      priority: Priority\n"
    )
    config = load_config(project(text, files=("content/exports/social-w1.csv",)))

    assert config.warnings == ()
    assert config.path == Path.cwd() / "config.yaml"
    assert config.root == Path.cwd()
    site = config.site
    assert (site.title, site.timezone, site.periods, site.history) == (
        "Acme Social Care Scorecard",
        "Europe/London",
        ("week", "month"),
        26,
    )
    assert (site.data_through, site.templates, site.on_bad_rows) == (None, None, "report")

    (source,) = config.sources
    assert (source.name, source.path, source.shape, source.format, source.timezone) == (
        "social",
        "content/exports/social-*.csv",
        "interactions",
        "auto",
        "UTC",
    )
    assert source.columns == {
        "id": "Case ID",
        "received_at": "Created",
        "first_response_at": "First Reply",
        "resolved_at": "Closed",
        "channel": "Network",
        "team": "Queue",
        "csat": "Survey Score",
        "priority": "Priority",
    }
    assert source.values == {"channel": {"Twitter": "twitter", "X": "twitter"}}
    assert source.dimensions == ("team", "category")
    assert (source.channel, source.delimiter, source.timestamp_format) == (None, None, None)
    assert source.line == 10

    office = config.calendars["uk-office"]
    weekday = (time(8, 0), time(12, 30)), (time(13, 30), time(18, 0))
    assert office == Calendar(
        name="uk-office",
        timezone="Europe/London",
        hours={
            "mon": weekday,
            "tue": weekday,
            "wed": weekday,
            "thu": weekday,
            "fri": weekday,
            "sat": ((time(9, 0), time(13, 0)),),
        },
        holidays=(date(2026, 12, 25), date(2026, 12, 26)),
    )

    policy = config.policy
    assert policy.exclude == (ExcludeRule("spam", Where({"category": ("spam",)})),)
    assert policy.blackouts == (
        Blackout(
            datetime(2026, 10, 14, 9),
            datetime(2026, 10, 14, 13),
            "Platform outage",
            Where({"channel": ("twitter",)}),
        ),
    )
    assert policy.first_response == (
        TargetRule(15.0, Where({"priority": ("urgent",)}), text="15m"),
        TargetRule(1440.0, Where({"channel": ("email",)}), "business", "uk-office", "24h"),
        TargetRule(60.0, Where(), text="60m"),
    )
    assert policy.csat == CsatPolicy((1, 5), (4, 5))
    assert policy.sentiment == SentimentPolicy(0.05, -0.05)
    assert policy.goals == {
        "sla_attainment": Goal("sla_attainment", "min", 0.90, 0.05, 20),
        "frt_median": Goal("frt_median", "max", 30.0),
        "response_rate": Goal("response_rate", "min", 0.95),
        "csat": Goal("csat", "min", 0.80, None, 20),
    }
    assert policy.error_budget == ErrorBudget("sla_attainment", "month", 28)
    (version,) = policy.versions
    assert version.valid_from == date(2026, 11, 1)
    assert version.goals == {"sla_attainment": Goal("sla_attainment", "min", 0.92)}
    assert (version.exclude, version.first_response) == (None, None)
    (custom,) = policy.custom_metrics
    assert (custom.id, custom.label, custom.unit) == ("complaint_share", "Complaint share", "ratio")
    assert custom.needs == ()


def test_spec_example_verbatim_rejects_where_on_undeclared_priority(project) -> None:
    path = project(SPEC_EXAMPLE, files=("content/exports/social-w1.csv",))

    assert messages(path) == [
        "config.yaml:42: policy.first_response[0].where: expected a canonical field or a "
        "dimension declared by a source, found 'priority'. Hint: declare 'priority' in a "
        "source's 'dimensions'."
    ]


def test_minimal_config_takes_the_defaults(project) -> None:
    config = load_config(project(MINIMAL))

    assert config.site.periods == ("week", "month")
    assert config.site.history == 26
    assert config.calendars == {}
    assert config.policy.first_response == (TargetRule(60.0),)
    assert config.policy.error_budget is None
    assert config.sources[0].max_future == "2d"


def test_problem_fields_are_structured(project) -> None:
    path = project(MINIMAL.replace("timezone: Europe/London", "history: many"))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert caught.value.problems == [
        Problem("config.yaml:2", "site.history", "a whole number ≥ 1", "many")
    ]


def test_where_is_the_path_as_given(project, tmp_path: Path) -> None:
    project(MINIMAL.replace("timezone: Europe/London", "history: 0"))

    assert messages(tmp_path / "config.yaml") == [
        f"{tmp_path / 'config.yaml'}:2: site.history: expected a whole number ≥ 1, found '0'."
    ]


# --- every kind of mistake, with its exact message --------------------------------------------

MISTAKES = [
    (
        "site.history",
        "  history: many\n",
        "config.yaml:3: site.history: expected a whole number ≥ 1, found 'many'.",
    ),
    (
        "site.timezone",
        "  timezone: London\n",
        "config.yaml:3: site.timezone: expected an IANA timezone name, found 'London'. "
        "Hint: did you mean 'Europe/London'?",
    ),
    (
        "site.periods",
        "  periods: [week, fortnight]\n",
        "config.yaml:3: site.periods[1]: expected one of 'day', 'week', 'month', 'quarter', "
        "found 'fortnight'.",
    ),
    (
        "site.periods",
        "  periods: [month, week, month]\n",
        "config.yaml:3: site.periods[2]: expected each granularity once, found 'month'. "
        "Hint: line 3 already has it.",
    ),
    (
        "site.periods",
        "  periods: []\n",
        "config.yaml:3: site.periods: expected a list with at least one entry, found '[]'.",
    ),
    (
        "site.on_bad_rows",
        "  on_bad_rows: warn\n",
        "config.yaml:3: site.on_bad_rows: expected one of 'report', 'fail', found 'warn'.",
    ),
    (
        "site.data_through",
        "  data_through: next week\n",
        "config.yaml:3: site.data_through: expected an ISO 8601 date and time like "
        "'2026-11-30T00:00:00+00:00', found 'next week'.",
    ),
    (
        "site.max_segments",
        "  max_segments: 0\n",
        "config.yaml:3: site.max_segments: expected a whole number ≥ 1, or a map like "
        "{{default: 200, team: 500}}, found '0'.",
    ),
    (
        "site.max_segments",
        "  max_segments: {default: 100, team: many}\n",
        "config.yaml:3: site.max_segments.team: expected a whole number ≥ 1, found 'many'.",
    ),
    (
        "site.data_through in year 9999",  # an OverflowError once it reached the build
        "  data_through: 9999-12-31T23:59:59-12:00\n",
        "config.yaml:3: site.data_through: expected a date from 1970 to 2100, found "
        "'9999-12-31T23:59:59-12:00'. Hint: a date this far off is a typing error.",
    ),
    (
        "site.data_through in year 1",
        "  data_through: 0001-01-01T00:00:00+14:00\n",
        "config.yaml:3: site.data_through: expected a date from 1970 to 2100, found "
        "'0001-01-01T00:00:00+14:00'. Hint: a date this far off is a typing error.",
    ),
    (
        "site.templates",
        "  templates: theme/\n",
        "config.yaml:3: site.templates: expected an existing folder, found 'theme/'. "
        "Hint: paths are relative to the folder of config.yaml, '{root}'.",
    ),
]


@pytest.mark.parametrize(("what", "line", "message"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_site_mistake_has_exact_message(project, tmp_path, what, line, message) -> None:
    path = project(MINIMAL.replace("  timezone: Europe/London\n", "  title: T\n" + line))

    assert messages(path) == [message.format(root=tmp_path)]


POLICY_MISTAKES = [
    (
        "duration",
        """\
        policy:
          first_response:
            - {where: {channel: email}, within: 4h}
            - {where: {team: vip}, within: soon}
            - {within: 60m}
        """,
        "config.yaml:11: policy.first_response[1].within: expected a duration like '60m' or "
        "'4h', found 'soon'.",
    ),
    (
        "duration without unit",
        """\
        policy:
          first_response: [{within: 60}]
        """,
        "config.yaml:9: policy.first_response[0].within: expected a duration like '60m' or "
        "'4h', found '60'. Hint: add a unit (s, m, h or d), e.g. '60m'.",
    ),
    (
        "last rule has where",
        """\
        policy:
          first_response:
            - {within: 15m, where: {team: vip}}
        """,
        "config.yaml:10: policy.first_response[0].where: expected no 'where' on the last rule "
        "(the default). Hint: end the list with a default rule such as '- {within: 60m}'.",
    ),
    (
        "rule before the last without where",
        """\
        policy:
          first_response:
            - {within: 15m}
            - {within: 60m}
        """,
        "config.yaml:10: policy.first_response[0].where: expected a 'where' on every rule but "
        "the last. Hint: a rule without 'where' matches everything, so later rules never apply.",
    ),
    (
        "business clock without calendar",
        """\
        policy:
          first_response:
            - {within: 4h, clock: business}
        """,
        "config.yaml:10: policy.first_response[0].calendar: missing required key: expected a "
        "calendar name for the business clock. Hint: define opening hours under 'calendars' "
        "and name them here.",
    ),
    (
        "unknown calendar",
        """\
        calendars:
          uk-office: {hours: {mon-fri: ["09:00-17:00"]}}
        policy:
          first_response:
            - {within: 4h, clock: business, calendar: uk-ofice}
        """,
        "config.yaml:12: policy.first_response[0].calendar: expected the name of a calendar in "
        "'calendars', found 'uk-ofice'. Hint: did you mean 'uk-office'?",
    ),
    (
        "calendar on the elapsed clock",
        """\
        calendars:
          uk-office: {hours: {mon-fri: ["09:00-17:00"]}}
        policy:
          first_response:
            - {within: 4h, calendar: uk-office}
        """,
        "config.yaml:12: policy.first_response[0].calendar: expected no calendar on the elapsed "
        "clock, found 'uk-office'. Hint: add 'clock: business' to measure in opening hours.",
    ),
    (
        "where on an unknown field",
        """\
        policy:
          exclude:
            - {name: vip, where: {taem: vip}}
        """,
        "config.yaml:10: policy.exclude[0].where: expected a canonical field or a dimension "
        "declared by a source, found 'taem'. Hint: did you mean 'team'?",
    ),
    (
        "duplicate rule names",
        """\
        policy:
          exclude:
            - {name: spam, where: {team: spam}}
            - {name: spam, where: {team: bots}}
        """,
        "config.yaml:11: policy.exclude[1].name: expected a unique rule name, found 'spam'. "
        "Hint: line 10 already has it.",
    ),
    (
        "exclude rule without where",
        """\
        policy:
          exclude:
            - {name: spam}
        """,
        "config.yaml:10: policy.exclude[0].where: missing required key: expected the conditions "
        "the rule excludes.",
    ),
    (
        "blackout ends before it starts",
        """\
        policy:
          blackouts:
            - start: 2026-10-14T09:00
              end: 2026-10-14T08:00
              reason: Outage
        """,
        "config.yaml:11: policy.blackouts[0].end: expected a time after start "
        "(2026-10-14T09:00:00), found '2026-10-14T08:00'.",
    ),
    (
        "unknown metric",
        """\
        policy:
          goals:
            sla_attainmnet: {min: 0.9}
        """,
        "config.yaml:10: policy.goals: expected a metric id, found 'sla_attainmnet'. "
        "Hint: did you mean 'sla_attainment'?",
    ),
    (
        "ratio goal as a percentage",
        """\
        policy:
          goals:
            response_rate: {min: 95}
        """,
        "config.yaml:10: policy.goals.response_rate.min: expected a ratio between 0 and 1, "
        "found '95'. Hint: write ratios as fractions: 0.95 for 95%.",
    ),
    (
        "goal without direction",
        """\
        policy:
          goals:
            frt_median: {min_n: 5}
        """,
        "config.yaml:10: policy.goals.frt_median: missing required key: expected 'min' (higher "
        "is better) or 'max' (lower is better).",
    ),
    (
        "goal with both directions",
        """\
        policy:
          goals:
            frt_median: {min: 1, max: 30}
        """,
        "config.yaml:10: policy.goals.frt_median: expected either 'min' or 'max', not both, "
        "found '{min: 1, max: 30}'.",
    ),
    (
        "csat satisfied outside the scale",
        """\
        policy:
          csat: {scale: [0, 10], satisfied: [9, 11]}
        """,
        "config.yaml:9: policy.csat.satisfied: expected scores within the scale 0 to 10, "
        "found '11'.",
    ),
    (
        "csat scale without satisfied",
        """\
        policy:
          csat: {scale: [0, 3]}
        """,
        "config.yaml:9: policy.csat.satisfied: missing required key: expected the satisfied "
        "scores on the scale 0 to 3.",
    ),
    (
        "sentiment thresholds crossed",
        """\
        policy:
          sentiment: {positive_above: 0.1, negative_below: 0.2}
        """,
        "config.yaml:9: policy.sentiment.negative_below: expected a number ≤ positive_above "
        "(0.1), found '0.2'.",
    ),
    (
        "error budget on a metric without a goal",
        """\
        policy:
          error_budget: {metric: sla_attainment}
        """,
        "config.yaml:9: policy.error_budget.metric: expected a metric with a goal in "
        "policy.goals, found 'sla_attainment'. Hint: add a goal such as 'sla_attainment: "
        "{min: 0.9}' under policy.goals.",
    ),
    (
        "error budget window",
        """\
        policy:
          goals: {sla_attainment: {min: 0.9}}
          error_budget: {window: fortnight}
        """,
        "config.yaml:10: policy.error_budget.window: expected 'month', 'quarter', 'rolling' or "
        "a number of days like '28d', found 'fortnight'.",
    ),
    (
        "duplicate version dates",
        """\
        policy:
          versions:
            - {valid_from: 2026-11-01}
            - {valid_from: 2026-11-01}
        """,
        "config.yaml:11: policy.versions[1].valid_from: expected a valid_from date no other "
        "version has, found '2026-11-01'. Hint: line 10 already has it.",
    ),
    (
        "mistake inside a version",
        """\
        policy:
          versions:
            - valid_from: 2026-11-01
              first_response: [{within: 15m, where: {team: vip}}]
        """,
        "config.yaml:11: policy.versions[0].first_response[0].where: expected no 'where' on the "
        "last rule (the default). Hint: end the list with a default rule such as "
        "'- {within: 60m}'.",
    ),
    (
        "custom metric reusing a built-in id",
        """\
        policy:
          custom_metrics:
            - {id: csat, label: CSAT, ratio: {numerator: "csat >= 4"}}
        """,
        "config.yaml:10: policy.custom_metrics[0].id: expected an id that is not a built-in "
        "metric's, found 'csat'. Hint: choose another id.",
    ),
]


@pytest.mark.parametrize(
    ("what", "section", "message"), POLICY_MISTAKES, ids=[m[0] for m in POLICY_MISTAKES]
)
def test_policy_mistake_has_exact_message(project, what, section, message) -> None:
    path = project(MINIMAL + textwrap.dedent(section))

    assert messages(path) == [message]


SOURCE_MISTAKES = [
    (
        "normalize",
        "  - {name: social, path: exports/*.csv, normalize: [trim, lowercase]}\n",
        "config.yaml:4: sources[0].normalize[1]: expected one of 'trim', 'casefold', 'nfkc', "
        "found 'lowercase'.",
    ),
    (
        "missing path",
        "  - name: social\n    shape: interactions\n",
        "config.yaml:4: sources[0].path: missing required key: expected a glob of export "
        "files, relative to config.yaml.",
    ),
    (
        "empty path",
        "  - name: social\n    path:\n",
        "config.yaml:5: sources[0].path: missing required key: expected a glob of export "
        "files, relative to config.yaml.",
    ),
    (
        "shape",
        "  - {name: social, path: exports/*.csv, shape: interaction}\n",
        "config.yaml:4: sources[0].shape: expected one of 'interactions', 'messages', "
        "'events', 'conversations', found 'interaction'. Hint: did you mean 'interactions'?",
    ),
    (
        "reversed column mapping",
        "  - name: social\n    path: exports/*.csv\n    columns: {Case ID: id}\n",
        "config.yaml:6: sources[0].columns: expected a field or dimension name of letters, "
        "digits and '_', found 'Case ID'. Hint: the canonical name comes first, "
        "e.g. 'id: Case ID'.",
    ),
    (
        "dimension all",
        "  - {name: social, path: exports/*.csv, dimensions: [team, all]}\n",
        "config.yaml:4: sources[0].dimensions[1]: expected a dimension name that carecard "
        "does not reserve, found 'all'. Hint: 'all' stands for every segment; the reserved "
        f"names are {RESERVED}. Give the column another name, e.g. columns: "
        "{all_export: all} and dimensions: [all_export].",
    ),
    (
        "dimension that is a canonical field",
        "  - {name: social, path: exports/*.csv, dimensions: [csat]}\n",
        "config.yaml:4: sources[0].dimensions[0]: expected a dimension name that carecard "
        "does not reserve, found 'csat'. Hint: 'csat' is a canonical field; the reserved "
        f"names are {RESERVED}. Give the column another name, e.g. columns: "
        "{csat_export: csat} and dimensions: [csat_export].",
    ),
    (
        "delimiter",
        "  - {name: social, path: exports/*.csv, delimiter: ';;'}\n",
        "config.yaml:4: sources[0].delimiter: expected a single character, found ';;'. "
        "Hint: quote it, e.g. ';' or '|'.",
    ),
    (
        "duplicate names",
        "  - {name: social, path: exports/*.csv}\n  - {name: social, path: exports/*.csv}\n",
        "config.yaml:5: sources[1].name: expected a unique source name, found 'social'. "
        "Hint: line 4 already has it.",
    ),
    (
        "null canonical value",
        "  - name: social\n    path: exports/*.csv\n    values: {csat: {'N/A': }}\n",
        "config.yaml:6: sources[0].values.csat.N/A: expected a canonical value, found ''. "
        "Hint: write '' to map it to an empty value.",
    ),
    (
        "empty list",
        "  []\n",
        "config.yaml:4: sources: expected a list with at least one entry, found '[]'.",
    ),
    (
        "max_future not a duration",
        "  - name: social\n    path: exports/*.csv\n    max_future: soon\n",
        "config.yaml:6: sources[0].max_future: expected a duration like '60m' or '4h', "
        "found 'soon'.",
    ),
    (
        "max_future without a unit",
        "  - {name: social, path: exports/*.csv, max_future: 2}\n",
        "config.yaml:4: sources[0].max_future: expected a duration like '60m' or '4h', "
        "found '2'. Hint: add a unit (s, m, h or d), e.g. '2m'.",
    ),
    (
        "max_future of zero",
        "  - {name: social, path: exports/*.csv, max_future: 0d}\n",
        "config.yaml:4: sources[0].max_future: expected a duration longer than zero, "
        "found '0d'.",
    ),
]


@pytest.mark.parametrize(
    ("what", "sources", "message"), SOURCE_MISTAKES, ids=[m[0] for m in SOURCE_MISTAKES]
)
def test_source_mistake_has_exact_message(project, what, sources, message) -> None:
    path = project("site:\n  title: T\nsources:\n" + sources)

    assert messages(path) == [message]


def test_glob_matching_no_file_is_an_error(project, tmp_path) -> None:
    path = project(MINIMAL.replace("exports/*.csv", "exports/*.json"))

    assert messages(path) == [
        "config.yaml:5: sources[0].path: expected a glob matching at least one file, found "
        f"'exports/*.json'. Hint: paths are relative to the folder of config.yaml, '{tmp_path}'."
    ]


def test_glob_in_a_missing_folder_names_the_folder(project, tmp_path) -> None:
    path = project(MINIMAL.replace("exports/*.csv", "data/*.csv"))

    assert messages(path) == [
        "config.yaml:5: sources[0].path: expected a glob matching at least one file, found "
        f"'data/*.csv'. Hint: the folder 'data' does not exist in '{tmp_path}'."
    ]


def test_glob_ignores_folders_and_may_recurse(project) -> None:
    project(MINIMAL, files=("exports/2026/w1.csv",))

    assert messages("config.yaml")[0].startswith("config.yaml:5: sources[0].path: expected a glob")
    config = load_config(project(MINIMAL.replace("exports/*.csv", "exports/**/*.csv")))
    assert config.sources[0].path == "exports/**/*.csv"


CALENDAR_MISTAKES = [
    (
        "overlap",
        'mon-fri: ["08:00-12:30", "12:00-18:00"]',
        "config.yaml:11: calendars.office.hours.mon-fri[1]: expected intervals that do not "
        "overlap, found '12:00-18:00'. Hint: it overlaps '08:00-12:30' on mon.",
    ),
    (
        "overlap across keys",
        'mon-fri: ["08:00-12:30"]\n      wed: ["12:00-13:00"]',
        "config.yaml:12: calendars.office.hours.wed[0]: expected intervals that do not "
        "overlap, found '12:00-13:00'. Hint: it overlaps '08:00-12:30' on wed.",
    ),
    (
        "bad weekday",
        'weekdays: ["09:00-17:00"]',
        "config.yaml:11: calendars.office.hours: expected a weekday like 'mon' or a range like "
        "'mon-fri', found 'weekdays'. Hint: the days are 'mon', 'tue', 'wed', 'thu', 'fri', "
        "'sat', 'sun'.",
    ),
    (
        "overnight",
        'fri: ["22:00-06:00"]',
        "config.yaml:11: calendars.office.hours.fri[0]: expected an interval that ends after it "
        "starts, found '22:00-06:00'. Hint: split an overnight interval at midnight: "
        "'22:00-24:00' and '00:00-06:00'.",
    ),
    (
        "bad time",
        'mon: ["9-17"]',
        "config.yaml:11: calendars.office.hours.mon[0]: expected an interval like "
        "'09:00-17:00', found '9-17'.",
    ),
    (
        "closed all week",
        "mon: []",
        "config.yaml:11: calendars.office.hours: expected at least one open interval, "
        "found 'mon: []'.",
    ),
]


@pytest.mark.parametrize(
    ("what", "hours", "message"), CALENDAR_MISTAKES, ids=[m[0] for m in CALENDAR_MISTAKES]
)
def test_calendar_mistake_has_exact_message(project, what, hours, message) -> None:
    path = project(MINIMAL + "calendars:\n  office:\n    hours:\n      " + hours + "\n")

    assert messages(path) == [message]


# --- file-level problems -----------------------------------------------------------------------


def test_missing_file_is_a_config_error(project) -> None:
    assert messages("nowhere.yaml") == [
        "nowhere.yaml: file not found. Hint: pass the path of a config.yaml with --config, or "
        "create a site with 'carecard init DIR'."
    ]


def test_folder_given_as_config_says_to_pass_the_file(project, tmp_path) -> None:
    (tmp_path / "site").mkdir()

    assert messages("site") == [
        "site: cannot read the file (it is a folder). Hint: --config takes the config file "
        "(e.g. 'site/config.yaml'), not its folder."
    ]


def test_yaml_syntax_error_names_the_line(project) -> None:
    path = project(MINIMAL + "policy:\n  goals: {csat: {min: 0.8}\n  exclude: []\n")

    (message,) = messages(path)
    assert message.startswith("config.yaml:10: invalid YAML: ")
    assert message.endswith(
        "Hint: check the indentation, and quote values that contain ': ' or start with a "
        "special character."
    )


@pytest.mark.parametrize(
    ("text", "found"), [("", "''"), ("- a\n- b\n", "'- a - b'"), ("just text\n", "'just text'")]
)
def test_top_level_must_be_a_mapping(project, text, found) -> None:
    assert messages(project(text)) == [
        "config.yaml:1: top level: expected a mapping with the sections 'site', 'sources', "
        f"'calendars' and 'policy', found {found}."
    ]


def test_sources_are_required(project) -> None:
    assert messages(project("site:\n  title: T\n")) == [
        "config.yaml:1: sources: missing required key: expected a list of sources, each with a "
        "'name' and a 'path'."
    ]


def test_duplicate_key_is_an_error(project) -> None:
    path = project(MINIMAL.replace("site:\n", "site:\n  title: A\n  title: B\n"))

    assert messages(path) == [
        "config.yaml:3: site.title: duplicate key. Hint: 'title' is already set on line 2; "
        "keep one."
    ]


# --- all problems at once, unknown keys --------------------------------------------------------


def test_three_mistakes_are_reported_together_in_file_order(project) -> None:
    path = project(
        """\
        site:
          timezone: Europe/London
          history: many
        sources:
          - name: social
            path: exports/*.csv
            shape: tweets
        policy:
          first_response:
            - {within: soon}
        """
    )

    assert messages(path) == [
        "config.yaml:3: site.history: expected a whole number ≥ 1, found 'many'.",
        "config.yaml:7: sources[0].shape: expected one of 'interactions', 'messages', "
        "'events', 'conversations', found 'tweets'. Hint: did you mean 'events'?",
        "config.yaml:10: policy.first_response[0].within: expected a duration like '60m' or "
        "'4h', found 'soon'.",
    ]


def test_unknown_key_is_a_warning_with_did_you_mean(project) -> None:
    path = project(MINIMAL.replace("  timezone: Europe/London", "  timezon: Europe/London"))

    config = load_config(path)

    assert config.warnings == (
        "config.yaml:2: site.timezon: unknown key. Hint: did you mean 'timezone'?",
    )
    assert config.site.timezone == "UTC"


def test_unknown_key_is_an_error_when_strict(project) -> None:
    path = project(MINIMAL.replace("  timezone: Europe/London", "  timezon: Europe/London"))

    assert messages(path, strict=True) == [
        "config.yaml:2: site.timezon: unknown key. Hint: did you mean 'timezone'?"
    ]


def test_unknown_key_is_listed_with_the_errors_it_causes(project) -> None:
    path = project(
        MINIMAL
        + "calendars:\n  office: {hours: {mon: 09:00-17:00}}\n"
        + "policy:\n  first_response:\n"
        + "    - where: {channel: email}\n      within: 4h\n      clock: business\n"
        + "      calender: office\n"
        + "    - {within: 60m, clock: business, calender: office}\n"
    )

    assert messages(path) == [
        "config.yaml:12: policy.first_response[0].calendar: missing required key: expected a "
        "calendar name for the business clock. Hint: define opening hours under 'calendars' and "
        "name them here.",
        "config.yaml:15: policy.first_response[0].calender: unknown key. "
        "Hint: did you mean 'calendar'?",
        "config.yaml:16: policy.first_response[1].calender: unknown key. "
        "Hint: did you mean 'calendar'?",
        "config.yaml:16: policy.first_response[1].calendar: missing required key: expected a "
        "calendar name for the business clock. Hint: define opening hours under 'calendars' and "
        "name them here.",
    ]


def test_unknown_key_is_listed_once_with_the_errors_when_strict(project) -> None:
    path = project(
        MINIMAL + "policy:\n  first_response:\n    - {within: 60m, clock: business, calender: x}\n"
    )

    assert messages(path, strict=True) == [
        "config.yaml:10: policy.first_response[0].calender: unknown key. "
        "Hint: did you mean 'calendar'?",
        "config.yaml:10: policy.first_response[0].calendar: missing required key: expected a "
        "calendar name for the business clock. Hint: define opening hours under 'calendars' and "
        "name them here.",
    ]


def test_unknown_key_without_a_close_match_lists_the_known_keys(project) -> None:
    config = load_config(
        project(MINIMAL + "calendars:\n  c:\n    hours: {mon: 09:00-17:00}\n    owner: me\n")
    )

    assert config.warnings == (
        "config.yaml:11: calendars.c.owner: unknown key. Hint: the known keys are 'timezone', "
        "'hours', 'holidays'.",
    )


def test_misspelt_canonical_column_is_a_warning(project) -> None:
    path = project(MINIMAL.replace("{id: Case ID, team: Queue}", "{recieved_at: Created}"))

    assert load_config(path).warnings == (
        "config.yaml:6: sources[0].columns.recieved_at: unknown field. "
        "Hint: did you mean 'received_at'?",
    )


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("90s", 1.5), ("15m", 15.0), ("4h", 240.0), ("2d", 2880.0), ("1.5h", 90.0), ("60m", 60.0)],
)
def test_duration_parsing(project, text, minutes) -> None:
    assert parse_duration(text) == minutes
    path = project(MINIMAL + f"policy:\n  first_response: [{{within: {text}}}]\n")
    assert load_config(path).policy.first_response == (TargetRule(minutes, text=text),)


@pytest.mark.parametrize("text", ["soon", "15", "m", "15 min", "-5m", "1w", ""])
def test_invalid_durations_are_rejected(text) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_zero_duration_is_rejected(project) -> None:
    path = project(MINIMAL + "policy:\n  first_response: [{within: 0m}]\n")

    assert messages(path) == [
        "config.yaml:9: policy.first_response[0].within: expected a duration longer than zero, "
        "found '0m'."
    ]


def test_calendar_hours_expand_ranges_lists_and_midnight(project) -> None:
    path = project(
        MINIMAL
        + textwrap.dedent("""\
        calendars:
          night:
            hours:
              fri-mon: "18:00-24:00"
              tue,wed: ["09:00-12:00", "12:00-17:00"]
              thu: ["00:00-00:00"]
            holidays: [2026-12-25, "2026-12-31"]
        """)
    )

    night = load_config(path).calendars["night"]

    evening = ((time(18), time(0)),)
    assert night.hours == {
        "mon": evening,
        "tue": ((time(9), time(12)), (time(12), time(17))),
        "wed": ((time(9), time(12)), (time(12), time(17))),
        "thu": ((time(0), time(0)),),
        "fri": evening,
        "sat": evening,
        "sun": evening,
    }
    assert list(night.hours) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # week order
    assert night.timezone == "Europe/London"  # the reporting timezone by default
    assert night.holidays == (date(2026, 12, 25), date(2026, 12, 31))


def test_values_keep_export_values_as_written_and_canonical_booleans_as_text(project) -> None:
    path = project(
        MINIMAL.replace(
            "    dimensions: [team]\n",
            "    dimensions: [team]\n"
            "    values:\n"
            "      needs_reply: {Yes: true, No: false, 1: yes}\n"
            "      csat: {Great: 5, Fine: 3.5, '01': 1}\n",
        )
    )

    assert load_config(path).sources[0].values == {
        "needs_reply": {"Yes": "true", "No": "false", "1": "true"},
        "csat": {"Great": "5", "Fine": "3.5", "01": "1"},
    }


def test_where_values_become_text(project) -> None:
    path = project(
        MINIMAL + "policy:\n  exclude:\n"
        "    - {name: quiet, where: {public: yes, reach: [0, 1.5], team: [a, b, a]}}\n"
    )

    (rule,) = load_config(path).policy.exclude
    assert rule.where == Where({"public": ("true",), "reach": ("0", "1.5"), "team": ("a", "b")})


def test_where_may_use_columns_dimensions_and_brand_of_messages(project) -> None:
    path = project(
        """\
        sources:
          - {name: a, path: exports/*.csv, columns: {priority: Prio}}
          - {name: b, path: exports/*.csv, shape: messages, dimensions: [region]}
        policy:
          exclude:
            - {name: x, where: {priority: low, region: eu, brand: acme, channel: email}}
        """
    )

    (rule,) = load_config(path).policy.exclude
    assert set(rule.where.conditions) == {"priority", "region", "brand", "channel"}


def test_channel_dimension_is_accepted_and_implied(project) -> None:
    path = project(MINIMAL.replace("dimensions: [team]", "dimensions: [channel, team]"))

    assert load_config(path).sources[0].dimensions == ("team",)


def test_data_through_without_offset_is_in_the_reporting_timezone(project) -> None:
    path = project(MINIMAL.replace("site:\n", "site:\n  data_through: 2026-07-01T00:00\n"))

    moment = load_config(path).site.data_through
    assert moment == datetime(2026, 7, 1, tzinfo=ZoneInfo("Europe/London"))
    assert moment is not None and moment.utcoffset() == timedelta(hours=1)


def test_data_through_keeps_its_offset(project) -> None:
    path = project(MINIMAL.replace("site:\n", "site:\n  data_through: 2026-11-30T00:00:00Z\n"))

    assert load_config(path).site.data_through == datetime(2026, 11, 30, tzinfo=timezone.utc)


def test_blackout_times_with_offset_become_local(project) -> None:
    path = project(
        MINIMAL + "policy:\n  blackouts:\n"
        "    - {start: 2026-07-01T08:00:00Z, end: 2026-07-01, reason: r}\n"
    )

    with pytest.raises(ConfigError):  # end (midnight) is before start
        load_config(path)
    path = project(
        MINIMAL + "policy:\n  blackouts:\n"
        "    - {start: 2026-07-01T08:00:00Z, end: 2026-07-02, reason: r}\n"
    )
    (blackout,) = load_config(path).policy.blackouts
    assert (blackout.start, blackout.end) == (datetime(2026, 7, 1, 9), datetime(2026, 7, 2))


def test_templates_next_to_config_are_used_by_default(project, tmp_path) -> None:
    (tmp_path / "templates").mkdir()

    assert load_config(project(MINIMAL)).site.templates == tmp_path / "templates"


def test_templates_naming_the_default_theme_mean_none(project) -> None:
    path = project(MINIMAL.replace("site:\n", f"site:\n  templates: {THEME}\n"))

    assert load_config(path).site.templates is None


def test_error_budget_window_in_days_is_rolling(project) -> None:
    path = project(
        MINIMAL + "policy:\n  goals: {sla_attainment: {min: 0.9}}\n  error_budget: {window: 7d}\n"
    )

    assert load_config(path).policy.error_budget == ErrorBudget("sla_attainment", "rolling", 7)


def test_versions_are_sorted_and_may_use_custom_metrics(project) -> None:
    path = project(
        MINIMAL
        + textwrap.dedent("""\
        policy:
          custom_metrics:
            - {id: complaint_share, label: Complaints, ratio: {numerator: "team == 'x'"}}
          versions:
            - {valid_from: 2026-12-01, exclude: []}
            - valid_from: "2026-06-01"
              goals: {complaint_share: {max: 0.2}}
              first_response: [{within: 2d}]
        """)
    )

    first, second = load_config(path).policy.versions
    assert (first.valid_from, second.valid_from) == (date(2026, 6, 1), date(2026, 12, 1))
    assert first.goals == {"complaint_share": Goal("complaint_share", "max", 0.2)}
    assert first.first_response == (TargetRule(2880.0, text="2d"),)
    assert (first.exclude, second.exclude, second.first_response) == (None, (), None)


def test_goal_against_the_metric_direction_or_as_a_percentage_fails_check_with_a_hint(
    project, capsys: pytest.CaptureFixture[str]
) -> None:
    from generator.cli import main

    path = project(MINIMAL + textwrap.dedent("""\
        policy:
          goals:
            backlog: {min: 2}
            frt_median: {max: 30}
            response_rate: {min: 95%}
            csat: {min: 95}
          versions:
            - valid_from: 2026-11-01
              goals:
                resolution_rate: {max: 0.5}
        """))

    assert main(["check", "--config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: config.yaml:10: policy.goals.backlog: expected 'max' (lower is better for "
        "backlog), found 'min'. Hint: write 'backlog: {max: 2}'; 'min' would call the worse "
        "value on goal.",
        "error: config.yaml:12: policy.goals.response_rate.min: expected a ratio between 0 "
        "and 1, found '95%'. Hint: write ratios as fractions: 0.95 for 95%.",
        "error: config.yaml:13: policy.goals.csat.min: expected a ratio between 0 and 1, "
        "found '95'. Hint: write ratios as fractions: 0.95 for 95%.",
        "error: config.yaml:17: policy.versions[0].goals.resolution_rate: expected 'min' "
        "(higher is better for resolution_rate), found 'max'. Hint: write 'resolution_rate: "
        "{min: 0.5}'; 'max' would call the worse value on goal.",
    ]


def test_max_segments_of_an_unknown_dimension_is_a_warning_or_a_strict_error(project) -> None:
    path = project(MINIMAL.replace("  timezone: Europe/London\n",
                                   "  max_segments: {default: 50, channel: 5, taem: 500}\n"))
    message = "config.yaml:2: site.max_segments.taem: unknown dimension. Hint: did you mean 'team'?"

    config = load_config(path)
    assert config.warnings == (message,)
    assert (config.site.segment_limit("team"), config.site.segment_limit("channel")) == (50, 5)
    assert messages(path, strict=True) == [message]
