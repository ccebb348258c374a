"""What only a browser shows, in Debian's Chromium driven by Playwright: the example site's pages
in light and dark schemes at 375 and 1280 px have no serious accessibility violation (axe-core),
no sideways scroll on a phone, no console error, no request leaving the site, and chart text of
at least 11 CSS px; printed to A4, no table or chart is cut at the page's edge.

Playwright never downloads a browser here: it drives the system's Chromium (`apt-get install
chromium`). Without it these tests are skipped, or fail when CARECARD_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import missing_tool

pytestmark = pytest.mark.slow

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
PAGES = (
    "index.html",
    "periods/week/2026-W47.html",
    "segments/channel/twitter.html",
    "definitions.html",
    "data-quality.html",
    "drill/week/2026-W47/all/all.html",
    "hours/channel/twitter.html",
    "league.html",
    "people.html",
)
#: The page only a site with site.privacy.people has (see `people_site`).
PEOPLE_PAGE = "people.html"
SCHEMES = ("light", "dark")
WIDTHS = (375, 1280)
#: The smallest chart text allowed, in CSS px (SPEC §6, issue 16).
MIN_CHART_TEXT_PX = 11.0
#: A4 less the print margins of carecard.css (12 mm each side), in CSS px (96 per inch).
A4_PORTRAIT_PX = (210 - 24) / 25.4 * 96
A4_LANDSCAPE_PX = (297 - 24) / 25.4 * 96


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        missing_tool("Chromium is not installed (apt-get install chromium)")
    return str(found)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, closed (with every process it started) at the end."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_tool("Playwright is not installed (pip install '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--disable-gpu", "--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Visit:
    """A page opened in a fresh browser context, with what it logged and requested."""

    page: Any
    console: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def people_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example site with people views (site.privacy.people) of its teams, a few of whose
    figures rest on too few interactions: its output folder."""
    from conftest import REPO

    from generator.build import build

    root = tmp_path_factory.mktemp("people")
    shutil.copytree(REPO / "content", root / "content")
    config = (REPO / "config.yaml").read_text(encoding="utf-8").replace(
        "  history: 13", "  history: 13\n  privacy: {people: {dimension: team, min_n: 80}}", 1)
    assert "people:" in config
    (root / "config.yaml").write_text(config, encoding="utf-8")
    build(root / "config.yaml", output=root / "out", use_cache=False)
    page = (root / "out" / PEOPLE_PAGE).read_text(encoding="utf-8")
    assert "too few" in page and "off goal" in page  # withheld figures beside shown ones
    return root / "out"


