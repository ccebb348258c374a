"""Every format through the whole pipeline, bad files through the CLI, and several sources."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import check
from generator.cli import main

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
