"""Drill-through lists: counts and the first rows in Python, whole CSVs written by the engine."""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sitefakes as fakes

from generator.build import build, check
from generator.figures.drill import DRILL_COLUMNS, write_drill_csvs
from generator.model import DrillList, DrillRow
from generator.site.render import csv_bytes, render_site

HANDMADE = Path(__file__).parent / "projects" / "handmade" / "config.yaml"

#: (list_no, seq, values in DRILL_COLUMNS order): floats, a whole float, None, quotes, commas,
#: a newline, an empty text, non-ASCII text, a large and a tiny number.
ROWS: list[tuple[int, int, tuple[Any, ...]]] = [
    (1, 1, ("social", "BC-1", "facebook", "2025-10-27 01:55:33", "2025-10-27 03:14:26",
            78.88333333333334, 60.0, "elapsed", "late", "exports/social-44.csv", 2313)),
    (1, 2, ("social", "BC-2", "twitter", "2025-10-27 02:11:23", None, None, 15.0, "elapsed",
            "overdue", "exports/social-44.csv", 1943)),
    (1, 3, ("desk", 'id "with, comma"', "e,mail", "2025-10-27 02:30:54", "2025-10-28 06:22:47",
            1e16, 0.1, "business", "late", "exports/a\nb.csv", 7)),
    (1, 4, ("", "Ünïcødé", "chat", "2025-10-27 03:00:00", "2025-10-27 04:00:00", 1.5e-05,
            480.5, "business", "late", "exports/é.csv", 8)),
    (2, 1, ("social", "#123", "twitter", "2025-10-28 09:00:00", None, None, 60.0, "elapsed",
            "waiting", "exports/x#y.csv", 3)),
    (2, 2, ("social", "id2", "twitter", "2025-10-28 09:01:00", "2025-10-28 11:00:00", 119.0,
            60.0, "elapsed", "late", "exports/w.csv", 4)),
    (3, 1, ("social", "cr\rid", "twitter", "2025-10-28 09:01:00", "2025-10-28 11:00:00", 119.0,
            60.0, "elapsed", "late", "exports/w.csv", 4)),
]
LISTS = tuple(DrillList("week", "2025-W44", "channel", f"s{n}", ()) for n in (1, 2, 3))


