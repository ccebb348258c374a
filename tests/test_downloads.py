"""The data files of SPEC §7: interactions.csv and figures.json."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sitefakes

from generator.build import build, check


def test_interactions_csv_written_into_the_site_equals_the_checked_bytes(tmp_path: Path) -> None:
    config = sitefakes.handmade_with_interactions_csv(tmp_path)
    build(config, output=tmp_path / "out")
    checked = check(config)
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
