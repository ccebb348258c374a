"""Exports written by strangers: a site built from an export whose every text field is a
payload (markup, script, event handlers, template syntax, spreadsheet formulas, URLs leaving
the site, CR, tab, control characters, bidi overrides) holds none of them as anything but text.

Every output is parsed as what it is (HTML with an HTML parser, SVG as XML, JSON, each CSV with
csv.reader); nothing here greps for escaped strings.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest
import sitefakes

from generator.build import build
from generator.site.charts import SVG_TAGS
from generator.site.viewcharts import VIEW_SVG_TAGS

# Texts of the data drawn in charts: some characters have no glyph in the chart font.
pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font:UserWarning")

ROOT = Path(__file__).resolve().parent.parent

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "javascript:alert(1)",
    "//evil.example/x",
    "/\\evil.example/x",
    "</svg><svg onload=alert(1)>",
    "]]><!--<foreignObject>",
    "&lt;b&gt;entity&amp;",
    "{{ 'pwn' ~ 'ed' }}",
    "{% raw %}{{ config }}",
    "${7*7}#{7*7}",
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "line\rbreak\nand\r\nmore",
    "tab\there,comma \"quote\"",
    "ctrl\x01\x07\x08\x0b\x0c\x1b[31mred\x7f\x85\x9b",
    "rtl \u202egnp.exe\u202c and \u2066isolate\u2069",
    "zero\u200bwidth\ufeffbom \u2028sep\u2029",
    "<style>*{display:none}</style>",
    "data:text/html,<script>alert(1)</script>",
    "$\\frac{$ and $x^{$",  # matplotlib's math syntax, broken
)
#: Template syntax that a template engine would turn into this text.
EVALUATED = "pwned"
#: Fields of the export that are free text (every other field is a valid time or number).
TEXT_FIELDS = ("Case", "Network", "Queue", "Category", "Priority")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "data", "ping",
                  "{http://www.w3.org/1999/xlink}href", "background", "cite"}
CONFIG = """\
site:
  title: Payloads
  timezone: UTC
  periods: [week]
  data_through: 2026-11-23T00:00:00+00:00
  interactions_csv: true
sources:
  - name: desk
    path: exports/w*.csv
    timezone: UTC
    columns: {id: Case, received_at: Created, first_response_at: Replied, channel: Network,
              team: Queue, category: Category, priority: Priority}
    dimensions: [team, category, priority]
policy:
  first_response:
    - {within: 60m}
  goals:
    response_rate: {min: 0.9}
    sla_attainment: {min: 0.8, tolerance: 0.1, min_n: 3}
    frt_median: {max: 30}
