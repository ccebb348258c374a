"""Whole builds: CLI exit codes, determinism, escaping, atomic output, example reconciliation."""

from __future__ import annotations

import hashlib
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import build, check
from generator.cli import main

ROOT = Path(__file__).resolve().parent.parent
HANDMADE = ROOT / "tests" / "projects" / "handmade"


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def published(handmade: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The site built into tmp_path/out, and its digest: what a failed build must leave."""
    out = tmp_path / "out"
    build(handmade, output=out)
    return out, tree_digest(out)


def assert_untouched(out: Path, before: dict[str, str]) -> None:
    """The output folder as `before`, and no staging folder left beside it."""
    assert tree_digest(out) == before
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")] == []


@pytest.fixture
def handmade(tmp_path: Path) -> Path:
    target = tmp_path / "site"
    shutil.copytree(HANDMADE, target)
    return target / "config.yaml"


def test_two_builds_of_the_same_inputs_are_byte_identical(handmade: Path, tmp_path: Path) -> None:
    build(handmade, output=tmp_path / "one")
    build(handmade, output=tmp_path / "two")
    one, two = tree_digest(tmp_path / "one"), tree_digest(tmp_path / "two")
    assert one == two
    assert "index.html" in one and "data/figures.csv" in one and "data/summary.json" in one


def test_build_exit_code_is_0_and_prints_one_summary_line(
    handmade: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["build", "--config", str(handmade), "--output", str(tmp_path / "out"), "--quiet"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(out) == 1 and out[0].startswith("built ") and "(1 rejected)" in out[0]


def test_config_with_three_mistakes_reports_all_three_and_exits_2(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(
        {"exports/w1.csv": "id,received_at,channel\na,2026-11-02 09:00:00,twitter\n"},
        """
        site:
          timezone: Mars/Olympus
          periods: [fortnight]
        sources:
          - name: desk
            path: exports/*.csv
        policy:
          first_response:
            - {within: soon}
        """,
    )
    code = main(["check", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3
    assert any(":2: site.timezone:" in e for e in errors)
    assert any(":3: site.periods" in e for e in errors)
    assert any(":9: policy.first_response[0].within:" in e for e in errors)
    assert "Traceback" not in err


def test_strict_build_with_rejected_rows_exits_2_and_publishes_nothing(
    handmade: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["build", "--config", str(handmade), "--output", str(out), "--strict"])
    assert code == 2
    assert not out.exists()
    assert "expected a timestamp like" in capsys.readouterr().err


def test_failed_build_leaves_previous_output_untouched(handmade: Path, tmp_path: Path) -> None:
    out, before = published(handmade, tmp_path)
    (handmade.parent / "exports" / "w3.csv").write_text("Case,Created\n", encoding="utf-8")
    assert main(["build", "--config", str(handmade), "--output", str(out)]) == 2
    assert_untouched(out, before)


def test_output_folder_may_not_be_the_site_root(handmade: Path) -> None:
    assert main(["build", "--config", str(handmade), "--output", str(handmade.parent)]) == 2


def test_text_from_data_is_escaped_in_every_page(project: Callable[..., Path], tmp_path: Path) -> None:
    config = project(
        {
            "exports/w1.csv": (
                "id,received_at,first_response_at,channel,team\n"
                'a,2026-11-02 09:00:00,2026-11-02 09:10:00,twitter,<script>alert(1)</script>\n'
                "b,2026-11-03 09:00:00,,<b>bold</b>,ops\n"
            )
        },
        """
        site: {title: "Care & <Co>", timezone: UTC, periods: [week]}
        sources:
          - {name: desk, path: exports/*.csv, timezone: UTC, dimensions: [team]}
        """,
    )
    out = tmp_path / "out"
    build(config, output=out)
    pages = [p for p in out.rglob("*.html")]
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>alert(1)</script>" not in text, page
        assert "<b>bold</b>" not in text, page
        assert "<Co>" not in text, page
    listing = (out / "segments" / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing


def test_every_example_drop_reconciles() -> None:
    quality = check(ROOT / "config.yaml").quality
    assert len(quality.drops) >= 12
    for drop in quality.drops:
        assert drop.read == drop.kept + drop.superseded + drop.rejected, drop.file
        assert drop.rejected == sum(drop.rejected_by_reason.values()), drop.file
    assert quality.rows_rejected == len(quality.rejections)


def test_example_site_shows_every_status() -> None:
    figures = check(ROOT / "config.yaml").figures
    statuses = {f.status for f in figures.rows}
    assert statuses == {"green", "amber", "red", "insufficient", "none"}


def test_fail_on_exits_1_when_a_segment_is_red_or_amber(
    handmade: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The handmade fixture's latest complete week (W46) has red figures (see test_metrics.py).
    args = ["build", "--config", str(handmade), "--output", str(tmp_path / "o"), "--quiet"]
    assert main(args) == 0
    assert main(args + ["--fail-on", "red"]) == 1
    err = capsys.readouterr().err
    assert "red: sla_attainment for all in 2026-W46 is 50.0% (goal 80.0%)" in err


def test_badge_names_the_period_and_the_red_count(handmade: Path, tmp_path: Path) -> None:
    build(handmade, output=tmp_path / "o")
    badge = (tmp_path / "o" / "data" / "badge.svg").read_text(encoding="utf-8")
    # W46 all/all: response_rate, frt_median, sla_attainment and backlog are red.
    assert 'aria-label="2026-W46: 4 off goal"' in badge


def test_memory_limit_is_the_builds_budget_and_the_engine_gets_it_less_the_allowance() -> None:
    from generator.build import ALLOWANCE, connect, engine_memory

    assert ALLOWANCE == 384 * 2**20
    assert engine_memory("2GB") == 2_000_000_000 - 402_653_184
    assert engine_memory("1.5GiB") == int(1.5 * 2**30) - 402_653_184
    assert engine_memory("512MB") == 256 * 2**20  # never cut below 256 MiB…
    assert engine_memory("100MB") == 100_000_000  # …nor above the budget
    con = connect("2GB")
    # 1,597,346,816 bytes, as the engine itself prints it.
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("1.4 GiB",)


def test_a_memory_limit_that_is_no_size_exits_2_with_a_hint(
    handmade: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["build", "--config", str(handmade), "--output", str(out), "--memory-limit", "lots"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--memory-limit: expected a size like '2GB', '1.5GiB' or '512MB', found 'lots'" in err
    assert "Hint: a size needs a unit" in err
    assert not out.exists()
    # Also when nothing changed since the last build (the size is checked before that).
    assert main(["build", "--config", str(handmade), "--output", str(out), "--quiet"]) == 0
    assert main(["build", "--config", str(handmade), "--output", str(out),
                 "--memory-limit", "10MB"]) == 2
    assert "--memory-limit: expected at least 64MB, found '10MB'" in capsys.readouterr().err


def test_an_engine_out_of_memory_is_a_clear_error_not_a_traceback(
    handmade: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import duckdb

    def exhausted(*args: object, **kwargs: object) -> None:
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    monkeypatch.setattr("generator.build.build", exhausted)
    code = main(["build", "--config", str(handmade), "--output", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "error: the engine ran out of memory. Hint: raise --memory-limit" in err
    assert "Traceback" not in err


def test_a_second_build_of_the_same_output_waits_for_the_first(
    handmade: Path, tmp_path: Path
) -> None:
    """Two builds at once (serve and a manual build, overlapping CI jobs) must not remove each
    other's staging folder: the second waits for the lock the first holds."""
    import threading

    from generator.publish.output import output_lock

    out = tmp_path / "out"
    results: list[object] = []
    with output_lock(out):
        second = threading.Thread(target=lambda: results.append(build(handmade, output=out)))
        second.start()
        second.join(timeout=3.0)  # a whole build of this site takes about a second
        assert second.is_alive() and not out.exists()
        assert not list(tmp_path.glob(".out.staging-*"))  # it has not started to build
    second.join(timeout=120)
    assert len(results) == 1 and (out / "index.html").is_file()


@pytest.mark.parametrize(("sent", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                    (signal.SIGTERM, 143, "terminated")])
def test_a_signal_during_an_engine_query_stops_the_build_with_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    sent: signal.Signals, code: int, word: str, default_signals: None,
) -> None:
    """Ctrl-C or SIGTERM during a query: the build stops with one line and 130 or 143, no
    traceback. The engine turns Ctrl-C into its own error and stops at once; SIGTERM stops it
    at once or when the query ends (about a second here)."""
    import duckdb

    def endless(*args: object, **kwargs: object) -> None:
        duckdb.connect().execute("SELECT count(*) FROM range(8000000000) a").fetchone()

    monkeypatch.setattr("generator.build.build", endless)
    # As `kill` from outside delivers it on Linux: to the main thread (a signal this process
    # sends itself from another thread would be taken by that thread instead).
    timer = threading.Timer(0.2, signal.pthread_kill, (threading.main_thread().ident, sent))
    timer.start()
    try:
        assert main(["build", "--config", str(tmp_path / "config.yaml")]) == code
    finally:
        timer.cancel()
    assert f"{word}; the previous output is untouched." in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the command


def test_a_site_where_every_row_is_rejected_builds_but_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    shutil.copytree(Path(__file__).parent / "projects" / "handmade", site)
    for drop in (site / "exports").iterdir():
        drop.unlink()
    header = "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
    rows = "".join(f"x{i},02/11/2026 09:00,,,twitter,billing,normal,q,,Yes\n" for i in range(3))
    (site / "exports" / "w1.csv").write_text(header + rows, encoding="utf-8")
    text = (site / "config.yaml").read_text(encoding="utf-8")
    (site / "config.yaml").write_text(  # data-through from the data: there is none
        text.replace("  data_through: 2026-11-16T00:00:00+00:00\n", ""), encoding="utf-8")
    config = str(site / "config.yaml")
    assert main(["build", "--config", config, "--quiet"]) == 0  # rejected rows alone (SPEC §2)
    assert ("warning: all 3 rows read were rejected, so no figure has data "
            "(unparseable_timestamp 3). Hint: run carecard check") in capsys.readouterr().err
    assert main(["check", "--config", config, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "3 rejected; no row kept, so no data-through time" in out
    assert "warning: all 3 rows read were rejected" in err


def test_a_full_disk_stops_the_build_with_a_message_not_a_traceback(
    handmade: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import errno

    out, before = published(handmade, tmp_path)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr("generator.publish.output.write_site", full)
    (handmade.parent / "exports" / "w3.csv").write_text(
        "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
        "v1,2026-11-12 09:00:00,,,twitter,billing,normal,q,,Yes\n", encoding="utf-8")
    assert main(["build", "--config", str(handmade), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: cannot read or write '{tmp_path / 'x'}': No space left on device." in err
    assert "Traceback" not in err and "nothing was published" in err
    assert_untouched(out, before)




def test_an_unexpected_error_exits_3_with_one_line_asking_for_a_report(
    handmade: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 1 means "built, with red figures" (a CI job publishes then): a bug exits 3."""
    out, before = published(handmade, tmp_path)

    def bug(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("generator.publish.output.write_site", bug)
    (handmade.parent / "exports" / "w3.csv").write_text(
        "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
        "v1,2026-11-12 09:00:00,,,twitter,billing,normal,q,,Yes\n", encoding="utf-8")
    assert main(["build", "--config", str(handmade), "--output", str(out)]) == 3
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: internal error (RecursionError: maximum recursion depth exceeded); nothing was "
        "published. This is a bug in carecard: please report it with the command you ran and "
        "its output, run again with --verbose for the traceback."]
    assert_untouched(out, before)
    assert main(["build", "--config", str(handmade), "--output", str(out), "--verbose"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last):" in err
    assert err.splitlines()[-1].startswith("error: internal error (RecursionError: ")
    assert_untouched(out, before)


@pytest.mark.parametrize("style", ["block", "flow"])
def test_config_nested_500_deep_is_a_config_error_naming_the_line(
    handmade: Path, style: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The YAML composer recursed once per level: 500 levels were a RecursionError."""
    text = handmade.read_text(encoding="utf-8")
    line = text.count("\n") + 1  # `deep:` goes on this line; its mapping starts on the next
    if style == "block":
        deep = "deep:\n" + "".join(f"{'  ' * (i + 1)}k{i}:\n" for i in range(500))
    else:
        deep = "deep: " + "[" * 500 + "]" * 500 + "\n"
    handmade.write_text(text + deep, encoding="utf-8")
    assert main(["check", "--config", str(handmade)]) == 2
    # The root mapping is level 1, deep's value level 2: level 51 is k49 (block), or the 50th
    # bracket (flow, all on the line of `deep:`).
    at = line + 50 if style == "block" else line
    assert capsys.readouterr().err.splitlines() == [
        f"error: {handmade}:{at}: expected at most 50 levels of nested mappings and lists, "
        "found '51 levels'. Hint: check the indentation and the brackets; a config needs a few "
        "levels."]


def test_front_matter_nested_500_deep_is_a_config_error_naming_the_line(
    handmade: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = handmade.parent / "content"
    content.mkdir()
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(500))
    (content / "about.md").write_text(f"---\ntitle: About\n{deep}---\nBody\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["build", "--config", str(handmade), "--output", str(out)]) == 2
    # Line 1 is '---', line 2 the title; the front matter's mapping is level 1, so k49's
    # value (line 3 + 50) is level 51.
    assert capsys.readouterr().err.splitlines() == [
        "error: content/about.md:53: front matter: expected at most 50 levels of nested mappings "
        "and lists, found '51 levels'. Hint: front matter holds 'title' and 'order'.",
        "build failed: nothing was published; the previous output is untouched."]
    assert not out.exists()


SCRATCH = """
site: {title: Scratch, timezone: UTC, periods: [week]}
sources:
  - name: desk
    path: exports/*.csv
    timezone: UTC
"""


def scratch_drop(good: int, bad: int) -> str:
    """`good` valid rows then `bad` rows whose received_at needs a timestamp_format."""
    return ("id,received_at,channel\n"
            + "".join(f"g{i},2026-11-02 09:{i % 60:02d}:00,twitter\n" for i in range(good))
            + "".join(f"b{i},02/11/2026 09:{i % 60:02d},twitter\n" for i in range(bad)))


def test_a_build_whose_drop_is_mostly_rejected_exits_2_and_publishes_nothing(
    project: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project({"exports/w1.csv": scratch_drop(5, 15)}, SCRATCH)
    out = tmp_path / "out"
    assert main(["build", "--config", str(config), "--output", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert ("exports/w1.csv: rejected rows: expected at most 50% of the drop's 20 rows "
            "(site.max_rejected_share), found '15 (75%; unparseable_timestamp 15)'.") in err
    assert "Traceback" not in err
    # `check` lists the rejected rows first, then fails the same way.
    assert main(["check", "--config", str(config)]) == 2
    out_text, err = capsys.readouterr()
    assert out_text.count("rejected: exports/w1.csv, line") == 15
    assert "(site.max_rejected_share), found '15 (75%" in err


def test_check_lists_50_rejected_rows_then_counts_the_rest_by_reason_and_all_lists_every_one(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = project({"exports/w1.csv": scratch_drop(70, 60)}, SCRATCH)
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count("rejected: exports/w1.csv, line") == 50
    assert ("… and 10 more rejected rows (unparseable_timestamp 10); carecard check --all lists "
            "every one, and a build writes them all to data/rejected.csv") in out
    assert main(["check", "--config", str(config), "--all"]) == 0
    out = capsys.readouterr().out
    assert out.count("rejected: exports/w1.csv, line") == 60
    assert "more rejected rows" not in out


def test_a_strict_failure_points_to_carecard_check_not_to_an_unpublished_page(
    project: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project({"exports/w1.csv": scratch_drop(70, 30)}, SCRATCH)
    assert main(["build", "--config", str(config), "--output", str(tmp_path / "o"),
                 "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.count("expected a timestamp like") == 20
    assert ("… and 10 more rejected rows. Hint: carecard check --all lists them all; nothing "
            "was published.") in err
    assert "data-quality page" not in err
    assert main(["check", "--config", str(config), "--strict"]) == 2
    out, err = capsys.readouterr()
    assert out.count("rejected: exports/w1.csv, line") == 30
    assert "30 rejected row(s) fail the build (--strict)." in err


def test_a_build_warns_of_a_goal_on_a_metric_no_source_provides(
    project: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project({"exports/w1.csv": scratch_drop(3, 0)},
                     SCRATCH + "policy:\n  versions:\n    - valid_from: 2026-01-01\n"
                     "      goals: {resolution_rate: {min: 0.5}}\n")
    assert main(["build", "--config", str(config), "--output", str(tmp_path / "o")]) == 0
    assert ("warning: config.yaml:9: policy.versions[0].goals.resolution_rate: no source has "
            "a column for 'resolved_at', so the metric is not shown and its goal is ignored. "
            "Hint: map the column with sources[0].columns.resolved_at, or remove the goal."
            ) in capsys.readouterr().err
