"""The rendered site: page structure (through an HTML parser), links, escaping and the theme."""

from __future__ import annotations

import posixpath
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sitefakes as fakes

from generator.content import load_content, render_markdown
from generator.errors import BuildError, ConfigError
from generator.pages import format_change, format_value, segment_slugs, short_hash
from generator.render import render_site, theme_dir


@pytest.fixture(scope="module")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    fakes.write_content(root)
    return root


@pytest.fixture(scope="module")
def site(site_root: Path) -> dict[str, bytes]:
    return render_site(fakes.make_config(site_root), fakes.make_figures(), fakes.make_quality(),
                       fakes.make_info())


def html_pages(site: dict[str, bytes]) -> dict[str, fakes.Node]:
    return {path: fakes.parse_html(data) for path, data in site.items() if path.endswith(".html")}


def section_with_heading(doc: fakes.Node, text: str) -> fakes.Node:
    for section in doc.find_all("section"):
        headings = [h for tag in ("h1", "h2") for h in section.find_all(tag)]
        if headings and text in headings[0].text:
            return section
    raise AssertionError(f"no section headed {text!r}")


def card(section: fakes.Node, label: str) -> fakes.Node:
    for article in section.find_all("article", "card"):
        if article.find("h3").text == label:
            return article
    raise AssertionError(f"no card {label!r}")


# --- Overview ------------------------------------------------------------------------------------


def test_overview_shows_latest_complete_week_cards_with_value_status_and_change(site):
    doc = fakes.parse_html(site["index.html"])
    latest = section_with_heading(doc, "Latest complete week: 2026-W46")
    rate = card(latest, "Response rate")
    assert rate.find(cls="card-value").text == "96.0%"
    assert rate.find(cls="status-word").text == "on goal"
    assert rate.find(cls="status-symbol").text == "✓"
    assert rate.find(cls="change").text == "▲ 3.0 pp better"
    assert rate.find(cls="previous").text == "vs 93.0% in 2026-W45"
    assert rate.find(cls="card-goal").text == "goal ≥ 95.0%"
    assert rate.find(cls="card-year-ago").text == "90.0% a year ago (▲ 6.0 pp better)"
    assert rate.find(cls="card-n").text == "n = 51 actionable interactions"
    frt = card(latest, "Median first response")
    assert frt.find(cls="card-value").text == "45.0 min"
    assert frt.find(cls="status-word").text == "off goal"
    assert frt.find(cls="change").text == "▲ 28.6% worse"
    assert card(latest, "Volume").find(cls="status-word").text == "no goal"
    assert card(latest, "SLA attainment").find(cls="status-word").text == "too few"


def test_overview_labels_the_partial_week_separately(site):
    doc = fakes.parse_html(site["index.html"])
    partial = section_with_heading(doc, "This week so far: 2026-W47")
    assert "partial — data through 2026-11-18 12:00 GMT" in partial.find(cls="badge-partial").text
    assert card(partial, "Response rate").find(cls="status-word").text == "near goal"


def test_every_card_has_a_sparkline_with_a_text_alternative(site):
    doc = fakes.parse_html(site["index.html"])
    cards = doc.find_all("article", "card")
    assert len(cards) == 8
    for article in cards:
        svg = article.find("svg")
        assert svg.attrs["role"] == "img"
        assert svg.attrs["aria-label"] and svg.find("title").text == svg.attrs["aria-label"]
        assert svg.find("path").attrs["d"].startswith("M")


def test_segment_tables_list_every_segment_with_status_words(site):
    doc = fakes.parse_html(site["index.html"])
    tables = doc.find_all("table")
    captions = [t.find("caption").text for t in tables]
    assert captions == ["By channel, week 2026-W46", "By team, week 2026-W46"]
    rows = tables[0].find("tbody").find_all("tr")
    assert [r.find("th").text for r in rows] == ["email", "twitter"]
    assert all(th.attrs.get("scope") == "row" for r in rows for th in r.find_all("th"))
    first = rows[0].find_all("td")
    assert first[1].text == "93.1% ! near goal"