@pytest.fixture
def visit(
    browser: Any, example_site: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """Open a page of the example site (of `people_site`, built when first asked for, for
    people.html) at a width and colour scheme."""
    contexts = []

    def open_page(path: str, scheme: str = "light", width: int = 1280) -> Visit:
        site = request.getfixturevalue("people_site") if path == PEOPLE_PAGE else example_site
        root = site.as_uri() + "/"
        context = browser.new_context(viewport={"width": width, "height": 900},
                                      color_scheme=scheme)
        contexts.append(context)
        seen = Visit(context.new_page())

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith(root):
                request_route.continue_()
            else:  # anything else leaves the site: record it and stop it
                seen.outside.append(url)
                request_route.abort()

        context.route("**/*", route)
        seen.page.on("console", lambda m: seen.console.append(m.text) if m.type == "error"
                     else None)
        seen.page.on("pageerror", lambda e: seen.console.append(str(e)))
        seen.page.goto(root + path, wait_until="load")
        return seen

    yield open_page
    for context in contexts:
        context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    return list(page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }"""))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_serious_accessibility_violation(visit, path, scheme, width):
    seen = visit(path, scheme, width)
    serious = [v for v in axe_violations(seen.page) if v["impact"] in ("serious", "critical")]
    assert not serious, serious


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", PAGES)
def test_page_logs_no_console_error_and_requests_nothing_outside_the_site(
    visit, path, scheme, width,
):
    seen = visit(path, scheme, width)
    seen.page.wait_for_load_state("networkidle")
    assert not seen.console
    assert not seen.outside


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", PAGES)
def test_page_does_not_scroll_sideways_on_a_phone(visit, path, scheme):
    """Wide tables scroll inside their own focusable region (or stack); the page never does."""
    page = visit(path, scheme, 375).page
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    overflowing = page.evaluate("""() => [...document.querySelectorAll('main *')]
        .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > 375.5)
        .map(e => e.tagName + '.' + e.className).slice(0, 5)""")
    assert not overflowing
    regions = page.evaluate("""() => [...document.querySelectorAll('.table-wrap')]
        .filter(e => e.scrollWidth > e.clientWidth)
        .map(e => [e.getAttribute('role'), e.getAttribute('tabindex'),
                   e.getAttribute('aria-label')])""")
    assert all(r[0] == "region" and r[1] == "0" and r[2] for r in regions), regions


CHART_TEXT_SIZES = """() => [...document.querySelectorAll('.chart-panel svg text')].map(t => {
    const size = parseFloat(getComputedStyle(t).fontSize);
    return [t.textContent, size * t.getScreenCTM().a];
})"""


@pytest.mark.parametrize("width", (320, *WIDTHS, 700, 1000))
@pytest.mark.parametrize("scheme", SCHEMES)
def test_chart_text_is_at_least_11_css_px_as_rendered(visit, scheme, width):
    page = visit("segments/channel/twitter.html", scheme, width).page
    sizes = page.evaluate(CHART_TEXT_SIZES)
    assert len(sizes) > 100
    small = [(text, round(px, 2)) for text, px in sizes if px < MIN_CHART_TEXT_PX]
    assert not small


def test_charts_are_one_column_on_a_phone_and_several_on_a_desktop(visit):
    def columns(width: int) -> int:
        page = visit("segments/channel/twitter.html", "light", width).page
        lefts = page.evaluate("""() => [...document.querySelectorAll('.chart-panel')]
            .map(p => Math.round(p.getBoundingClientRect().left))""")
        return len(set(lefts))

    assert columns(375) == 1
    assert columns(1280) >= 3


def test_chart_labels_never_cover_a_point(visit, example_site):
    # Tech Support's chart has the blackout and the policy change (and the partial week).
    tech = next(example_site.glob("segments/team/tech-support*.html"))
    page = visit(tech.relative_to(example_site).as_posix(), "light", 375).page
    overlaps = page.evaluate("""() => {
        const hits = [];
        const seen = {points: 0, labels: 0};
        for (const svg of document.querySelectorAll('.chart-panel svg')) {
            const points = [...svg.querySelectorAll('use')].map(u => u.getBoundingClientRect());
            seen.points += points.length;
            for (const t of svg.querySelectorAll('text')) {
                seen.labels += 1;
                const b = t.getBoundingClientRect();
                for (const p of points) {
                    if (b.left < p.right && p.left < b.right && b.top < p.bottom
                        && p.top < b.bottom) hits.push(t.textContent);
                }
            }
        }
        return [hits, seen];
    }""")
    hits, seen = overlaps
    assert seen["points"] > 0 and seen["labels"] > 0, seen
    assert not hits


def test_chart_colours_follow_the_colour_scheme(visit):
    def value_colour(scheme: str) -> str:
        page = visit("segments/all/all.html", scheme, 1280).page
        return str(page.evaluate("""() => getComputedStyle(
            document.querySelector('.chart-panel svg use')).fill"""))

    light, dark = value_colour("light"), value_colour("dark")
    assert light != dark
    assert "filter" not in Path(__file__).resolve().parent.parent.joinpath(
        "templates", "assets", "carecard.css").read_text(encoding="utf-8")


def test_every_chart_point_has_a_title_with_period_value_n_and_status(visit, example_site):
    import csv

    page = visit("segments/all/all.html", "light", 1280).page
    titles = page.evaluate("""() => [...document.querySelectorAll('.chart-panel svg use')]
        .map(u => u.querySelector('title') ? u.querySelector('title').textContent : '')""")
    assert titles and all(titles)
    # The title of W47's SLA point says what figures.csv holds for it.
    with (example_site / "data" / "figures.csv").open(encoding="utf-8") as handle:
        (row,) = [r for r in csv.DictReader(handle) if (r["period"], r["dimension"], r["metric"])
                  == ("2026-W47", "all", "sla_attainment")]
    assert row["status"] == "red"
    value = f"{float(row['value']) * 100:.1f}%"
    expected = (f"2026-W47: {value}, n = {int(row['n']):,}, off goal "
                f"(goal ≥ {float(row['goal']) * 100:.1f}%)")
    assert [t for t in titles if t.startswith(f"2026-W47: {value}")] == [expected]


def test_dark_scheme_follows_the_reader_setting(visit, tmp_path):
    import matplotlib.image

    brightness = {}
    for scheme in SCHEMES:
        shot = tmp_path / f"{scheme}.png"
        visit("index.html", scheme, 1280).page.screenshot(path=str(shot))
        brightness[scheme] = float(matplotlib.image.imread(shot)[..., :3].mean())
    assert brightness["dark"] < 0.5 < brightness["light"]


# --- Print --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_printed_pages_cut_no_table_or_chart_at_the_page_edge(visit, path, tmp_path):
    seen = visit(path, "light", 1280)
    page = seen.page
    landscape = path.startswith("segments/")
    width = A4_LANDSCAPE_PX if landscape else A4_PORTRAIT_PX
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    # The layout of the printed page: print media at the width of the sheet's printable area.
    page.emulate_media(media="print")
    page.set_viewport_size({"width": int(width), "height": 1100})
    boxes = page.evaluate("""() => [...document.querySelectorAll(
            'table, .table-wrap, .chart-panel svg, .card, figure')]
        .filter(e => getComputedStyle(e).display !== 'none')
        .map(e => [e.tagName + '.' + (e.getAttribute('class') || ''),
                   e.getBoundingClientRect().left, e.getBoundingClientRect().right])""")
    assert boxes
    cut = [(name, round(left), round(right)) for name, left, right in boxes
           if left < -0.5 or right > width + 0.5]
    assert not cut
    assert page.evaluate("document.documentElement.scrollWidth") <= int(width) + 1
    hidden = page.evaluate("""() => ['.site-nav', '.cell-drill', '.card-drill', '.pager']
        .flatMap(s => [...document.querySelectorAll(s)])
        .filter(e => getComputedStyle(e).display !== 'none').length""")
    assert hidden == 0


def test_a_segments_charts_print_together_on_one_sheet(visit):
    page = visit("segments/channel/twitter.html", "light", 1280).page
    page.emulate_media(media="print")
    page.set_viewport_size({"width": int(A4_LANDSCAPE_PX), "height": 1100})
    height = page.evaluate("document.querySelector('.chart').getBoundingClientRect().height")
    # A4 landscape less the margins (16 and 14 mm) and the section's heading.
    assert height < (210 - 30) / 25.4 * 96 - 40
