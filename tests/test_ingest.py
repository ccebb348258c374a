"""Every format through the whole pipeline, bad files through the CLI, and several sources."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import check
from generator.cli import main
from generator.errors import DataError

FORMATS = Path(__file__).parent / "data" / "formats"
GOOD = sorted(p.name for p in FORMATS.iterdir() if p.is_file() and p.suffix != ".py")
BAD = sorted(p.name for p in (FORMATS / "bad").iterdir())
CONFIG = """
site: {{title: F, timezone: UTC, periods: [week]}}
sources:
  - {{name: desk, path: "exports/{name}", timezone: UTC}}
"""


def site_for(folder: Path, name: str, source: Path) -> Path:
    (folder / "exports").mkdir(parents=True)
    shutil.copy(source, folder / "exports" / name)
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(name=name), encoding="utf-8")
    return config


def figures_of(config: Path) -> list[tuple[object, ...]]:
    checked = check(config)
    for drop in checked.quality.drops:
        assert drop.read == drop.kept + drop.superseded + drop.rejected
    return [(f.period, f.dimension, f.segment, f.metric, f.value, f.n, f.status)
            for f in checked.figures.rows]


def test_every_format_and_dialect_gives_identical_figures(tmp_path: Path) -> None:
    reference = figures_of(site_for(tmp_path / "ref", "comma.csv", FORMATS / "comma.csv"))
    assert reference
    for name in GOOD:
        assert figures_of(site_for(tmp_path / name, name, FORMATS / name)) == reference, name


@pytest.mark.parametrize("name", BAD)
def test_bad_files_exit_2_with_a_message_and_no_traceback(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site_for(tmp_path, name, FORMATS / "bad" / name)
    assert main(["build", "--config", str(config), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: exports/{name}")
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


TWO_SOURCES = """
site: {title: Two, timezone: UTC, periods: [week]}
sources:
  - name: social
    path: social/*.csv
    timezone: UTC
    columns: {id: Ticket, received_at: Opened, first_response_at: Replied, channel: Network}
    values: {channel: {X: twitter}}
  - name: mail
    path: mail/*.jsonl
    timezone: Europe/London
    channel: email
    columns: {id: case, received_at: created, first_response_at: answered}
policy:
  first_response:
    - {where: {channel: email}, within: 4h}
    - {within: 60m}
"""


def test_several_sources_combine_into_one_scorecard(project: Callable[..., Path]) -> None:
    config = project(
        {
            "social/w1.csv": (
                "Ticket,Opened,Replied,Network\n"
                "1,2026-11-02 09:00:00,2026-11-02 09:30:00,X\n"
                "2,2026-11-02 10:00:00,2026-11-02 12:00:00,X\n"
            ),
            # The same id '1' in another source is another interaction (ids are per source).
            # London is on GMT in November, so these local times equal UTC.
            "mail/w1.jsonl": (
                '{"case": "1", "created": "2026-11-02 09:00:00", "answered": "2026-11-02 11:00:00"}\n'
                '{"case": "2", "created": "2026-11-03 09:00:00", "answered": null}\n'
            ),
        },
        TWO_SOURCES,
    )
    checked = check(config)
    figures = {(f.segment, f.metric): f for f in checked.figures.rows}
    # Data-through is the earliest of the sources' latest times: social's 2 Nov 12:00 (a
    # lagging source holds the site back), not mail's 3 Nov 09:00. Figures are as of then
    # (SPEC §4.1): mail 2, received 3 Nov 09:00, has not arrived yet (kept, counted on the
    # data-quality page as beyond data-through).
    assert figures[("all", "volume")].value == 3
    assert figures[("twitter", "volume")].value == 2 and figures[("email", "volume")].value == 1
    # Within target: social 1 (30 <= 60) and mail 1 (120 <= 240); social 2 is late (120 > 60).
    assert figures[("all", "sla_attainment")].value == pytest.approx(2 / 3)
    assert figures[("all", "backlog")].value == 0
    assert figures[("email", "frt_median")].value == 120
    assert [(b.source, b.period, b.interactions) for b in checked.quality.beyond] == [
        ("mail", "2026-W45", 1)]
    by_source = checked.quality.data_through_by_source
    assert str(by_source["social"]) == "2026-11-02 12:00:00+00:00"
    assert str(by_source["mail"]) == "2026-11-03 09:00:00+00:00"
    assert checked.quality.data_through == by_source["social"]


# --- hostile widths (issue 14, item 12) -----------------------------------------------------------

WIDE_CONFIG = """
site: {{title: W, timezone: UTC, periods: [week]}}
sources:
  - {{name: desk, path: "exports/{name}", timezone: UTC, channel: twitter}}
"""


def wide_site(folder: Path, name: str, columns: int) -> Path:
    """A site whose one drop has `columns` columns: id, received_at and c2, c3, …"""
    from sheets import write_xlsx

    names = ["id", "received_at"] + [f"c{i}" for i in range(2, columns)]
    values: list[object] = ["1", "2026-11-02 09:00:00", *[""] * (columns - 2)]
    path = folder / "exports" / name
    path.parent.mkdir(parents=True)
    if name.endswith(".csv"):
        path.write_text(",".join(names) + "\n" + ",".join(map(str, values)) + "\n", "utf-8")
    elif name.endswith(".jsonl"):
        path.write_text(json.dumps(dict(zip(names, values))) + "\n", "utf-8")
    elif name.endswith(".xlsx"):
        write_xlsx(path, [list[object](names), values])
    else:
        import duckdb

        select = ", ".join(f"{v!r} AS {n}" for n, v in zip(names, values))
        duckdb.connect().execute(f"COPY (SELECT {select}) TO '{path}' (FORMAT parquet)")
    config = folder / "config.yaml"
    config.write_text(WIDE_CONFIG.format(name=name), encoding="utf-8")
    return config


@pytest.mark.parametrize(
    "name, where",
    [("w1.csv", "exports/w1.csv, line 1"), ("w1.jsonl", "exports/w1.jsonl"),
     ("w1.parquet", "exports/w1.parquet"), ("w1.xlsx", "exports/w1.xlsx, row 1")],
)
def test_a_drop_of_more_than_1000_columns_is_refused_naming_the_file(
    tmp_path: Path, name: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(wide_site(tmp_path / "ok", name, 1000)).quality.rows_read == 1
    config = wide_site(tmp_path / "wide", name, 1001)
    assert main(["check", "--config", str(config)]) == 2
    found = "more than 1,000" if name.endswith(".jsonl") else "1,001"
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {where}: expected at most 1,000 columns, found '{found} columns'. Hint: export "
        "only the columns the scorecard reads; a header this wide usually means a wrong "
        "delimiter or a file that is not an export.")


def test_a_header_of_a_million_columns_is_refused_in_seconds(tmp_path: Path) -> None:
    """40k columns took 35 s and a million did not finish: the width is refused up front."""
    import time

    path = tmp_path / "exports" / "w1.csv"
    path.parent.mkdir()
    path.write_text("id,received_at," + ",".join(f"c{i}" for i in range(1_000_000)) + "\n"
                    + "1,2026-11-02 09:00:00\n", encoding="utf-8")
    (tmp_path / "config.yaml").write_text(WIDE_CONFIG.format(name="w1.csv"), encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(DataError) as error:
        check(tmp_path / "config.yaml")
    assert time.perf_counter() - started < 10
    assert str(error.value).startswith(
        "exports/w1.csv, line 1: expected at most 1,000 columns, found 'more than 1,000 columns'.")


# --- malformed records (issue 14, item 8) ---------------------------------------------------------

ROWS_CONFIG = """
site: {title: M, timezone: UTC, periods: [week]}
sources:
  - {name: desk, path: "exports/*.csv", timezone: UTC}
"""


def test_a_short_or_overlong_row_is_rejected_on_its_own_line_and_the_rest_kept(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """One ragged row made the whole drop unreadable ('CSV Error on Line: 12')."""
    text = (
        "id,received_at,channel,note\n"
        "a,2026-11-02 09:00:00,twitter,ok\n"          # line 2
        "b,2026-11-02 10:00:00,twitter\n"             # line 3: 3 values of 4
        'c,2026-11-02 11:00:00,twitter,"two\n'        # lines 4-5: one record
        'lines"\n'
        "\n"                                          # line 6: blank, skipped
        "d,2026-11-02 12:00:00,twitter,x,y\n"         # line 7: 5 values of 4
        "e,2026-11-03 09:00:00,twitter,ok\n"          # line 8
    )
    config = project({"exports/w1.csv": text}, ROWS_CONFIG)
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("rejected: ")] == [
        "rejected: exports/w1.csv, line 3: expected 4 values like the header line, found "
        "'b,2026-11-02 10:00:00,twitter'. Hint: the line has 3; quote values that contain the "
        "delimiter, or set sources[0].delimiter.",
        "rejected: exports/w1.csv, line 7: expected 4 values like the header line, found "
        "'d,2026-11-02 12:00:00,twitter,x,y'. Hint: the line has 5; quote values that contain "
        "the delimiter, or set sources[0].delimiter."]
    quality = check(config).quality
    (drop,) = quality.drops
    assert (drop.read, drop.kept, drop.superseded, drop.rejected) == (5, 3, 0, 2)
    assert drop.rejected_by_reason == {"malformed_row": 2}
    assert [(r.position, r.reason) for r in quality.rejections] == [
        ("line 3", "malformed_row"), ("line 7", "malformed_row")]
    figures = {f.metric: f.value for f in check(config).figures.rows
               if f.period == "2026-W45" and f.segment == "all"}
    assert figures["volume"] == 3  # a, c and e


@pytest.mark.parametrize("quoted", [False, True])
def test_a_value_of_5_mb_is_rejected_as_field_too_large_and_the_rest_kept(
    project: Callable[..., Path], quoted: bool
) -> None:
    """A long message text (here 5,000,000 characters, with 1,000,000 line breaks when quoted)
    made the drop unreadable; values of up to 1,048,576 characters are read."""
    long = ("word\n" * 1_000_000) if quoted else "w" * 5_000_000
    cell = f'"{long}"' if quoted else long
    text = ("id,received_at,channel,note\n"
            f"a,2026-11-02 09:00:00,twitter,{'x' * (1 << 20)}\n"
            f"b,2026-11-02 10:00:00,twitter,{cell}\n"
            "c,2026-11-02 11:00:00,twitter,ok\n"
            "d,never,twitter,ok\n")
    config = project({"exports/w1.csv": text}, ROWS_CONFIG)
    quality = check(config).quality
    (drop,) = quality.drops
    assert (drop.read, drop.kept, drop.rejected) == (4, 2, 2)
    too_large, late = quality.rejections
    assert (too_large.position, too_large.column, too_large.reason) == (
        "line 3", "note", "field_too_large")
    assert too_large.message == (
        "exports/w1.csv, line 3, column 'note': expected a value of at most 1,048,576 "
        f"characters, found '{long[:77]}...'. Hint: this one has 5,000,000; the row is "
        "rejected, the rest of the drop is read. Shorten such values in the export, or leave "
        "out the column.")
    # b's line breaks count: d starts on line 5, or 1,000,000 lines further when quoted.
    assert late.position == ("line 1000005" if quoted else "line 5")
