"""Column names of real exports (SPEC §3.3b, issue 15 items 2 and 3).

A dimension may carry any name except the canonical fields of its shape, the names the
expression language computes and `all` (a config error naming them); every other name —
`reason`, `source`, `file`, `line`, `deadline`, `sla_eligible` — is an ordinary dimension that
nothing carecard computes or keeps for itself may replace. In interactions.csv and the
drill-through CSVs a dimension whose name equals a fixed column is written `dimension.<name>`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import build, check
from generator.cli import main

# Four interactions (times UTC). By hand, day 2026-01-05 (complete: data-through is the reply
# of id 4, 2026-01-06 09:10):
#   id reason  source file line  first response
#   1  billing web    f1   7     30 min
#   2  refund  phone  f2   8     none
#   3  billing phone  f2   8     20 min
# reason: billing 2 (frt median (30 + 20) / 2 = 25), refund 1; source: web 1, phone 2;
# file: f1 1, f2 2; line: 7 1, 8 2. Custom metric "source == 'phone'": 2 of 3 actionable.
EXPORT = """
    id,received_at,channel,first_response_at,reason,source,file,line
    1,2026-01-05T10:00:00Z,email,2026-01-05T10:30:00Z,billing,web,f1,7
    2,2026-01-05T11:00:00Z,email,,refund,phone,f2,8
    3,2026-01-05T12:00:00Z,email,2026-01-05T12:20:00Z,billing,phone,f2,8
    4,2026-01-06T09:00:00Z,email,2026-01-06T09:10:00Z,refund,web,f1,9
