"""Drill-through lists: counts, the rows a page shows, and the whole list as a CSV."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import sitefakes as fakes

from generator.build import build
from generator.csvtext import csv_bytes
from generator.figures.drill import DRILL_COLUMNS
from generator.model import DrillList
from generator.site.render import render_site

HANDMADE = Path(__file__).parent / "projects" / "handmade" / "config.yaml"

def test_built_drill_csvs_match_the_rows_of_the_lists(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HANDMADE.parent, site)
    build(site / "config.yaml", output=tmp_path / "out")
    checked = build(site / "config.yaml", output=tmp_path / "cold", use_cache=False).checked
    assert checked is not None
    drills = checked.figures.drill
    assert drills
    for drill in drills:
        if drill.dimension != "all":
            continue
        path = tmp_path / "out" / "drill" / "week" / drill.period / "all" / "all.csv"
        # The fixed columns, then the dimension (the page's table leaves it out).
        text = path.read_bytes()
        header, _, body = text.partition(b"\n")
        assert header.split(b",") == [c.encode() for c in DRILL_COLUMNS] + [b"team"]
        rows = [[getattr(r, c) for c in DRILL_COLUMNS] for r in drill.rows]
        fixed = b"\n".join(line.rpartition(b",")[0] for line in body.splitlines()) + b"\n"
        assert csv_bytes(DRILL_COLUMNS, rows) == header.rpartition(b",")[0] + b"\n" + fixed


def test_a_list_keeps_its_counts_and_shows_only_its_first_rows(tmp_path: Path) -> None:
    csv = b"source,id\nwhole,list\n"
    shown = tuple(fakes.drill_row(i, "late") for i in range(3))
    drill = DrillList("week", "2026-W46", "all", "all", shown,
                      counts=(("late", 1200), ("overdue", 34)), csv=csv)
    assert drill.total == 1234
    figures = replace(fakes.make_figures(), drill=(drill,))
    files = render_site(fakes.make_config(tmp_path), figures, fakes.make_quality(),
                        fakes.make_info())
    assert files["drill/week/2026-W46/all/all.csv"] == b"source,id\nwhole,list\n"
    text = fakes.parse_html(files["drill/week/2026-W46/all/all.html"]).text
    assert "1,234 interactions: 1,200 late, 34 overdue, 0 waiting." in text
    assert "The first 3 are listed below, oldest first." in text
    overview = fakes.parse_html(files["periods/week/2026-W46.html"]).text
    assert "1,234 late or unanswered interactions" in overview


