"""Segments at scale and from strangers' data: bounded stable slugs, folding beyond
`site.max_segments`, and look-alike values (issue 14, items 11, 13 and 15)."""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Sequence
from pathlib import Path

from generator.build import build
from tests.sitefakes import Node, parse_html

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