"""
CONFIG = """
    site: {title: Scratch, timezone: UTC, periods: [day], interactions_csv: true}
    sources:
      - name: desk
        path: exports/*.csv
        dimensions: [reason, source, file, line]
    policy:
      goals: {response_rate: {min: 1.0}}
      custom_metrics:
        - id: phone_share
          label: Phone share
          ratio: {numerator: "source == 'phone'"}
"""


def day_figures(config: Path, day: str = "2026-01-05") -> dict[tuple[str, str, str], object]:
    """(dimension, segment, metric) -> value of the day."""
    rows = check(config).figures.rows
    return {(f.dimension, f.segment, f.metric): f.value for f in rows if f.period == day}


def test_reason_source_file_and_line_are_ordinary_dimensions(
    project: Callable[..., Path],
) -> None:
    # Before the fix every row showed reason 'unknown', source 'desk' (the source's name),
    # file 'exports/a.csv' and lines 2, 3, 4 (carecard's own columns).
    figures = day_figures(project({"exports/a.csv": EXPORT}, CONFIG))
    volumes = {(d, s): v for (d, s, m), v in figures.items() if m == "volume" and d != "channel"}
    assert volumes == {
        ("all", "all"): 3,
        ("reason", "billing"): 2, ("reason", "refund"): 1,
        ("source", "phone"): 2, ("source", "web"): 1,
        ("file", "f1"): 1, ("file", "f2"): 2,
        ("line", "7"): 1, ("line", "8"): 2, ("line", "9"): 0,  # id 4's line: on 01-06
    }
    assert figures[("reason", "billing", "frt_median")] == 25.0
    assert figures[("reason", "refund", "response_rate")] == 0.0
    assert figures[("all", "all", "phone_share")] == pytest.approx(2 / 3)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_csvs_write_a_dimension_named_like_a_fixed_column_as_dimension_dot_name(
    project: Callable[..., Path], tmp_path: Path,
) -> None:
    config = project({"exports/a.csv": EXPORT}, CONFIG)
    out = tmp_path / "out"
    build(config, output=out)
    rows = read_csv(out / "data" / "interactions.csv")
    # `reason` is no fixed column of interactions.csv; source, file and line are.
    assert list(rows[0])[-4:] == ["reason", "dimension.source", "dimension.file",
                                  "dimension.line"]
    second = rows[1]
    assert (second["id"], second["source"], second["file"], second["line"]) == (
        "2", "desk", "exports/a.csv", "3")
    assert (second["reason"], second["dimension.source"], second["dimension.file"],
            second["dimension.line"]) == ("refund", "phone", "f2", "8")
    # response_rate 2/3 on 2026-01-05 misses its goal of 1.0: red, with a drill-through list
    # holding the one unanswered interaction, id 2.
    (listed,) = read_csv(out / "drill" / "day" / "2026-01-05" / "all" / "all.csv")
    assert (listed["id"], listed["source"], listed["file"], listed["line"],
            listed["state"]) == ("2", "desk", "exports/a.csv", "3", "overdue")
    assert (listed["reason"], listed["dimension.source"], listed["dimension.file"],
            listed["dimension.line"]) == ("refund", "phone", "f2", "8")


#: Columns named like carecard's computed values: `deadline` and `sla_eligible` are ordinary
#: dimensions; the four the expression language computes are refused.
COMPUTED = ("frt_minutes", "within_target", "target_minutes", "resolution_hours")
NAMES = ("deadline", "sla_eligible", *COMPUTED)


def named_export(name: str) -> str:
    # By hand: two interactions of 2026-01-05 carry 'x', one 'y'.
    return f"""
        id,received_at,channel,first_response_at,{name}
        1,2026-01-05T10:00:00Z,email,2026-01-05T10:30:00Z,x
        2,2026-01-05T11:00:00Z,email,,y
        3,2026-01-05T12:00:00Z,email,2026-01-05T12:20:00Z,x
        4,2026-01-06T09:00:00Z,email,2026-01-06T09:10:00Z,y
    """


@pytest.mark.parametrize("name", NAMES)
def test_a_column_named_like_a_computed_value_is_a_dimension_or_a_config_error(
    project: Callable[..., Path], name: str, capsys: pytest.CaptureFixture[str],
) -> None:
    # Before the fix each of these names, declared as a dimension, stopped the build with an
    # engine binder error (exit 1, "internal error").
    config = project({"exports/a.csv": named_export(name)}, f"""
        site: {{title: Scratch, timezone: UTC, periods: [day]}}
        sources:
          - {{name: desk, path: exports/*.csv, dimensions: [{name}]}}
    """)
    code = main(["check", "--config", str(config)])
    err = capsys.readouterr().err
    if name in COMPUTED:
        assert code == 2
        assert (f"config.yaml:3: sources[0].dimensions[0]: expected a dimension name that "
                f"carecard does not reserve, found '{name}'. Hint: '{name}' is computed by "
                "carecard") in err
        assert "frt_minutes, resolution_hours, within_target, target_minutes, all" in err
        return
    assert code == 0, err
    figures = day_figures(config)
    assert (figures[(name, "x", "volume")], figures[(name, "y", "volume")]) == (2, 1)
    assert figures[(name, "x", "frt_median")] == 25.0  # (30 + 20) / 2
    assert figures[("all", "all", "response_rate")] == pytest.approx(2 / 3)


@pytest.mark.parametrize("name", NAMES)
def test_an_export_column_named_like_a_computed_value_maps_onto_any_dimension(
    project: Callable[..., Path], name: str,
) -> None:
    config = project({"exports/a.csv": named_export(name)}, f"""
        site: {{title: Scratch, timezone: UTC, periods: [day]}}
        sources:
          - {{name: desk, path: exports/*.csv, columns: {{due: {name}}}, dimensions: [due]}}
    """)
    figures = day_figures(config)
    assert (figures[("due", "x", "volume")], figures[("due", "y", "volume")]) == (2, 1)
    assert figures[("due", "x", "frt_median")] == 25.0


def test_an_extra_column_named_like_a_computed_value_is_a_config_error(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str],
) -> None:
    config = project({"exports/a.csv": named_export("due")}, """
        site: {title: Scratch, timezone: UTC, periods: [day]}
        sources:
          - {name: desk, path: exports/*.csv, columns: {frt_minutes: due}}
    """)
    assert main(["check", "--config", str(config)]) == 2
    assert ("config.yaml:3: sources[0].columns.frt_minutes: expected a field or dimension name "
            "that carecard does not reserve, found 'frt_minutes'") in capsys.readouterr().err


@pytest.mark.parametrize(("shape", "name"), [("messages", "author"), ("messages", "csat"),
                                             ("interactions", "received_at")])
def test_a_dimension_named_like_a_canonical_field_of_its_shape_is_refused(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str], shape: str, name: str,
) -> None:
    config = project({"exports/a.csv": named_export("due")}, f"""
        site: {{title: Scratch, timezone: UTC, periods: [day]}}
        sources:
          - {{name: desk, path: exports/*.csv, shape: {shape}, dimensions: [{name}]}}
    """)
    assert main(["check", "--config", str(config)]) == 2
    assert (f"sources[0].dimensions[0]: expected a dimension name that carecard does not "
            f"reserve, found '{name}'. Hint: '{name}' is a canonical field") in (
                capsys.readouterr().err)


def test_author_is_an_ordinary_dimension_of_an_interaction_source(
    project: Callable[..., Path],
) -> None:
    # `author` is canonical for messages, not for interactions: there it is an ordinary
    # dimension.
    config = project({"exports/a.csv": named_export("author")}, """
        site: {title: Scratch, timezone: UTC, periods: [day]}
        sources:
          - {name: desk, path: exports/*.csv, dimensions: [author]}
    """)
    figures = day_figures(config)
    assert (figures[("author", "x", "volume")], figures[("author", "y", "volume")]) == (2, 1)


def test_a_message_source_keeps_dimensions_named_like_its_own_working_columns(
    project: Callable[..., Path],
) -> None:
    # A message source's dimensions come from the root message. `source`, `thread`, `parent` and
    # `line` are also names of carecard's columns while it threads messages (before the fix:
    # an engine error, exit 1). By hand: root 1 (01-05, answered by 2) carries web/t1/p1/l1,
    # root 5 (01-06, unanswered) app/t2/p2/l2; reply 2's values are not the conversation's.
    config = project({"exports/t.csv": """
        message_id,author,inbound,created_at,in_reply_to,source,thread,parent,line
        1,alice,true,2026-01-05T09:00:00Z,,web,t1,p1,l1
        2,Brand,false,2026-01-05T10:00:00Z,1,x,x,x,x
        5,bob,true,2026-01-06T09:00:00Z,,app,t2,p2,l2
    """}, """
        site: {title: Scratch, timezone: UTC, periods: [day]}
        sources:
          - name: twitter
            path: exports/*.csv
            shape: messages
            dimensions: [brand, source, thread, parent, line]
    """)
    figures = day_figures(config)
    volumes = {(d, s): v for (d, s, m), v in figures.items()
               if m == "volume" and d not in ("all", "channel", "brand") and v}
    assert volumes == {("source", "web"): 1, ("thread", "t1"): 1, ("parent", "p1"): 1,
                       ("line", "l1"): 1}
    later = day_figures(config, "2026-01-06")
    assert later[("source", "app", "volume")] == 1
    assert later[("source", "app", "response_rate")] == 0.0


def test_policy_rules_match_a_dimension_named_like_a_fixed_column(
    project: Callable[..., Path],
) -> None:
    # Excluding source 'web' leaves ids 2 and 3 of 2026-01-05 actionable (before the fix the
    # rule compared carecard's source name, 'desk', and excluded nothing: 3). Responding within
    # 15 minutes on line 8: id 3 (20 min) is late, id 2 unanswered and overdue: SLA 0 of 2.
    config = project({"exports/a.csv": EXPORT}, """
        site: {title: Scratch, timezone: UTC, periods: [day]}
        sources:
          - {name: desk, path: exports/*.csv, dimensions: [reason, source, file, line]}
        policy:
          exclude: [{name: web, where: {source: web}}]
          first_response: [{where: {line: '8'}, within: 15m}, {within: 60m}]
    """)
    figures = day_figures(config)
    assert (figures[("all", "all", "volume")], figures[("all", "all", "actionable")]) == (3, 2)
    assert figures[("all", "all", "sla_attainment")] == 0.0
