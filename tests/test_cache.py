"""The build cache: nothing changed → nothing done; deleted or corrupt cache → same output."""

from __future__ import annotations

import hashlib
import os
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
    entries = [e for pattern in ("*.parquet", "*.svg") for e in cache.rglob(pattern)]
    for kind in ("drill", "drill-rows"):  # where the drill lists and their table rows are
        entries.append(cache / f"files-{kind}-{CACHE_FORMAT}.json")
        assert entries[-1].is_file()
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
    are linked from the last output, and the site is the one a build without a cache makes."""
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


def test_an_edited_drill_list_never_reaches_the_next_site(site: Path, tmp_path: Path) -> None:
    """A published drill-through list edited in place, its size and modification time kept
    (as `touch -r` or `rsync -t` would), is written again, not linked (found in review)."""
    build(site)
    out = site.parent / "output"
    [listed, *_] = sorted(out.glob("drill/**/*.csv"))
    stat = listed.stat()
    data = bytearray(listed.read_bytes())
    data[-2] = ord("X") if data[-2] != ord("X") else ord("Y")  # same size
    listed.write_bytes(bytes(data))
    os.utime(listed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (site.parent / "content").mkdir(exist_ok=True)
    (site.parent / "content" / "about.md").write_text("---\ntitle: About\n---\nHi.\n")
    build(site)  # a content change: rebuilt, the unchanged lists linked
    build(site, output=tmp_path / "fresh", use_cache=False)
    assert digest(out) == digest(tmp_path / "fresh")


def test_sites_built_into_two_folders_share_no_file(site: Path, tmp_path: Path) -> None:
    """Lists the last build published into another folder are copied, not linked: an edit
    of one site must never show in the other (review)."""
    build(site)
    build(site, output=tmp_path / "elsewhere")
    lists = sorted((tmp_path / "elsewhere").glob("drill/**/*.csv"))
    assert lists and all(p.stat().st_nlink == 1 for p in lists)
    assert digest(tmp_path / "elsewhere") == digest(site.parent / "output")
    build(site)  # and back: still the same bytes
    assert digest(tmp_path / "elsewhere") == digest(site.parent / "output")


def rendered_tables(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A list that gains an item each time the rows of a drill-through table are rendered."""
    import generator.site.render

    calls: list[str] = []
    render_rows = generator.site.render._with_rows_html

    def counted(env: object, context: object) -> object:
        calls.append("rendered")
        return render_rows(env, context)  # type: ignore[arg-type]

    monkeypatch.setattr(generator.site.render, "_with_rows_html", counted)
    return calls


def test_unchanged_drill_tables_are_not_rendered_again(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendered rows of a drill-through table are found again in the page the last build
    published, by its list's rows: after a new drop only the changed lists are rendered, and
    the pages are those of a build without a cache."""
    calls = rendered_tables(monkeypatch)
    first = build(site)
    drill_pages = sum(1 for _ in (site.parent / "output").glob("drill/**/*.html"))
    assert len(calls) == drill_pages > 1
    assert (site.parent / ".carecard-cache" / f"files-drill-rows-{CACHE_FORMAT}.json").is_file()
    calls.clear()
    extra = "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
    extra += "v1,2026-11-12 09:00:00,2026-11-12 11:05:00,,twitter,billing,normal,q,,Yes\n"
    (site.parent / "exports" / "w3.csv").write_text(extra, encoding="utf-8")
    build(site)
    assert 1 <= len(calls) < drill_pages and first.pages > 0
    build(site, output=tmp_path / "fresh", use_cache=False)
    assert digest(site.parent / "output") == digest(tmp_path / "fresh")


@pytest.mark.parametrize("edited", [False, True])
def test_a_site_restored_elsewhere_with_its_cache_reuses_unchanged_lists_by_their_bytes(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, edited: bool,
) -> None:
    """CI restores output/ and the cache into a new checkout: every file has a new inode, and
    the first checkout may be gone. The lists and table rows of the last build are then
    recognised by their bytes (SHA-256) at their place in the output folder; an edited one is
    not, and is written again. Either way the site is that of a build without a cache."""
    calls = rendered_tables(monkeypatch)
    build(site)
    restored = tmp_path / "restored"
    shutil.copytree(site.parent, restored)  # new inodes, as a CI cache restores them
    shutil.rmtree(site.parent)
    output = restored / "output"
    drill_pages = sorted(output.glob("drill/**/*.html"))
    if edited:  # same sizes, other bytes: nothing may be taken from these files
        for path in [*output.glob("drill/**/*.csv"), *drill_pages]:
            data = path.read_bytes()
            path.write_bytes(data[:1].swapcase() + data[1:].replace(b"<td", b"<TD"))
    extra = "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
    extra += "v1,2026-11-12 09:00:00,2026-11-12 11:05:00,,twitter,billing,normal,q,,Yes\n"
    (restored / "exports" / "w3.csv").write_text(extra, encoding="utf-8")
    calls.clear()
    caplog.set_level("INFO", logger="generator.figures.drill")
    caplog.clear()
    build(restored / site.name)
    reused = [int(m.group(1)) for r in caplog.records
              if (m := re.search(r"(\d+) as the last build published them", r.getMessage()))]
    if edited:
        assert reused == [0] and len(calls) == len(list(output.glob("drill/**/*.html")))
    else:
        assert reused and reused[0] > 0 and 1 <= len(calls) < len(drill_pages)
    build(restored / site.name, output=tmp_path / "fresh", use_cache=False)
    assert digest(output) == digest(tmp_path / "fresh")


def test_a_drill_template_that_extends_the_theme_still_gets_every_row(
    site: Path, tmp_path: Path
) -> None:
    """An override that keeps the theme's table (so its rows are found in the page) and also
    uses `rows`: a rebuild must not hand it an empty `rows` (review)."""
    theme = site.parent / "templates"
    theme.mkdir()
    (theme / "drill.html").write_text(
        '{% extends "theme/drill.html" %}{% block content %}{{ super() }}'
        "<p>{{ rows|length }} rows</p>{% endblock %}\n", encoding="utf-8")
    text = site.read_text(encoding="utf-8")
    site.write_text(text.replace("site:\n", "site:\n  templates: templates\n", 1),
                    encoding="utf-8")
    build(site)
    (site.parent / "content").mkdir(exist_ok=True)
    (site.parent / "content" / "about.md").write_text("---\ntitle: About\n---\nHi.\n")
    build(site)
    build(site, output=tmp_path / "fresh", use_cache=False)
    assert digest(site.parent / "output") == digest(tmp_path / "fresh")


def test_a_page_replaced_after_its_check_lends_no_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page another build swapped in by name after the record was read must not lend the
    bytes at the recorded offset: the page is checked on the open file (review)."""
    from generator.cache import Cache
    from generator.site.render import RenderedRows

    cache = Cache(tmp_path / "cache")
    rows = RenderedRows(cache, None)
    page = b"<html><tbody><tr>one</tr></tbody></html>"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "p.html").write_bytes(page)
    rows.place("d1", "p.html", page, "<tbody><tr>one</tr></tbody>")
    rows.remember(tmp_path / "out")
    assert RenderedRows(Cache(cache.folder), None).load("d1") == "<tbody><tr>one</tr></tbody>"
    opened = Cache.open_recalled

    def swap_then_open(self: Cache, kind: str, key: str, output: Path | None = None) -> object:
        new = tmp_path / "out" / "p.new"
        new.write_bytes(b"<html><tbody><tr>two</tr></tbody></html>")
        new.replace(tmp_path / "out" / "p.html")
        return opened(self, kind, key, output)

    monkeypatch.setattr(Cache, "open_recalled", swap_then_open)
    assert RenderedRows(Cache(cache.folder), None).load("d1") is None


