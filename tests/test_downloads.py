"""Engine-written downloads: interactions.csv goes from the engine to the site, not via Python."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
import sitefakes
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.build import build, check


def test_interactions_csv_written_into_the_site_equals_the_checked_bytes(tmp_path: Path) -> None:
    config = sitefakes.handmade_with_interactions_csv(tmp_path)
    build(config, output=tmp_path / "out")
    checked = check(config)  # no scratch folder: the bytes come back to Python
    assert isinstance(checked.interactions, bytes)
    written = (tmp_path / "out" / "data" / "interactions.csv").read_bytes()
    assert written == checked.interactions
    assert written.startswith(b"source,id,channel,received_at,")
    assert not (tmp_path / "out" / ".carecard-scratch").exists()


def test_figures_json_is_the_indented_dump_of_the_csv_values() -> None:
    """figures.json is written object by object for speed; its bytes must be exactly those of
    json.dumps(indent=1, sort_keys=True) of the rows, for awkward values too."""
    import json
    from datetime import date

    from generator.site.downloads import FIGURE_COLUMNS, figures_json
    from generator.model import Figure

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


def test_engine_written_figures_files_are_the_python_writers_bytes(tmp_path: Path) -> None:
    """A build has the engine write figures.csv and figures.json; `check` without a scratch
    folder gives the rows to Python, whose writers define the files (SPEC §7)."""
    from generator.site.downloads import figures_csv, figures_json

    config = Path(__file__).parent / "projects" / "handmade" / "config.yaml"
    result = build(config, output=tmp_path / "out", cache_folder=tmp_path / "cache")
    assert "write figures files" in result.stages  # the engine wrote them
    rows = check(config).figures.rows
    assert (tmp_path / "out" / "data" / "figures.csv").read_bytes() == figures_csv(rows)
    assert (tmp_path / "out" / "data" / "figures.json").read_bytes() == figures_json(rows)


def _figures_table(rows: list[tuple[object, ...]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE figures (granularity VARCHAR, period VARCHAR, period_start DATE, "
        "period_end DATE, partial BOOLEAN, dimension VARCHAR, segment VARCHAR, metric VARCHAR, "
        "value DOUBLE, n BIGINT, goal DOUBLE, status VARCHAR, previous_value DOUBLE, "
        "change DOUBLE, change_unit VARCHAR, year_ago_value DOUBLE, year_ago_change DOUBLE)")
    if rows:
        con.executemany(f"INSERT INTO figures VALUES ({', '.join(['?'] * 17)})", rows)
    return con


def _row(segment: str = "red", value: float | None = 17.4, partial: bool | None = False
         ) -> tuple[object, ...]:
    return ("week", "2026-W45", date(2026, 11, 2), date(2026, 11, 9), partial, "team", segment,
            "frt_median", value, 40, 30.0, "green", 12.0, None, "%", 1e20, -0.0)


@pytest.mark.parametrize("segment", ["a,b", 'say "hi"', "back\\slash", "two\nlines", "cr\r",
                                     "tab\there"])
def test_figures_with_text_that_csv_quotes_or_json_escapes_are_left_to_python(
    tmp_path: Path, segment: str
) -> None:
    from generator.site.downloads import write_figures_files

    assert write_figures_files(_figures_table([_row(), _row(segment)]), tmp_path) is None
    assert not list(tmp_path.iterdir())


def test_no_figures_or_a_number_that_is_not_finite_is_left_to_python(tmp_path: Path) -> None:
    from generator.site.downloads import write_figures_files

    assert write_figures_files(_figures_table([]), tmp_path) is None
    assert write_figures_files(_figures_table([_row(value=float("nan"))]), tmp_path) is None
    assert write_figures_files(_figures_table([_row(value=float("inf"))]), tmp_path) is None
    assert not list(tmp_path.iterdir())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20),
       st.text(max_size=12), st.sampled_from([True, False, None]))
def test_engine_figures_files_equal_the_python_writers_for_any_numbers_and_text(
    values: list[float], segment: str, partial: bool | None
) -> None:
    """Numbers in the engine's shortest round-trip text, whole ones without '.0', unicode text
    unescaped: byte for byte what figures_csv and figures_json write (or left to them)."""
    import tempfile

    from generator.site.downloads import figures_csv, figures_json, write_figures_files
    from generator.model import Figure

    rows = [_row(segment, value, partial) for value in values]
    with tempfile.TemporaryDirectory() as folder:
        written = write_figures_files(_figures_table(rows), Path(folder))
        if written is None:
            assert any(c in segment for c in ',"\\') or any(ord(c) < 32 for c in segment)
            return
        figures = tuple(Figure(*row) for row in rows)  # type: ignore[arg-type]
        assert written[0].read_bytes() == figures_csv(figures)
        assert written[1].read_bytes() == figures_json(figures)


def test_figures_files_are_written_in_chunks_within_a_small_engine_memory_limit(
    tmp_path: Path
) -> None:
    """300,000 figures (a 130 MB figures.json) under a 100 MB engine limit: the rows are
    streamed to the files, not gathered into one string in the engine (review)."""
    from generator.site.downloads import write_figures_files

    con = _figures_table([])
    con.execute("SET threads = 1")
    con.execute("SET memory_limit = '100MB'")
    con.execute(
        "INSERT INTO figures SELECT 'day', 'P' || i, DATE '2020-01-01' + CAST(i % 3000 AS INT), "
        "DATE '2020-01-02' + CAST(i % 3000 AS INT), false, 'team', 'team-' || (i % 97), "
        "'metric_' || (i % 17), i / 7, i, 30.5, 'green', NULL, -1.25, 'pp', 1e20, NULL "
        "FROM range(300000) t(i)")
    written = write_figures_files(con, tmp_path)
    assert written is not None
    assert written[1].stat().st_size > 100_000_000
    with written[0].open(encoding="utf-8") as lines:
        assert sum(1 for _ in lines) == 300_001