def engine_with_rows() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE drill_rows (list_no BIGINT, seq BIGINT, source VARCHAR, id VARCHAR, "
        "channel VARCHAR, received_at VARCHAR, first_response_at VARCHAR, minutes DOUBLE, "
        "target_minutes DOUBLE, clock VARCHAR, state VARCHAR, file VARCHAR, line BIGINT)"
    )
    con.executemany("INSERT INTO drill_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(n, s, *values) for n, s, values in ROWS])
    return con


def old_writer(list_no: int) -> bytes:
    """What a drill CSV was before the engine wrote it: csv_bytes of every DrillRow."""
    rows = [DrillRow(*(values[:4] + (values[4] or "",) + values[5:]))
            for n, _, values in ROWS if n == list_no]
    return csv_bytes(DRILL_COLUMNS, [[getattr(r, c) for c in DRILL_COLUMNS] for r in rows])


def test_engine_written_drill_csv_is_byte_identical_to_the_python_writer(tmp_path: Path) -> None:
    written = write_drill_csvs(engine_with_rows(), LISTS, tmp_path)
    first = written[0].csv
    assert first is not None
    assert first.read_bytes() == old_writer(1)
    assert first.read_bytes().splitlines()[1:3] == [
        b"social,BC-1,facebook,2025-10-27 01:55:33,2025-10-27 03:14:26,78.88333333333334,60,"
        b"elapsed,late,exports/social-44.csv,2313",
        b"social,BC-2,twitter,2025-10-27 02:11:23,,,15,elapsed,overdue,exports/social-44.csv,1943",
    ]


def test_a_list_with_hash_or_carriage_return_is_still_byte_identical(tmp_path: Path) -> None:
    # The engine would quote '#' and CR, Python's csv module does not: Python writes this list.
    written = write_drill_csvs(engine_with_rows(), LISTS, tmp_path)
    second, third = written[1].csv, written[2].csv
    assert second is not None and third is not None
    assert second.read_bytes() == old_writer(2)
    assert b"\nsocial,#123,twitter," in second.read_bytes()
    assert third.read_bytes() == old_writer(3)
    assert b"\nsocial,cr\rid,twitter," in third.read_bytes()


def test_every_list_keeps_its_order_whatever_the_order_of_the_table(tmp_path: Path) -> None:
    rows = [(n, s, ("social", f"id-{n}-{s:04d}", "twitter", f"2025-10-27 {s % 24:02d}:00:00",
                    None, None, 60.0, "elapsed", "overdue", "exports/w.csv", s))
            for n in range(1, 8) for s in range(1, 1500)]
    random.Random(7).shuffle(rows)
    con = engine_with_rows()
    con.execute("DELETE FROM drill_rows")
    con.executemany("INSERT INTO drill_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(n, s, *values) for n, s, values in rows])
    # As compute_drill creates it: sorted by list, then by position in the list.
    con.execute("CREATE OR REPLACE TABLE drill_rows AS "
                "SELECT * FROM drill_rows ORDER BY list_no, seq")
    lists = tuple(DrillList("week", "2025-W44", "team", f"t{n}", ()) for n in range(1, 8))
    for n, drill in enumerate(write_drill_csvs(con, lists, tmp_path), start=1):
        assert drill.csv is not None
        ids = [line.split(",")[1] for line in drill.csv.read_text().splitlines()[1:]]
        assert ids == [f"id-{n}-{s:04d}" for s in range(1, 1500)]


def test_lists_are_matched_to_their_numbers_when_some_numbers_have_no_rows(
    tmp_path: Path
) -> None:
    con = engine_with_rows()
    con.execute("UPDATE drill_rows SET list_no = list_no * 10")  # lists 10, 20 and 30
    written = write_drill_csvs(con, LISTS, tmp_path)
    assert [d.csv.read_bytes() if d.csv else b"" for d in written] == [
        old_writer(1), old_writer(2), old_writer(3)]


def test_built_drill_csvs_match_the_rows_of_the_lists(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HANDMADE.parent, site)
    build(site / "config.yaml", output=tmp_path / "out")
    drills = check(site / "config.yaml").figures.drill
    assert drills
    for drill in drills:
        if drill.dimension != "all":
            continue
        path = tmp_path / "out" / "drill" / "week" / drill.period / "all" / "all.csv"
        rows = [[getattr(r, c) for c in DRILL_COLUMNS] for r in drill.rows]
        assert path.read_bytes() == csv_bytes(DRILL_COLUMNS, rows)
    assert not (tmp_path / "out" / ".carecard-scratch").exists()


def test_a_list_keeps_its_counts_and_shows_only_its_first_rows(tmp_path: Path) -> None:
    csv = tmp_path / "whole.csv"
    csv.write_bytes(b"source,id\nwhole,list\n")
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


def test_no_lists_write_no_files(tmp_path: Path) -> None:
    assert write_drill_csvs(engine_with_rows(), (), tmp_path) == ()
    assert list(tmp_path.iterdir()) == []


def test_a_list_the_partitioned_copy_split_is_written_whole_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the engine split a list into two files (or name its file otherwise), that list
    is written again alone, to the path the pages were given."""
    import generator.figures.drill
    from generator.figures.drill import PARTS, plan_drill_csvs, write_planned

    def split_copy(con: duckdb.DuckDBPyConnection, parts: Path, lists: object) -> None:
        part = parts / "list_no=1"
        part.mkdir(parents=True)
        (part / "data_0.csv").write_text("half\n")
        (part / "data_1.csv").write_text("other half\n")

    monkeypatch.setattr(generator.figures.drill, "_copy_partitioned", split_copy)
    con = engine_with_rows()
    plan = plan_drill_csvs(con, LISTS, tmp_path)
    assert plan.by_engine == (1,) and plan.paths[1] == tmp_path / PARTS / "list_no=1" / "data_0.csv"
    write_planned(con, plan)
    assert plan.paths[1].read_bytes() == old_writer(1)
    assert sorted(p.name for p in plan.paths[1].parent.iterdir()) == ["data_0.csv"]


@pytest.mark.parametrize("folder", ["plain", "odd [x] {y} * ?"])
def test_the_engine_lists_are_used_where_the_copy_wrote_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    """No list is written twice: the files of the one partitioned COPY are the lists' files,
    also in a folder whose name the engine's glob would read as a pattern (review)."""
    import generator.figures.drill

    calls = []
    columns = generator.figures.drill._csv_columns

    def counted() -> str:
        calls.append(1)
        return columns()

    monkeypatch.setattr(generator.figures.drill, "_csv_columns", counted)
    con = engine_with_rows()
    con.execute("UPDATE drill_rows SET id = 'plain', file = 'w.csv' WHERE list_no > 1")  # no '#', CR
    (tmp_path / folder).mkdir()
    written = write_drill_csvs(con, LISTS, tmp_path / folder)
    assert len(calls) == 1
    assert [d.csv.name for d in written if d.csv] == ["data_0.csv"] * 3


def test_published_lists_are_linked_and_only_changed_lists_are_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With a cache, a list whose rows are those of a list the last build published is linked
    from the output (same bytes); a list with a changed row is written again; an edited
    published file is not used."""
    import generator.figures.drill
    from generator.cache import Cache
    from generator.figures.drill import plan_drill_csvs, remember_published, write_planned

    cache = Cache(tmp_path / "cache")
    for name in ("one", "two", "three", "site"):
        (tmp_path / name).mkdir()

    def publish(plan: generator.figures.drill.DrillFiles) -> None:
        """As a build does: move each list into the site, record where it went."""
        published = {}
        for n, path in plan.paths.items():
            published[path] = tmp_path / "site" / f"list-{n}.csv"
            path.replace(published[path])
        remember_published(plan, cache, published)

    con = engine_with_rows()
    first = plan_drill_csvs(con, LISTS, tmp_path / "one", cache)
    write_planned(con, first)
    publish(first)

    copied: list[set[int] | None] = []
    partitioned = generator.figures.drill._copy_partitioned

    def spy(con: duckdb.DuckDBPyConnection, parts: Path, lists: set[int] | None) -> None:
        copied.append(lists)
        partitioned(con, parts, lists)

    monkeypatch.setattr(generator.figures.drill, "_copy_partitioned", spy)
    caplog.set_level("INFO", logger="generator.figures.drill")
    caplog.clear()
    cache = Cache(tmp_path / "cache")  # a new build reads the record afresh
    second = write_drill_csvs(engine_with_rows(), LISTS, tmp_path / "two", cache,
                              output=tmp_path / "site")
    assert copied == []  # every list came from the published site
    assert "0 to write, 3 as the last build published them" in caplog.text
    assert [d.csv.read_bytes() for d in second if d.csv] == [old_writer(n) for n in (1, 2, 3)]
    assert second[0].csv is not None
    assert second[0].csv.stat().st_ino == (tmp_path / "site" / "list-1.csv").stat().st_ino

    (tmp_path / "site" / "list-3.csv").write_bytes(b"edited")  # size and time change
    con = engine_with_rows()
    con.execute("UPDATE drill_rows SET target_minutes = 30 WHERE list_no = 1 AND seq = 2")
    cache = Cache(tmp_path / "cache")
    third = write_drill_csvs(con, LISTS, tmp_path / "three", cache, output=tmp_path / "site")
    assert copied == [{1}]  # list 1 by the engine; 2 linked; 3 (edited) by Python again
    assert [d.csv.read_bytes() for d in third if d.csv][1:] == [old_writer(2), old_writer(3)]
    assert third[0].csv is not None
    assert b"2025-10-27 02:11:23,,,30,elapsed,overdue" in third[0].csv.read_bytes()


def test_a_corrupt_record_of_published_lists_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from generator.cache import CACHE_FORMAT, Cache
    from generator.figures.drill import plan_drill_csvs, remember_published, write_planned

    cache = Cache(tmp_path / "cache")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    con = engine_with_rows()
    plan = plan_drill_csvs(con, LISTS, tmp_path / "one", cache)
    write_planned(con, plan)
    remember_published(plan, cache, {p: p for p in plan.paths.values()})
    record = tmp_path / "cache" / f"files-drill-{CACHE_FORMAT}.json"
    record.write_bytes(record.read_bytes().replace(b"drill", b"xxxxx"))
    again = write_drill_csvs(engine_with_rows(), LISTS, tmp_path / "two", Cache(record.parent))
    assert [d.csv.read_bytes() for d in again if d.csv] == [old_writer(n) for n in (1, 2, 3)]
    assert any("corrupt" in r.getMessage() for r in caplog.records)


def test_a_list_replaced_between_its_check_and_its_link_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link is checked to be the very file recalled (review)."""
    import generator.figures.drill
    from generator.cache import Cache
    from generator.figures.drill import plan_drill_csvs, remember_published, write_planned

    cache = Cache(tmp_path / "cache")
    for name in ("one", "two", "site"):
        (tmp_path / name).mkdir()
    con = engine_with_rows()
    plan = plan_drill_csvs(con, LISTS, tmp_path / "one", cache)
    write_planned(con, plan)
    published = {path: tmp_path / "site" / f"list-{n}.csv" for n, path in plan.paths.items()}
    for source, target in published.items():
        source.replace(target)
    remember_published(plan, cache, published)
    link = os.link

    def replace_then_link(source: Path, target: Path) -> None:
        Path(f"{source}.new").write_bytes(b"not the list\n")
        os.replace(f"{source}.new", source)  # a new inode at the recalled path
        link(source, target)

    monkeypatch.setattr(generator.figures.drill.os, "link", replace_then_link)
    again = write_drill_csvs(engine_with_rows(), LISTS, tmp_path / "two", Cache(cache.folder),
                             output=tmp_path / "site")
    assert [d.csv.read_bytes() for d in again if d.csv] == [old_writer(n) for n in (1, 2, 3)]
