"""The build cache: nothing changed → nothing done; deleted or corrupt cache → same output."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from generator.build import build
from generator.cache import CACHE_FORMAT

HANDMADE = Path(__file__).resolve().parent / "projects" / "handmade"


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(HANDMADE, tmp_path / "site")
    return tmp_path / "site" / "config.yaml"


def test_second_build_with_no_changes_does_nothing_and_keeps_the_bytes(site: Path) -> None:
    first = build(site)
    assert (first.skipped, first.drops_parsed, first.drops_from_cache) == (False, 2, 0)
    assert first.charts_drawn == first.charts > 0 and first.charts_from_cache == 0
    before = digest(site.parent / "output")
    second = build(site)
    assert second.skipped and second.pages == first.pages
    assert digest(site.parent / "output") == before


def test_rebuild_after_losing_the_build_record_reuses_parsed_drops_and_charts(site: Path) -> None:
    build(site)
    before = digest(site.parent / "output")
    (site.parent / ".carecard-cache" / f"last-build-{CACHE_FORMAT}.json").unlink()
    again = build(site)
    assert not again.skipped
    assert (again.drops_parsed, again.drops_from_cache) == (0, 2)
    assert (again.charts_drawn, again.charts_from_cache) == (0, again.charts)
    assert digest(site.parent / "output") == before


def test_a_changed_output_folder_is_rebuilt(site: Path) -> None:
    build(site)
    before = digest(site.parent / "output")
    (site.parent / "output" / "index.html").write_text("tampered", encoding="utf-8")
    assert not build(site).skipped
    assert digest(site.parent / "output") == before


def test_deleting_the_cache_gives_the_same_output(site: Path) -> None:
    build(site)
    before = digest(site.parent / "output")
    shutil.rmtree(site.parent / ".carecard-cache")
    result = build(site)
    assert result.drops_parsed == 2 and digest(site.parent / "output") == before


def test_corrupt_cache_entries_are_rebuilt_with_a_warning(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    build(site)
    before = digest(site.parent / "output")
    cache = site.parent / ".carecard-cache"
    entries = [e for pattern in ("*.parquet", "charts/*.html", "drill/*.csv")
               for e in cache.rglob(pattern)]
    assert {e.suffix for e in entries} == {".parquet", ".html", ".csv"}
    for entry in entries:
        entry.write_bytes(b"garbage")
    (cache / f"last-build-{CACHE_FORMAT}.json").write_bytes(b"{not json")
    result = build(site)
    assert not result.skipped
    assert result.drops_parsed == 2 and result.charts_drawn == result.charts
    assert digest(site.parent / "output") == before
    assert any("corrupt" in r.getMessage() for r in caplog.records)


def test_a_new_drop_parses_only_that_drop(site: Path) -> None:
    build(site)
    extra = "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
    extra += "v1,2026-11-12 09:00:00,2026-11-12 09:05:00,,twitter,billing,normal,q,,Yes\n"
    (site.parent / "exports" / "w3.csv").write_text(extra, encoding="utf-8")
    result = build(site)
    assert (result.drops_parsed, result.drops_from_cache) == (1, 2)


def test_after_a_new_drop_unchanged_drill_lists_come_from_the_cache(
    site: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A drop with a late reply in one week: that week's lists are written again, the others
    come from the cache, and the site is the one a build without a cache makes."""
    build(site)
    extra = "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
    extra += "v1,2026-11-12 09:00:00,2026-11-12 11:05:00,,twitter,billing,normal,q,,Yes\n"
    (site.parent / "exports" / "w3.csv").write_text(extra, encoding="utf-8")
    caplog.set_level("INFO", logger="generator.figures.drill")
    caplog.clear()
    build(site)
    [line] = [r.getMessage() for r in caplog.records if "drill-through lists:" in r.getMessage()]
    written, cached = map(int, re.findall(r"\d+", line))
    assert written >= 1 and cached >= 1, line
    build(site, output=tmp_path / "fresh", use_cache=False)
    assert digest(site.parent / "output") == digest(tmp_path / "fresh")


