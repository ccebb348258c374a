"""`carecard init`: the scaffolded site builds, and a non-empty folder is refused."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from generator.build import build
from generator.cli import main
from generator.errors import ConfigError
from generator.scaffold import init_site, sample_exports, scaffold_files


def test_init_writes_config_content_exports_and_gitignore(tmp_path: Path) -> None:
    site = init_site(tmp_path / "site")
    names = sorted(str(p) for p in site.files)
    assert names == [".gitignore", "config.yaml", "content/about.md",
                     "content/exports/care-2026-W15.csv", "content/exports/care-2026-W16.csv"]
    assert (tmp_path / "site" / ".gitignore").read_text().splitlines()[1:] == [
        "output/", ".carecard-cache/"]
    about = (tmp_path / "site" / "content" / "about.md").read_text()
    assert about.startswith("---\ntitle: About this scorecard\norder: 1\n---\n")


def test_sample_exports_are_deterministic_with_one_re_exported_reply() -> None:
    assert scaffold_files() == scaffold_files()
    drops = [list(csv.DictReader(io.StringIO(text))) for text in sample_exports().values()]
    first, second = drops
    ids = {row["Ticket"] for drop in drops for row in drop}
    assert len(ids) == 40
    assert {row["Channel"] for drop in drops for row in drop} == {"Twitter", "Email"}
    assert {row["Team"] for drop in drops for row in drop} == {"Social Desk", "Orders"}
    again = [row for row in second if row["Ticket"] in {r["Ticket"] for r in first}]
    assert [row["Ticket"] for row in again] == ["T-1519"]
    before = next(row for row in first if row["Ticket"] == "T-1519")
    assert before["First Reply"] == "" and again[0]["First Reply"] != ""
    unanswered = [row for drop in drops for row in drop if not row["First Reply"]]
    assert len(unanswered) >= 4


def test_scaffolded_site_builds_with_figures_and_charts(tmp_path: Path) -> None:
    init_site(tmp_path / "site")
    result = build(tmp_path / "site" / "config.yaml")
    assert not result.skipped
    assert (result.rows_read, result.rows_rejected) == (41, 0)
    assert result.pages > 5 and result.charts > 0
    assert not result.config.warnings
    output = tmp_path / "site" / "output"
    assert (output / "index.html").is_file()
    assert (output / "pages" / "about.html").is_file()
    figures = list(csv.DictReader(io.StringIO(
        (output / "data" / "figures.csv").read_text(encoding="utf-8"))))
    week = {(r["metric"]): r for r in figures
            if (r["granularity"], r["period"], r["dimension"]) == ("week", "2026-W15", "all")}
    assert week["volume"]["value"] == "20"
    assert week["actionable"]["value"] == "18"  # 'thanks' needs no reply; one spam
    assert week["response_rate"]["value"] and week["sla_attainment"]["value"]
    assert week["sla_attainment"]["status"] in {"green", "amber", "red"}
    segments = {(r["dimension"], r["segment"]) for r in figures}
    assert {("channel", "email"), ("channel", "twitter"), ("team", "Orders"),
            ("team", "Social Desk")} <= segments
    quality = result.checked.quality if result.checked else None
    assert quality is not None
    assert [(d.read, d.kept, d.superseded) for d in quality.drops] == [(20, 19, 1), (21, 21, 0)]
    summary = json.loads((output / "data" / "summary.json").read_text(encoding="utf-8"))
    assert summary["statuses"]


def test_init_refuses_a_non_empty_folder_naming_its_entries(tmp_path: Path) -> None:
    target = tmp_path / "site"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError) as raised:
        init_site(target)
    assert str(raised.value) == (
        f"{target}: cannot create a site here: expected an empty or new folder, found "
        "'notes.txt'. Hint: choose a new folder, or pass --force to write the scaffold's files "
        "(existing files of the same name are replaced, others are kept)."
    )
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_init_command_exits_2_on_a_non_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "site"
    target.mkdir()
    (target / "config.yaml").write_text("site: {}\n")
    assert main(["init", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {target}: cannot create a site here: expected an empty or "
                          "new folder, found 'config.yaml'.")
    assert "Traceback" not in err
    assert (target / "config.yaml").read_text() == "site: {}\n"


def test_init_force_writes_into_a_non_empty_folder_and_keeps_other_files(tmp_path: Path) -> None:
    target = tmp_path / "site"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    (target / "config.yaml").write_text("old")
    init_site(target, force=True)
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "config.yaml").read_text().startswith("# carecard site configuration")


def test_init_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "site"
    target.write_text("")
    with pytest.raises(ConfigError, match="expected a folder, found 'a file'"):
        init_site(target, force=True)


def test_init_command_prints_the_next_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new site"
    assert main(["init", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"created {target / 'config.yaml'}" in out
    assert f"next: cd '{target}' && carecard build" in out
    assert (target / "content" / "exports" / "care-2026-W16.csv").is_file()
