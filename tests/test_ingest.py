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
    assert figures[("all", "volume")].value == 4
    assert figures[("twitter", "volume")].value == 2 and figures[("email", "volume")].value == 2
    # Data-through is the earliest of the sources' latest times: social's 2 Nov 12:00 (a
    # lagging source holds the site back), not mail's 3 Nov 09:00.
    # Within target: social 1 (30 <= 60) and mail 1 (120 <= 240); social 2 is late (120 > 60);
    # mail 2 is unanswered, but its deadline (3 Nov 13:00) is after data-through: not counted.
    assert figures[("all", "sla_attainment")].value == pytest.approx(2 / 3)
    assert figures[("all", "backlog")].value == 1
    assert figures[("email", "frt_median")].value == 120
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