def test_strict_is_not_skipped_after_a_lenient_build(site: Path) -> None:
    from generator.errors import DataError

    build(site)  # the handmade fixture has one rejected row
    with pytest.raises(DataError, match="fail the build"):
        build(site, strict=True)


MESSAGES_CONFIG = """
site: {title: Messages, timezone: UTC, periods: [week]}
sources:
  - name: twitter
    path: exports/*.csv
    shape: messages
    columns:
      message_id: tweet_id
      author: author_id
      in_reply_to: in_response_to_tweet_id
      response_ids: response_tweet_id
"""
MESSAGES_HEADER = (
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
)


def test_message_drops_are_cached_too(tmp_path: Path) -> None:
    """Message-level drops (e.g. Twitter threads) are parsed once: a new drop parses only it."""
    root = tmp_path / "site"
    (root / "exports").mkdir(parents=True)
    (root / "config.yaml").write_text(MESSAGES_CONFIG, encoding="utf-8")
    week1 = MESSAGES_HEADER + (
        "1,cust,True,2026-11-02 09:00:00,help please,2,\n"
        "2,brand,False,2026-11-02 09:30:00,on it,,1\n"
    )
    (root / "exports" / "w1.csv").write_text(week1, encoding="utf-8")
    first = build(root / "config.yaml")
    assert (first.drops_parsed, first.drops_from_cache) == (1, 0)
    week2 = MESSAGES_HEADER + "3,cust2,True,2026-11-09 10:00:00,still waiting,,\n"
    (root / "exports" / "w2.csv").write_text(week2, encoding="utf-8")
    second = build(root / "config.yaml")
    assert (second.drops_parsed, second.drops_from_cache) == (1, 1)
    after_cache = digest(root / "output")
    shutil.rmtree(root / ".carecard-cache")
    third = build(root / "config.yaml")
    assert (third.drops_parsed, third.drops_from_cache) == (2, 0)
    assert digest(root / "output") == after_cache


def test_reading_in_small_batches_gives_the_same_site(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drops are mapped in batches to bound the engine's memory; one drop per batch (and a mix
    of cached and read drops) must give the very same bytes as one batch."""
    import generator.ingest.sources

    build(site, output=tmp_path / "one-batch", use_cache=False)
    monkeypatch.setattr(generator.ingest.sources, "BATCH_BYTES", 1)
    build(site, output=tmp_path / "per-drop", use_cache=False)
    assert digest(tmp_path / "per-drop") == digest(tmp_path / "one-batch")
    extra = "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
    extra += "v1,2026-11-12 09:00:00,2026-11-12 09:05:00,,twitter,billing,normal,q,,Yes\n"
    build(site, output=tmp_path / "cached")
    (site.parent / "exports" / "w0.csv").write_text(extra, encoding="utf-8")  # read, then cached
    mixed = build(site, output=tmp_path / "cached")
    assert (mixed.drops_parsed, mixed.drops_from_cache) == (1, 2)
    monkeypatch.setattr(generator.ingest.sources, "BATCH_BYTES", 1 << 30)
    fresh = build(site, output=tmp_path / "fresh", use_cache=False)
    assert fresh.drops_parsed == 3
    assert digest(tmp_path / "cached") == digest(tmp_path / "fresh")


def test_two_drops_with_the_same_bytes_are_each_read_once_from_the_cache(site: Path) -> None:
    """Identical drops share one cache entry; each still counts its own rows, once."""
    exports = site.parent / "exports"
    shutil.copyfile(exports / "w1.csv", exports / "w3.csv")
    without = build(site, output=site.parent / "plain", use_cache=False)
    cold = build(site)
    assert cold.rows_read == without.rows_read
    assert digest(site.parent / "output") == digest(site.parent / "plain")
    (site.parent / ".carecard-cache" / f"last-build-{CACHE_FORMAT}.json").unlink()
    warm = build(site)
    assert (warm.drops_parsed, warm.drops_from_cache) == (0, 3)
    assert digest(site.parent / "output") == digest(site.parent / "plain")


