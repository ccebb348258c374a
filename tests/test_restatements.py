"""Restatements: the newest drop changes a complete period's figures (SPEC §6.6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from generator.build import build, check

# max_future: the newest drop holds a case of 3 Nov and one of 10 Nov, which by the default
# (2 days) would make the later one implausible.
CONFIG = """
site: {title: R, timezone: UTC, periods: [week]}
sources:
  - {name: desk, path: exports/*.csv, timezone: UTC, max_future: 14d}
"""
HEADER = "id,received_at,first_response_at,channel\n"
W45 = HEADER + (
    "a,2026-11-02 10:00:00,2026-11-02 10:30:00,twitter\n"
    "b,2026-11-03 10:00:00,,twitter\n"
    "c,2026-11-04 10:00:00,,twitter\n"
    "d,2026-11-05 10:00:00,2026-11-05 10:10:00,twitter\n"
)
# The next drop re-exports b with a late reply and brings a new week.
W46 = HEADER + (
    "b,2026-11-03 10:00:00,2026-11-03 12:00:00,twitter\n"
    "e,2026-11-10 10:00:00,2026-11-10 10:05:00,twitter\n"
)


def test_late_replies_in_the_newest_drop_are_reported_with_old_and_new_values(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    config = project({"exports/w45.csv": W45}, CONFIG)
    assert check(config).quality.restatements == ()  # one drop: nothing to compare with
    (config.parent / "exports" / "w46.csv").write_text(W46, encoding="utf-8")
    quality = check(config).quality
    assert quality.newest_drops == ("exports/w46.csv",)
    changed = {(r.period, r.segment, r.metric): r for r in quality.restatements}
    rate = changed[("2026-W45", "all", "response_rate")]
    assert (rate.old_value, rate.new_value, rate.old_n, rate.new_n) == (0.5, 0.75, 4, 4)
    backlog = changed[("2026-W45", "all", "backlog")]
    assert (backlog.old_value, backlog.new_value) == (2, 1)
    # Mean first response: old (30 + 10) / 2 = 20; new (30 + 120 + 10) / 3 = 53.33…
    mean = changed[("2026-W45", "all", "frt_mean")]
    assert mean.old_value == 20 and mean.new_value is not None
    assert round(mean.new_value, 6) == round(160 / 3, 6)
    # W46 is new (and partial), so it is never a restatement.
    assert not any(r.period == "2026-W46" for r in quality.restatements)
    assert all(r.period == "2026-W45" for r in quality.restatements)


def test_restatements_are_deterministic_across_builds(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    config = project({"exports/w45.csv": W45, "exports/w46.csv": W46}, CONFIG)
    build(config, output=tmp_path / "a")
    build(config, output=tmp_path / "b")
    page_a = (tmp_path / "a" / "data-quality.html").read_bytes()
    assert page_a == (tmp_path / "b" / "data-quality.html").read_bytes()


def test_recomputing_only_affected_periods_equals_a_full_second_pass(
    project: Callable[..., Path], monkeypatch
) -> None:
    import generator.figures.restate as restate

    # Two months and two weeks; the newest drop re-exports rows of both old weeks (one gains a
    # reply, one is rejected and must not replace), adds a new interaction, and moves
    # data-through so that an old unanswered item becomes overdue.
    w44 = HEADER + (
        "a,2026-10-27 10:00:00,2026-10-27 10:20:00,twitter\n"
        "b,2026-10-30 23:30:00,,email\n"
    )
    w45 = HEADER + (
        "c,2026-11-02 10:00:00,,twitter\n"
        "d,2026-11-03 10:00:00,2026-11-03 10:05:00,twitter\n"
    )
    w46 = HEADER + (
        "b,2026-10-30 23:30:00,2026-10-31 02:00:00,email\n"
        "c,2026-11-02 10:00:00,2026-11-01 10:00:00,twitter\n"
        "e,2026-11-10 10:00:00,2026-11-10 10:05:00,twitter\n"
    )
    config = project(
        {"exports/w44.csv": w44, "exports/w45.csv": w45, "exports/w46.csv": w46},
        CONFIG.replace("periods: [week]", "periods: [week, month]"),
    )
    fast = check(config).quality.restatements
    monkeypatch.setattr(
        restate, "compute_restatements",
        lambda con, cfg, staged, quality: restate._by_full_recompute(con, cfg, staged, quality),
    )
    # The full pass validates the staged drops again: keep them, as for message-level sources.
    import generator.ingest.sources

    monkeypatch.setattr(generator.ingest.sources, "release_staged", lambda con, staged: False)
    full = check(config).quality.restatements
    assert fast == full
    assert {(r.granularity, r.period) for r in fast} >= {("week", "2026-W44"), ("month", "2026-10")}
