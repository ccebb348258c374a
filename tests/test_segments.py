"""Segments at scale and from strangers' data: bounded stable slugs, folding beyond
`site.max_segments`, and look-alike values (issue 14, items 11, 13 and 15)."""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from sitefakes import Node, parse_html

from generator.build import build

CONFIG = """\
site:
  title: Segments
  timezone: UTC
  periods: [week]
sources:
  - name: desk
    path: exports/*.csv
    dimensions: [team]
"""


def write_site(root: Path, teams: Sequence[str], config: str = CONFIG,
               drop: str = "w1.csv") -> Path:
    """A site whose drop has one interaction per entry of `teams` (all on one morning);
    return its config.yaml."""
    (root / "exports").mkdir(parents=True, exist_ok=True)
    with open(root / "exports" / drop, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "received_at", "channel", "team", "first_response_at"])
        for i, team in enumerate(teams):
            writer.writerow([f"{drop}-{i}", "2026-11-02 09:00:00", "twitter", team,
                             "2026-11-02 09:20:00"])
    path = root / "config.yaml"
    path.write_text(textwrap.dedent(config), encoding="utf-8")
    return path


def page(out: Path, path: str) -> Node:
    return parse_html((out / path).read_bytes())


def segment_links(out: Path, dimension: str) -> dict[str, str]:
    """Segment value -> href, from the segments index's group of `dimension`."""
    index = page(out, "segments/index.html")
    group = next(s for s in index.find_all("section")
                 if s.find("h2").text == f"By {dimension}")
    return {a.text: str(a.attrs["href"]).removeprefix("../segments/")
            for a in group.find_all("a")}


# --- item 13: slugs ----------------------------------------------------------------------------


def test_segment_file_names_are_bounded_unique_ignoring_case_and_never_move(
    tmp_path: Path,
) -> None:
    long_name = "Escalations " + "x" * 290  # 302 characters: too long for a file name
    config = write_site(tmp_path / "site", ["Orders", long_name, "Équipe", "email"])

    build(config, output=tmp_path / "one")
    before = segment_links(tmp_path / "one", "team")
    write_site(tmp_path / "site", ["orders", "ORDERS"], drop="w2.csv")
    build(config, output=tmp_path / "two")
    after = segment_links(tmp_path / "two", "team")

    assert set(after) == {"Orders", "orders", "ORDERS", long_name, "Équipe", "email"}
    # A value's URL depends on the value alone: 'orders' appearing moves no other page.
    assert {v: after[v] for v in before} == before
    names = [href.rsplit("/", 1)[-1] for href in after.values()]
    assert len({n.lower() for n in names}) == len(names)
    assert max(len(n) for n in names) <= 64
    assert after["email"] == "team/email.html" and after["orders"] == "team/orders.html"
    for value, href in after.items():
        assert page(tmp_path / "two", "segments/" + href).find("h1").text == f"Team: {value}"


# --- item 11: site.max_segments ----------------------------------------------------------------

FOLD_CONFIG = """\
site:
  title: Segments
  timezone: UTC
  periods: [week]
  history: 1
  max_segments: {default: 200, team: 2}
sources:
  - name: desk
    path: exports/*.csv
    dimensions: [team]
"""


def figures(out: Path, dimension: str, metric: str) -> dict[tuple[str, str], str]:
    """(period, segment) -> value of `metric` for `dimension`, from figures.csv."""
    with open(out / "data" / "figures.csv", encoding="utf-8", newline="") as f:
        return {(r["period"], r["segment"]): r["value"] for r in csv.DictReader(f)
                if r["dimension"] == dimension and r["metric"] == metric}