def test_segment_value_that_looks_like_markup_is_escaped_text(site):
    for path, doc in html_pages(site).items():
        assert not doc.find_all("script"), path
    doc = fakes.parse_html(site["index.html"])
    team = doc.find_all("table")[1]
    assert team.find("tbody").find("th").text == "<script>"
    assert "segments/team/script.html" in site
    page = fakes.parse_html(site["segments/team/script.html"])
    assert page.find("h1").text == "Team: <script>"


def test_config_text_is_escaped_everywhere(site):
    doc = fakes.parse_html(site["index.html"])
    assert doc.find("title").text == "Overview — Acme <Care> & Co"
    assert not doc.find_all("care")


# --- Links and accessibility ---------------------------------------------------------------------


def _targets(doc: fakes.Node) -> list[str]:
    urls = [n.attrs["href"] for n in doc.iter() if n.attrs.get("href") is not None]
    return urls + [n.attrs["src"] for n in doc.iter() if n.attrs.get("src") is not None]


def test_every_link_is_relative_and_resolves_to_a_file_of_the_site(site):
    pages = html_pages(site)
    ids = {path: {n.attrs["id"] for n in doc.iter() if n.attrs.get("id")}
           for path, doc in pages.items()}
    for path, doc in pages.items():
        for url in _targets(doc):
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc and not url.startswith("/"), (path, url)
            if not parts.path:
                assert parts.fragment in ids[path], (path, url)
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), parts.path))
            if target.startswith("data/"):
                continue  # written by the output stage
            assert target in site, (path, url)
            if parts.fragment:
                assert parts.fragment in ids[target], (path, url)


def test_every_page_links_the_downloads_and_navigation(site):
    for path, doc in html_pages(site).items():
        main_nav = next(n for n in doc.find_all("nav") if n.attrs.get("aria-label") == "Main")
        labels = [a.text for a in main_nav.find_all("a")]
        assert labels[:5] == ["Overview", "Periods", "Segments", "Definitions", "Data quality"]
        assert "About <these> figures" in labels
        hrefs = {posixpath.normpath(posixpath.join(posixpath.dirname(path), a.attrs["href"]))
                 for a in doc.find_all("a") if a.attrs.get("href")}
        assert {"data/figures.csv", "data/figures.json", "data/summary.json"} <= hrefs, path


def test_every_image_has_alt_text_and_every_chart_a_table(site):
    images = 0
    for path, doc in html_pages(site).items():
        for img in doc.find_all("img"):
            images += 1
            assert img.attrs.get("alt", "").strip(), path
            block = next(a for a in img.ancestors() if a.tag == "section")
            assert block.find_all("table"), path
    assert images == 4


def test_every_page_is_well_formed_html_with_lang_title_and_skip_link(site):
    for path, data in site.items():
        if not path.endswith(".html"):
            continue
        assert data.startswith(b"<!DOCTYPE html>"), path
        doc = fakes.parse_html(data)
        assert doc.find("html").attrs["lang"] == "en"
        assert doc.find("title").text
        assert doc.find("a", "skip-link").attrs["href"] == "#main"
        assert doc.find("main").attrs["id"] == "main"
        for table in doc.find_all("table"):
            assert table.find_all("caption"), path
            assert all(th.attrs.get("scope") in ("col", "row") for th in table.find_all("th"))


def test_site_contains_every_period_and_segment_page_and_chart(site):
    for label in ("2026-W45", "2026-W46", "2026-W47"):
        assert f"periods/week/{label}.html" in site
    assert "periods/month/2026-11.html" in site
    for page in ("segments/all/all.html", "segments/channel/email.html",
                 "segments/channel/twitter.html", "segments/team/script.html",
                 "periods/index.html", "segments/index.html", "definitions.html",
                 "data-quality.html", "pages/about.html", "assets/carecard.css"):
        assert page in site
    assert sorted(p for p in site if p.startswith("charts/")) == [
        "charts/all/all.svg", "charts/channel/email.svg", "charts/channel/twitter.svg",
        "charts/team/script.svg"]


