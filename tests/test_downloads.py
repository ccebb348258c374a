"""The data files of SPEC §7: interactions.csv and figures.json."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import sitefakes

from generator.build import build, check


def test_interactions_csv_written_into_the_site_equals_the_checked_bytes(tmp_path: Path) -> None:
    config = sitefakes.handmade_with_interactions_csv(tmp_path)
    build(config, output=tmp_path / "out")
    checked = check(config, for_site=True)
    assert isinstance(checked.interactions, bytes)
    written = (tmp_path / "out" / "data" / "interactions.csv").read_bytes()
    assert written == checked.interactions
    assert written.startswith(b"source,id,channel,received_at,")


def test_figures_json_is_the_indented_dump_of_the_csv_values() -> None:
    """figures.json is written object by object for speed; its bytes must be exactly those of
    json.dumps(indent=1, sort_keys=True) of the rows, for awkward values too."""
    import json

    from generator.model import Figure
    from generator.site.downloads import FIGURE_COLUMNS, figures_json

    rows = (
        Figure("week", "2026-W45", date(2026, 11, 2), date(2026, 11, 8), False, "team",
               "Café \"Ünïcode\"", "frt_median", 17.4, 40, 30.0, "green", 12.0, -3.5, "%",
               None, None),
        Figure("month", "2026-11", date(2026, 11, 1), date(2026, 11, 30), True, "all", "all",
               "backlog", 3.0, None, None, "none", 0.0, None, None, 1e20, 0.1),
    )
    expected = [
        {"granularity": "week", "period": "2026-W45", "period_start": "2026-11-02",
         "period_end": "2026-11-08", "partial": False, "dimension": "team",
         "segment": "Café \"Ünïcode\"", "metric": "frt_median", "value": 17.4, "n": 40,
         "goal": 30, "status": "green", "previous_value": 12, "change": -3.5,
         "change_unit": "%", "year_ago_value": None, "year_ago_change": None},
        {"granularity": "month", "period": "2026-11", "period_start": "2026-11-01",
         "period_end": "2026-11-30", "partial": True, "dimension": "all", "segment": "all",
         "metric": "backlog", "value": 3, "n": None, "goal": None, "status": "none",
         "previous_value": 0, "change": None, "change_unit": None, "year_ago_value": 1e20,
         "year_ago_change": 0.1},
    ]
    assert set(expected[0]) == set(FIGURE_COLUMNS)
    reference = json.dumps(expected, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    assert figures_json(rows) == reference.encode("utf-8")
    assert figures_json(()) == b"[]\n"


# --- CSV safety (SPEC §7): formulas neutralised, rows kept whole ------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
HYPERLINK = '=HYPERLINK("http://evil.example","x")'
DDE = "+cmd|' /C calc'!A0"


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def handmade_with(tmp_path: Path, replace: dict[str, str]) -> Path:
    """The handmade project with interactions.csv on and each `old` text of its exports (and
    of its config, for column names) replaced by `new`; its config.yaml."""
    config = sitefakes.handmade_with_interactions_csv(tmp_path)
    for path in [config, *sorted((config.parent / "exports").glob("*.csv"))]:
        text = path.read_text(encoding="utf-8")
        for old, new in replace.items():
            text = text.replace(old, new)
        path.write_bytes(text.encode("utf-8"))  # as given: CRs inside values stay CRs
    return config


def csv_files(out: Path) -> dict[str, list[list[str]]]:
    """Every CSV of a built site, read by csv.reader, by path."""
    return {
        path.relative_to(out).as_posix(): list(csv.reader(
            io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
        for path in sorted(out.rglob("*.csv"))
    }


def test_every_csv_prefixes_text_cells_that_start_like_a_formula_but_not_negative_numbers(
    tmp_path: Path,
) -> None:
    config = handmade_with(tmp_path, {
        ",billing,": f",{_csv_field(HYPERLINK)},", ",support,": f",{_csv_field(DDE)},",
        "\nt1,": "\n@SUM(1+1),", "\nu2,": "\n-2+3,",
        "Created": "-Created",  # a column name: rejected.csv's `column` cell
    })
    build(config, output=tmp_path / "out")
    files = csv_files(tmp_path / "out")
    assert {"data/figures.csv", "data/rejected.csv", "data/restatements.csv",
            "data/interactions.csv"} <= set(files)
    assert any(name.startswith("drill/") for name in files)
    for name, rows in files.items():
        for row in rows:
            for cell in row:
                assert not (cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell)), \
                    (name, cell)
    cells = {name: {cell for row in rows for cell in row} for name, rows in files.items()}
    assert {"'" + HYPERLINK, "'" + DDE} <= cells["data/figures.csv"]
    assert "'" + HYPERLINK in cells["data/restatements.csv"]
    assert {"'@SUM(1+1)", "'-2+3"} <= cells["data/interactions.csv"]
    assert "'-2+3" in cells["drill/week/2026-W46/all/all.csv"]
    assert "'-Created" in cells["data/rejected.csv"]
    # A negative number in a number column stays a number.
    header, *rows = files["data/figures.csv"]
    changes = [row[header.index("change")] for row in rows]
    assert any(c.startswith("-") and float(c) < 0 for c in changes if c)
    # JSON holds the text as it was.
    summary = (tmp_path / "out" / "data" / "figures.json").read_text(encoding="utf-8")
    assert json.dumps(HYPERLINK) in summary and json.dumps("'" + HYPERLINK) not in summary


def test_a_cr_inside_a_value_keeps_every_csv_row_whole_and_round_trips(tmp_path: Path) -> None:
    team, case = "bill\ring", "u\r2"
    config = handmade_with(tmp_path, {",billing,": f",{_csv_field(team)},",
                                      "\nu2,": f"\n{_csv_field(case)},"})
    build(config, output=tmp_path / "out")
    files = csv_files(tmp_path / "out")
    for name, (header, *rows) in files.items():
        assert all(len(row) == len(header) for row in rows), name
    cells = {name: {cell for row in rows for cell in row} for name, rows in files.items()}
    header, *rows = files["data/figures.csv"]
    teams = {row[header.index("segment")] for row in rows if row[header.index("dimension")] == "team"}
    assert teams == {team, "support"}
    assert case in cells["data/interactions.csv"]
    assert case in cells["drill/week/2026-W46/all/all.csv"]
    assert team in cells["data/restatements.csv"]