def test_values_beyond_max_segments_fold_into_other_by_volume_over_the_shown_history(
    tmp_path: Path, caplog
) -> None:
    from generator.cli import main

    root = tmp_path / "site"
    (root / "exports").mkdir(parents=True)
    rows = [("2026-10-19 09:00:00", "old", 5)] * 5  # W43: outside the shown history (1 week)
    rows += [("2026-11-02 09:00:00", "a", 20)] * 3 + [("2026-11-02 09:00:00", "b", 30)] * 2
    rows += [("2026-11-02 09:00:00", "c", 40), ("2026-11-02 09:00:00", "d", 60)]
    with open(root / "exports" / "w1.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "received_at", "channel", "team", "first_response_at"])
        for i, (received, team, minutes) in enumerate(rows):
            replied = f"{received[:11]}{9 + minutes // 60:02d}:{minutes % 60:02d}:00"
            writer.writerow([i, received, "twitter", team, replied])
    (root / "config.yaml").write_text(FOLD_CONFIG, encoding="utf-8")
    out = tmp_path / "out"

    code = main(["build", "--config", str(root / "config.yaml"), "--output", str(out)])

    assert code == 0
    assert ("site.max_segments: dimension 'team' has 5 values, more than its limit "
            "of 2: the 2 with the most interactions over the last 1 weeks are published and "
            "the other 3 (7 interactions) are folded into '(other)'. Hint: raise "
            "site.max_segments.team to publish more.") in [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    # By hand: a (3) and b (2) have the most interactions in W45; c, d and old (0 in W45, 5 in
    # W43) fold into (other): W45 volume 1 + 1, median first response of 40 and 60 minutes.
    volume = figures(out, "team", "volume")
    assert {s for _, s in volume} == {"a", "b", "(other)"}
    assert {k: float(v) for k, v in volume.items()} == {
        ("2026-W43", "a"): 0, ("2026-W43", "b"): 0, ("2026-W43", "(other)"): 5,
        ("2026-W44", "a"): 0, ("2026-W44", "b"): 0, ("2026-W44", "(other)"): 0,
        ("2026-W45", "a"): 3, ("2026-W45", "b"): 2, ("2026-W45", "(other)"): 2,
    }
    frt = figures(out, "team", "frt_median")
    assert (float(frt["2026-W45", "(other)"]), float(frt["2026-W43", "(other)"])) == (50, 5)
    assert set(figures(out, "channel", "volume")) == {
        ("2026-W43", "twitter"), ("2026-W44", "twitter"), ("2026-W45", "twitter")}
    assert segment_links(out, "team") == {"a": "team/a.html", "b": "team/b.html",
                                          "(other)": "team/other-fea5267d7f4b.html"}
    quality = page(out, "data-quality.html")
    folded = quality.find("table", "numeric")
    for table in quality.find_all("table"):
        if "folded by site.max_segments" in table.find("caption").text:
            folded = table
    assert [[c.text for c in tr.find_all("td")] for tr in folded.find("tbody").find_all("tr")] \
        == [["5", "2", "3", "7"]]


SCALE_BUILD = """\
import sys

import generator.site.drawing

# Not what is measured: drawing 5,000 matplotlib charts takes minutes (see bench/).
generator.site.drawing.draw_chart = lambda spec: b'<svg xmlns="http://www.w3.org/2000/svg"/>'
import pytest

from generator.build import build

build(sys.argv[1], output=sys.argv[2], use_cache=False)
"""
#: The address space a 5,000-segment build may take (it needs about 300 MB; before segment
#: pages stopped linking to every other one it needed several GB).
SCALE_MEMORY = 2 << 30


def build_in_bounded_memory(config: Path, out: Path) -> None:
    """Build in a child process whose address space is limited to SCALE_MEMORY."""
    import os
    import subprocess
    import sys

    def limit() -> None:
        try:
            import resource
        except ImportError:  # Windows: no limit
            return
        resource.setrlimit(resource.RLIMIT_AS, (SCALE_MEMORY, SCALE_MEMORY))

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", SCALE_BUILD, str(config), str(out)],
                          env=env, cwd=root, preexec_fn=limit, capture_output=True, text=True,
                          timeout=900)  # against a hang only
    assert done.returncode == 0, f"the build failed within {SCALE_MEMORY >> 20} MiB: " + \
        done.stderr[-2000:]


def test_5000_segments_build_in_bounded_memory_and_a_segment_page_does_not_grow(
    tmp_path: Path,
) -> None:
    config = CONFIG.replace("  periods: [week]\n", "  periods: [week]\n  max_segments: 10000\n")
    sizes = {}
    for count in (50, 5000):
        site = write_site(tmp_path / str(count), [f"team{i:05d}" for i in range(count)], config)
        out = tmp_path / f"out{count}"
        build_in_bounded_memory(site, out)
        pages = sorted((out / "segments" / "team").glob("*.html"))
        assert len(pages) == count  # 5,000 values are within max_segments: none folded
        sizes[count] = max(p.stat().st_size for p in pages)
        total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        assert total <= count * 40_000 + 2_000_000  # the site grows linearly with segments
    # A segment page links to at most 20 others and to the full list on the index.
    assert sizes[5000] <= sizes[50] + 100
    last = page(tmp_path / "out5000", "segments/team/team04999.html")
    siblings = last.find("nav", "siblings").find_all("a")
    assert len(siblings) == 21 and siblings[-1].text == "All 5,000 segments of team"
    assert siblings[-1].attrs["href"] == "../../segments/index.html#dimension-team"


# --- item 15: probable duplicates and sources[].normalize ------------------------------------

#: The same team written seven ways (one interaction each, three of 'orders', one of them with a
#: no-break space that reading already trims), and another team.
ORDERS = ["orders", "orders", "orders\u00a0", "Orders", "ord\u200bers", "\ufefforders",
          "\u202eorders", "ｏｒｄｅｒｓ", "\u043erders", "billing", "billing"]


def lookalike_rows(out: Path) -> list[tuple[str, list[str], str]]:
    """(dimension, values as shown, what differs) of each group of probable duplicates."""
    quality = page(out, "data-quality.html")
    table = quality.find("table", "lookalikes")
    return [(tr.find("th").text, [c.text for c in tr.find_all("code")][1:],
             tr.find_all("td")[1].text) for tr in table.find("tbody").find_all("tr")]


@pytest.mark.filterwarnings("ignore:Glyph")  # full-width letters in chart titles
def test_lookalike_values_are_listed_and_normalize_folds_case_space_and_width(
    tmp_path: Path,
) -> None:
    plain = write_site(tmp_path / "plain", ORDERS)
    build(plain, output=tmp_path / "one")
    folded = write_site(tmp_path / "folded", ORDERS, CONFIG.replace(
        "    dimensions: [team]\n", "    dimensions: [team]\n    normalize: [trim, casefold, nfkc]\n"))
    build(folded, output=tmp_path / "two")

    ((dimension, values, differences),) = lookalike_rows(tmp_path / "one")
    assert dimension == "team"
    assert values == ["orders", "Orders", "ord⟨U+200B⟩ers", "оrders", "⟨U+202E⟩orders",
                      "⟨U+FEFF⟩orders", "ｏｒｄｅｒｓ"]
    assert differences == ("spaces or invisible characters, case, compatibility forms, "
                           "look-alike characters")
    assert "CYRILLIC SMALL LETTER O" in page(tmp_path / "one", "data-quality.html").find(
        "table", "lookalikes").text
    # Folded: case, spaces, invisible characters and full-width letters; the Cyrillic 'о' is
    # a different letter, still listed beside 'orders'.
    volume = figures(tmp_path / "two", "team", "volume")
    assert {s: float(v) for (_, s), v in volume.items()} == {
        "orders": 8, "\u043erders": 1, "billing": 2}
    assert lookalike_rows(tmp_path / "two") == [
        ("team", ["orders", "оrders"], "look-alike characters")]