def test_period_page_has_commentary_and_prev_next_links(site):
    doc = fakes.parse_html(site["periods/week/2026-W46.html"])
    pager = doc.find("nav", "pager")
    assert [a.text for a in pager.find_all("a")] == [
        "← Previous: 2026-W45", "All periods", "Next: 2026-W47 (partial) →"]
    commentary = doc.find("section", "commentary")
    assert commentary.find("strong").text == "busy"
    assert "A busy week: 120 interactions." in commentary.text
    first = fakes.parse_html(site["periods/week/2026-W45.html"]).find("nav", "pager")
    assert [a.text for a in first.find_all("a")] == ["All periods", "Next: 2026-W46 →"]


def test_segment_page_table_lists_each_period_of_the_chart(site):
    doc = fakes.parse_html(site["segments/channel/email.html"])
    table = doc.find("table", "trend-table")
    rows = table.find("tbody").find_all("tr")
    assert [r.find("th").find("a").text for r in rows] == ["2026-W45", "2026-W46", "2026-W47"]
    assert rows[2].find(cls="note").text == "partial"
    headers = [th.text for th in table.find("thead").find_all("th")]
    assert headers == ["Period", "Volume", "Response rate", "Median first response",
                       "SLA attainment"]


def test_definitions_page_documents_every_metric_goal_and_rule(site):
    doc = fakes.parse_html(site["definitions.html"])
    ids = {n.attrs.get("id") for n in doc.iter()}
    for metric in fakes.METRIC_IDS:
        assert f"metric-{metric}" in ids
    sla = next(n for n in doc.iter() if n.attrs.get("id") == "metric-sla_attainment")
    assert "≥ 90.0%; amber tolerance 5.0 pp; minimum sample 20" in sla.text
    rate = next(n for n in doc.iter() if n.attrs.get("id") == "metric-response_rate")
    assert "amber tolerance 5.0 pp (default: 5 pp for ratios)" in rate.text
    assert "From 2026-11-09: ≥ 95.0%" in rate.text
    frt = next(n for n in doc.iter() if n.attrs.get("id") == "metric-frt_median")
    assert "amber tolerance 3.0 min (default: 10% of the goal)" in frt.text
    rules = section_with_heading(doc, "Population").find("tbody").find_all("tr")
    assert [r.find("th").text for r in rules] == ["no_reply_needed", "spam"]
    targets = section_with_heading(doc, "First-response targets").find("tbody").find_all("tr")
    assert [[c.text for c in r.iter() if c.tag in ("th", "td")] for r in targets] == [
        ["priority is 'urgent'", "15m", "elapsed", "—"],
        ["channel is 'email'", "24h", "business", "uk-office"],
        ["any other interaction", "60m", "elapsed", "—"],
    ]
    assert "satisfied: 4, 5" in doc.text and "Europe/London" in doc.text


def test_data_quality_page_accounts_for_every_row(site):
    doc = fakes.parse_html(site["data-quality.html"])
    drops = doc.find_all("table")[0]
    body = drops.find("tbody").find_all("tr")
    assert [[c.text for c in r.iter() if c.tag in ("th", "td")] for r in body] == [
        ["social", "content/exports/social-w46.csv", "150", "140", "10", "0", "—", "✓ yes"],
        ["social", "content/exports/social-w47.csv", "123", "120", "0", "3",
         "unparseable_timestamp 3", "✓ yes"],
    ]
    total = [c.text for c in drops.find("tfoot").iter() if c.tag in ("th", "td")]
    assert total == ["", "Total", "273", "260", "10", "3", "unparseable_timestamp 3", "✓ yes"]
    exclusions = doc.find_all("table")[1].find("tbody").find_all("tr")
    assert [r.text for r in exclusions] == ["no_reply_needed 7", "spam 3"]
    rejected = doc.find_all("table")[2].find("tbody").find_all("tr")
    assert len(rejected) == 3
    assert "found '<b>yesterday</b>'" in rejected[0].text
    assert not doc.find_all("b")