def test_rows_of_an_edited_drill_page_are_rendered_again(site: Path, tmp_path: Path) -> None:
    """A published drill-through page edited in place, its size and modification time kept,
    does not lend its table rows to the next build (review)."""
    build(site)
    out = site.parent / "output"
    for page in sorted(out.glob("drill/**/*.html")):
        stat = page.stat()
        text = page.read_bytes()
        page.write_bytes(text.replace(b"<tbody>", b"<tb0dy>"))  # same size
        os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (site.parent / "content").mkdir(exist_ok=True)
    (site.parent / "content" / "about.md").write_text("---\ntitle: About\n---\nHi.\n")
    build(site)
    build(site, output=tmp_path / "fresh", use_cache=False)
    assert digest(out) == digest(tmp_path / "fresh")


def test_a_recorded_piece_is_looked_for_inside_the_output_folder_only(tmp_path: Path) -> None:
    """A record's place in the output folder cannot lead out of it (a corrupt or hand-made
    cache): the piece is not taken from there, even with the recorded bytes."""
    import json

    from generator.cache import Cache, Piece

    cache = Cache(tmp_path / "cache")
    (tmp_path / "out").mkdir()
    (tmp_path / "outside.csv").write_bytes(b"a,b\n")
    (tmp_path / "out" / "list.csv").write_bytes(b"a,b\n")
    cache.remember_files("x", {"k": Piece(tmp_path / "out" / "list.csv")}, tmp_path / "out")
    record = tmp_path / "cache" / f"files-x-{CACHE_FORMAT}.json"
    entries = json.loads(record.read_bytes().split(b"\n", 1)[1])
    assert entries["k"]["site"] == "list.csv"
    (tmp_path / "out" / "list.csv").unlink()
    (tmp_path / "moved").mkdir()
    (tmp_path / "moved" / "list.csv").write_bytes(b"a,b\n")
    found = Cache(cache.folder).open_recalled("x", "k", tmp_path / "moved")
    assert found is not None and found.stream.read() == b"a,b\n"
    found.stream.close()
    entries["k"]["site"] = "../outside.csv"
    cache.store_bytes(".", f"files-x-{CACHE_FORMAT}", ".json", json.dumps(entries).encode())
    assert Cache(cache.folder).open_recalled("x", "k", tmp_path / "moved") is None
    entries["k"]["id"] = None  # a record no build writes: not a crash, not taken
    cache.store_bytes(".", f"files-x-{CACHE_FORMAT}", ".json", json.dumps(entries).encode())
    assert Cache(cache.folder).open_recalled("x", "k", tmp_path / "moved") is None