"""


def _field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _rows(week: int, count: int, offset: int) -> list[list[str]]:
    """`count` rows in ISO week `week` of 2026, every text field a payload; some late, some
    unanswered, so that figures are red and drill-through lists exist."""
    rows = []
    for i in range(count):
        k = i + offset
        day = 2 + (week - 45) * 7 + i % 5
        received = f"2026-11-{day:02d} {9 + i % 8:02d}:00:00"
        minutes = (10, 45, 90, 200)[i % 4]
        replied = "" if i % 5 == 4 else (
            f"2026-11-{day:02d} {9 + i % 8 + minutes // 60:02d}:{minutes % 60:02d}:00")
        texts = [PAYLOADS[(k + j * 7) % len(PAYLOADS)] for j in range(len(TEXT_FIELDS))]
        texts[0] = f"{texts[0]}#{k}"  # ids unique within the drop
        rows.append([texts[0], received, replied, *texts[1:]])
    return rows


def payload_site(tmp_path: Path) -> Path:
    """Two weekly drops (the second restating the first week) and rows whose received_at is a
    payload (rejected, quoted in messages); the config.yaml path."""
    site = tmp_path / "site"
    (site / "exports").mkdir(parents=True)
    header = ["Case", "Created", "Replied", "Network", "Queue", "Category", "Priority"]
    first = _rows(45, 30, 0)
    second = _rows(45, 5, 0) + _rows(46, 30, 100)
    for row in second[:5]:  # a later reply in the newer drop: week 45's figures change
        row[2] = row[1].replace(":00:00", ":05:00")
    rejected = [[f"r{i}", payload, "", payload, payload, payload, payload]
                for i, payload in enumerate(PAYLOADS[:4])]
    for name, rows in (("w1.csv", first), ("w2.csv", second + rejected)):
        lines = [",".join(header)] + [",".join(_field(v) for v in row) for row in rows]
        (site / "exports" / name).write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    (site / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return site / "config.yaml"


def expected_csv_text(value: str) -> str:
    """What a text cell holding `value` reads back as (SPEC §7: the formula prefix)."""
    if value.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def theme_tags() -> set[str]:
    """Every element name the default theme's templates can write, and the charts' SVG."""
    tags: set[str] = set(SVG_TAGS) | VIEW_SVG_TAGS
    for template in (ROOT / "templates").glob("*.html"):
        tags |= {t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9-]*)",
                                               template.read_text(encoding="utf-8"))}
    return tags


def browser_url(value: str) -> str:
    """A URL as a browser reads it (outer controls stripped, tabs and newlines removed,
    backslashes as slashes)."""
    stripped = value.strip("".join(map(chr, range(33))))
    return re.sub(r"[\t\n\r]", "", stripped).replace("\\", "/")


def assert_url_stays_in_site(out: Path, page: str, url: str) -> None:
    seen = browser_url(url)
    assert not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", seen), (page, url)
    assert not seen.startswith(("/", "\\")), (page, url)
    path = unquote(urlsplit(seen).path)
    if not path:
        return  # a fragment of the same page
    target = PurePosixPath(page).parent / path
    parts: list[str] = []
    for part in target.parts:
        if part == "..":
            assert parts, (page, url)  # never above the site root
            parts.pop()
        elif part != ".":
            parts.append(part)
    assert (out.joinpath(*parts)).exists(), (page, url)


def walk_html(node: sitefakes.Node) -> list[sitefakes.Node]:
    found = [node]
    for child in node.children:
        if not isinstance(child, str):
            found.extend(walk_html(child))
    return found


def text_of(node: sitefakes.Node) -> str:
    return "".join(c if isinstance(c, str) else text_of(c) for c in node.children)


@pytest.fixture(scope="module")
def payload_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("payloads")
    config = payload_site(tmp_path)
    build(config, output=tmp_path / "out", use_cache=False)
    return tmp_path / "out"


def test_no_payload_survives_as_markup_script_handler_or_url_in_any_page(
    payload_build: Path,
) -> None:
    out = payload_build
    allowed = theme_tags()
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 20
    texts = []
    for path in pages:
        page = path.relative_to(out).as_posix()
        doc = sitefakes.parse_html(path.read_bytes())
        for node in walk_html(doc)[1:]:
            assert node.tag in allowed, (page, node.tag)
            assert node.tag not in ("script", "style", "iframe", "object", "embed", "base",
                                    "form", "meta") or node.tag == "meta" and set(
                                        node.attrs) <= {"charset", "name", "content"}, (page,)
            for name, value in node.attrs.items():
                assert not name.startswith("on"), (page, node.tag, name)
                assert name != "style", (page, node.tag)  # the theme styles by class only
                if name in URL_ATTRIBUTES and value is not None:
                    assert_url_stays_in_site(out, page, value)
        texts.append(text_of(doc))
    text = "\n".join(texts)
    assert EVALUATED not in text
    # The payloads are there, as text (escaped, not dropped).
    for payload in ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
                    "{{ 'pwn' ~ 'ed' }}", "</svg><svg onload=alert(1)>"):
        assert payload in text, payload


def test_no_payload_survives_in_any_chart_svg_in_a_page(payload_build: Path) -> None:
    """The charts are inline SVG in the segment pages (parsed as HTML, the way a browser
    reads them there)."""
    charts = 0
    for path in sorted(payload_build.rglob("segments/*/*.html")):
        page = path.relative_to(payload_build).as_posix()
        for panel in sitefakes.parse_html(path.read_bytes()).find_all("figure", "chart-panel"):
            charts += 1
            for node in walk_html(panel.find("svg")):
                assert node.tag in SVG_TAGS, (page, node.tag)
                for name, value in node.attrs.items():
                    assert not name.startswith("on") and name != "style", (page, name)
                    if name == "xlink:href" or name in URL_ATTRIBUTES:
                        assert (value or "").startswith("#"), (page, name, value)
    assert charts > 5


def test_no_payload_survives_in_the_heatmaps_and_bracket_charts(payload_build: Path) -> None:
    """The hour-of-week pages and the segment pages' bracket charts hold inline SVG of shapes
    with titles (the segment's name is in the aria-label): nothing else."""
    svgs = 0
    pages = sorted(payload_build.rglob("hours/*/*.html")) + sorted(
        payload_build.rglob("segments/*/*.html"))
    assert len(pages) > 10
    for path in pages:
        page = path.relative_to(payload_build).as_posix()
        for svg in sitefakes.parse_html(path.read_bytes()).find_all("svg"):
            if not {"heatmap-svg", "brackets-svg"} & set((svg.attrs.get("class") or "").split()):
                continue
            svgs += 1
            for node in walk_html(svg):
                assert node.tag in VIEW_SVG_TAGS, (page, node.tag)
                for name in node.attrs:
                    assert not name.startswith("on") and name != "style", (page, name)
                    assert name not in URL_ATTRIBUTES and "href" not in name, (page, name)
    assert svgs > 10


def test_the_digest_shows_the_payloads_as_text_in_at_most_15_lines(payload_build: Path) -> None:
    """data/digest.md rendered as CommonMark (GitHub's job summary, Teams): no element but the
    digest's own, no link, no image, no raw HTML; the payloads are there as text."""
    from markdown_it import MarkdownIt

    text = (payload_build / "data" / "digest.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 15
    renderer = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    doc = sitefakes.parse_html(renderer.render(text).encode("utf-8"))
    nodes = walk_html(doc)[1:]
    assert {node.tag for node in nodes} <= {"h3", "p", "ul", "li", "strong"}
    assert all(not node.attrs for node in nodes)
    shown = text_of(doc)
    assert EVALUATED not in shown
    segments = {p for p in PAYLOADS if f"category {p} " in shown}
    assert {"<script>alert(1)</script>", "</svg><svg onload=alert(1)>", "-2+3",
            "//evil.example/x"} <= segments
    assert "exports/w2.csv" in shown  # the restating drop


def test_no_payload_survives_in_any_svg(payload_build: Path) -> None:
    svgs = sorted(payload_build.rglob("*.svg"))
    assert svgs  # the status badge; the charts are in their pages (tested above)
    for path in svgs:
        name = path.relative_to(payload_build).as_posix()
        root = ElementTree.fromstring(path.read_bytes())  # well-formed XML, whatever the text
        for element in root.iter():
            local = element.tag.rsplit("}", 1)[-1]
            assert local not in ("script", "foreignObject", "iframe", "image", "a"), (name, local)
            for attribute, value in element.attrib.items():
                assert not attribute.rsplit("}", 1)[-1].startswith("on"), (name, attribute)
                if attribute in URL_ATTRIBUTES:
                    assert value.startswith("#"), (name, attribute, value)
        assert EVALUATED not in "".join(root.itertext())


def test_json_holds_the_payloads_as_plain_text(payload_build: Path) -> None:
    figures = json.loads((payload_build / "data" / "figures.json").read_bytes())
    summary = json.loads((payload_build / "data" / "summary.json").read_bytes())
    assert summary["tool"] == "carecard"
    teams = {row["segment"] for row in figures if row["dimension"] == "team"}
    assert {"<script>alert(1)</script>", '=HYPERLINK("http://evil.example","x")',
            "line\rbreak\nand\r\nmore"} <= teams
    assert teams <= set(PAYLOADS)  # as sent: the formula prefix is for CSV only
    assert EVALUATED not in json.dumps(figures) + json.dumps(summary)


def test_every_csv_round_trips_with_no_formula_whatever_the_text(payload_build: Path) -> None:
    out = payload_build
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.csv"))
    assert {"data/figures.csv", "data/rejected.csv", "data/restatements.csv",
            "data/interactions.csv"} <= set(names)
    assert any(n.startswith("drill/") for n in names)
    tables = {}
    for name in names:
        text = (out / name).read_bytes().decode("utf-8")
        header, *rows = list(csv.reader(io.StringIO(text, newline="")))
        assert all(len(row) == len(header) for row in rows), name
        for row in rows:
            for cell in row:
                assert not (cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell)), \
                    (name, cell)
        tables[name] = [dict(zip(header, row)) for row in rows]
    # Round trip: the values read back are the export's (with the formula prefix).
    figures = json.loads((out / "data" / "figures.json").read_bytes())
    from_json = [(r["dimension"], r["segment"], r["metric"], r["period"]) for r in figures]
    from_csv = [(r["dimension"], r["segment"], r["metric"], r["period"])
                for r in tables["data/figures.csv"]]
    assert from_csv == [(expected_csv_text(d), expected_csv_text(s), m, p)
                        for d, s, m, p in from_json]
    ids = {r["id"] for r in tables["data/interactions.csv"]}
    sent = {row[0] for row in _rows(45, 30, 0) + _rows(46, 30, 100)}
    assert ids == {expected_csv_text(i) for i in sent}
    for name in names:
        if name.startswith("drill/"):
            assert {r["id"] for r in tables[name]} <= ids, name