def test_data_quality_page_caps_the_rejected_rows_listed(tmp_path):
    files = render_site(fakes.make_config(tmp_path), fakes.make_figures(),
                        fakes.make_quality(rejections=600), fakes.make_info())
    doc = fakes.parse_html(files["data-quality.html"])
    rows = doc.find_all("table")[2].find("tbody").find_all("tr")
    assert len(rows) == 500
    assert "600 rejected rows. The first 500 are listed below." in doc.text


def test_content_page_is_rendered_safely_with_live_figures(site):
    doc = fakes.parse_html(site["pages/about.html"])
    prose = doc.find("article", "prose")
    assert prose.find("h1").text == "About <these> figures"
    assert "Email response rate: 93.1%." in prose.text
    assert "<script>alert('x')</script>" in prose.text
    links = {a.text: a.attrs.get("href") for a in prose.find_all("a")}
    assert links == {"definitions": "../definitions.html", "bad": None}


# --- Determinism, theme and overrides ------------------------------------------------------------


def test_two_renders_give_identical_bytes(site, site_root):
    again = render_site(fakes.make_config(site_root), fakes.make_figures(), fakes.make_quality(),
                        fakes.make_info())
    assert again.keys() == site.keys()
    for path in site:
        assert again[path] == site[path], path


def test_stylesheet_has_dark_scheme_print_styles_and_focus_outlines(site):
    css = site["assets/carecard.css"].decode("utf-8")
    assert "@media (prefers-color-scheme: dark)" in css
    assert "color-scheme: light dark" in css
    assert "@media print" in css
    assert ":focus-visible" in css
    assert "url(" not in css and "@import" not in css  # nothing fetched


def test_theme_dir_holds_every_template():
    names = {p.name for p in theme_dir().iterdir()}
    assert {"base.html", "_macros.html", "overview.html", "period.html", "segment.html",
            "definitions.html", "data_quality.html", "page.html", "periods_index.html",
            "segments_index.html", "assets"} <= names


def test_override_folder_replaces_one_template_and_can_extend_the_theme(tmp_path):
    overrides = tmp_path / "templates"
    (overrides / "assets").mkdir(parents=True)
    (overrides / "overview.html").write_text(textwrap.dedent("""\
        {% extends "theme/overview.html" %}
        {% block content %}<p id="custom">Custom {{ page.site_title }}</p>
        {{ super() }}{% endblock %}
        """), encoding="utf-8")
    (overrides / "assets" / "extra.css").write_text("p { color: red; }", encoding="utf-8")
    config = fakes.make_config(tmp_path, templates=overrides)
    files = render_site(config, fakes.make_figures(), fakes.make_quality(), fakes.make_info())
    doc = fakes.parse_html(files["index.html"])
    custom = next(n for n in doc.iter() if n.attrs.get("id") == "custom")
    assert custom.text == "Custom Acme <Care> & Co"
    assert doc.find_all("article", "card")  # the theme's block still renders
    assert files["assets/extra.css"] == b"p { color: red; }"
    assert b'id="custom"' not in files["definitions.html"]


def test_undefined_variable_in_a_template_is_a_build_error_naming_page_and_template(tmp_path):
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "definitions.html").write_text(
        '{% extends "base.html" %}\n{% block content %}\n{{ no_such_thing }}\n{% endblock %}\n',
        encoding="utf-8")
    config = fakes.make_config(tmp_path, templates=overrides)
    with pytest.raises(BuildError) as error:
        render_site(config, fakes.make_figures(), fakes.make_quality(), fakes.make_info())
    message = str(error.value)
    assert "definitions.html:3: rendering page 'definitions.html' failed" in message
    assert "'no_such_thing' is undefined" in message


def test_unknown_metric_in_content_is_a_build_error_naming_the_file(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "x.md").write_text("Hi\n\n{{ figure('nope') }}\n", encoding="utf-8")
    with pytest.raises(BuildError) as error:
        render_site(fakes.make_config(tmp_path), fakes.make_figures(), fakes.make_quality(),
                    fakes.make_info())
    assert str(error.value) == ("content/x.md, line 3: figure(): expected a metric id shown on "
                                "the site, found 'nope'. Hint: see definitions.html for the ids.")


# --- Content loading -----------------------------------------------------------------------------


def test_content_pages_are_sorted_by_order_then_title(tmp_path):
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "b.md").write_text("---\ntitle: Beta\norder: 1\n---\nB\n", encoding="utf-8")
    (folder / "a.md").write_text("---\ntitle: Alpha\norder: 2\n---\nA\n", encoding="utf-8")
    (folder / "c.md").write_text("---\ntitle: Aardvark\norder: 1\n---\nC\n", encoding="utf-8")
    (folder / "d.md").write_text("No front matter\n", encoding="utf-8")
    content = load_content(tmp_path)
    assert [p.title for p in content.pages] == ["D", "Aardvark", "Beta", "Alpha"]


def test_invalid_front_matter_names_file_and_line(tmp_path):
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "bad.md").write_text("---\ntitle: Fine\norder: soon\n---\nBody\n", encoding="utf-8")
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_content(tmp_path)
    lines = str(error.value).splitlines()
    assert lines[0] == "content/bad.md:3: order: expected a whole number, found 'soon'."
    assert lines[1] == (
        "content/broken.md:2: front matter is not valid YAML (expected ',' or ']', but got "
        "'<stream end>'). Hint: write it as 'key: value' lines between two '---' lines.")


def test_markdown_never_passes_raw_html_or_script_urls():
    html = render_markdown(
        '<div onclick="x">hi</div>\n\n[a](javascript:alert(1)) [b](segments/index.html) '
        "<https://example.org>\n\n```\n<b>code</b>\n```\n", root="../")
    doc = fakes.parse_html(html)
    assert not doc.find_all("div") and not doc.find_all("b")
    assert [a.attrs.get("href") for a in doc.find_all("a")] == [
        None, "../segments/index.html", "https://example.org"]
    assert doc.find("code").text == "<b>code</b>"


# --- Formatting and slugs ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.875, "ratio", "87.5%"),
    (41.5, "minutes", "41.5 min"),
    (6.2, "hours", "6.2 h"),
    (12.0, "count", "12"),
    (1234.0, "count", "1,234"),
    (4.3125, "score", "4.31"),
    (None, "ratio", "—"),
])
def test_values_are_formatted_by_unit(value, unit, text):
    assert format_value(value, unit) == text


@pytest.mark.parametrize(("change", "unit", "better", "text"), [
    (3.1, "pp", "higher", "▲ 3.1 pp better"),
    (-3.1, "pp", "higher", "▼ 3.1 pp worse"),
    (12.5, "%", "lower", "▲ 12.5% worse"),
    (-12.5, "%", "lower", "▼ 12.5% better"),
    (0.0, "pp", "higher", "= no change"),
    (0.04, "%", "higher", "= no change"),
    (None, None, "higher", ""),
])
def test_changes_are_written_with_arrow_unit_and_word(change, unit, better, text):
    assert format_change(change, unit, better)[0] == text


def test_segment_slugs_are_ascii_and_unique():
    slugs = segment_slugs(["Tech Support", "tech-support", "<script>", "ÉMEA", "日本", "email"])
    assert slugs["tech-support"] == "tech-support"
    assert slugs["Tech Support"] == "tech-support-" + short_hash("Tech Support")
    assert slugs["<script>"] == "script"
    assert slugs["ÉMEA"] == "emea"
    assert slugs["日本"] == short_hash("日本")
    assert slugs["email"] == "email"
    assert len(set(slugs.values())) == len(slugs)
