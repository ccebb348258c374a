"""The rendered site: page structure (through an HTML parser), links, escaping and the theme."""

from __future__ import annotations

import posixpath
import re
import textwrap
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sitefakes as fakes

from generator.errors import BuildError, ConfigError
from generator.site.content import load_content, render_markdown
from generator.site.formatting import (
    format_change,
    format_number,
    format_pair,
    format_value,
    segment_slugs,
    short_hash,
)
from generator.site.pages import build_site
from generator.site.render import render_site, theme_dir
from generator.site.siteindex import root_of


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


def table(doc: fakes.Node, caption: str) -> fakes.Node:
    """The table whose caption starts with `caption`."""
    for found in doc.find_all("table"):
        if found.find("caption").text.startswith(caption):
            return found
    raise AssertionError(f"no table captioned {caption!r}")


def cells(row: fakes.Node) -> list[str]:
    return [c.text for c in row.iter() if c.tag in ("th", "td")]


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


def test_overview_shows_the_partial_week_as_one_compact_table_compared_at_the_same_point(site):
    doc = fakes.parse_html(site["index.html"])
    partial = section_with_heading(doc, "This week so far: 2026-W47")
    assert "partial — data through 2026-11-18 12:00 GMT" in partial.find(cls="badge-partial").text
    assert partial.find_all("article", "card") == []  # not a second set of cards
    assert partial.find(cls="partial-note").text == (
        "Compared with 2026-W46 and a year ago up to the same point from their start "
        "(Wed 11 Nov 12:00 in 2026-W46); counts have no goal status until the period is "
        "complete.")
    rows = table(partial, "This week so far: 2026-W47, figures so far").find("tbody").find_all(
        "tr")
    assert [cells(r) for r in rows[:2]] == [
        ["Volume", "40", "– no goal", "▼ 66.7% down", "120 in 2026-W46 to Wed 11 Nov 12:00", "",
         ""],
        ["Response rate", "90.0% (goal ≥ 95.0%)", "! near goal so far", "▼ 6.0 pp worse",
         "96.0% in 2026-W46 to Wed 11 Nov 12:00", "", "n = 52 actionable interactions"],
    ]


def test_every_card_has_a_sparkline_with_a_text_alternative(site):
    doc = fakes.parse_html(site["index.html"])
    cards = doc.find_all("article", "card")
    assert len(cards) == 4  # the latest complete week's; the partial week is a table
    for article in cards:
        svg = article.find("svg")
        assert svg.attrs["role"] == "img"
        assert svg.attrs["aria-label"] and svg.find("title").text == svg.attrs["aria-label"]
        assert svg.find("path").attrs["d"].startswith("M")


def test_segment_tables_list_every_segment_with_status_words(site):
    doc = fakes.parse_html(site["index.html"])
    tables = section_with_heading(doc, "By segment").find_all("table")
    captions = [t.find("caption").text for t in tables]
    assert captions == ["By channel, week 2026-W46", "By team, week 2026-W46"]
    rows = tables[0].find("tbody").find_all("tr")
    assert [r.find("th").text for r in rows] == ["email", "twitter"]
    assert all(th.attrs.get("scope") == "row" for r in rows for th in r.find_all("th"))
    first = rows[0].find_all("td")
    assert first[2].text == ("93.1% ! near goal show 1 late or unanswered interaction "
                             "(Response rate)")
    assert rows[1].find_all("td")[2].text == "97.9% ✓ on goal"


def test_segment_tables_lead_with_the_segment_its_statuses_and_the_goals(site):
    doc = fakes.parse_html(site["index.html"])
    channel = table(doc, "By channel")
    headers = [th.text for th in channel.find("thead").find_all("th")]
    # Metrics with a goal first (SLA attainment, the headline, leading), then the rest.
    assert headers == ["Channel", "Goals", "SLA attainment", "Response rate",
                       "Median first response", "Volume"]
    email, twitter = channel.find("tbody").find_all("tr")
    assert email.find("td", "goals").text == "✗ 1 off goal ! 1 near goal ? 1 too few"
    assert twitter.find("td", "goals").text == "✗ 1 off goal ✓ 1 on goal ? 1 too few"
    # Every value names its column, for the stacked layout on phones.
    assert [td.attrs["data-label"] for td in email.find_all("td")] == headers[1:]


def test_wide_tables_say_that_they_scroll_and_are_focusable_regions(site, tmp_path):
    for path, doc in html_pages(site).items():
        labels = []
        for wrap in doc.find_all("div", "table-wrap"):
            assert wrap.attrs.get("role") == "region" and wrap.attrs.get("tabindex") == "0", path
            labels.append(wrap.attrs["aria-label"])
        assert len(labels) == len(set(labels)), path  # no two regions named alike
    files = render_site(fakes.make_config(tmp_path), replace(
        fakes.make_figures(), metrics=tuple(fakes.ALL_METRICS[m] for m in fakes.METRIC_IDS) * 3),
        fakes.make_quality(), fakes.make_info())
    hint = table(fakes.parse_html(files["index.html"]), "By channel").find(cls="scroll-hint")
    assert hint.text == "(12 metrics: the table scrolls sideways)"


def test_segment_value_that_looks_like_markup_is_escaped_text(site):
    for path, doc in html_pages(site).items():
        assert not doc.find_all("script"), path
    doc = fakes.parse_html(site["index.html"])
    team = table(doc, "By team")
    assert team.find("tbody").find("th").text == "<script>"
    assert "segments/team/script-5b63e5b2097f.html" in site
    page = fakes.parse_html(site["segments/team/script-5b63e5b2097f.html"])
    assert page.find("h1").text == "Team: <script>"


def test_config_text_is_escaped_everywhere(site):
    doc = fakes.parse_html(site["index.html"])
    assert doc.find("title").text == "Overview — Acme <Care> & Co"
    assert not doc.find_all("care")


# --- Links and accessibility ---------------------------------------------------------------------


def _targets(doc: fakes.Node) -> list[str]:
    return [url for name in ("href", "src") for n in doc.iter()
            if (url := n.attrs.get(name)) is not None]


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
        assert labels[:6] == ["Overview", "Periods", "Segments", "League", "Definitions",
                              "Data quality"]
        assert "About <these> figures" in labels
        hrefs = {posixpath.normpath(posixpath.join(posixpath.dirname(path), a.attrs["href"]))
                 for a in doc.find_all("a") if a.attrs.get("href")}
        assert {"data/figures.csv", "data/figures.json", "data/summary.json",
                "data/badge.svg"} <= hrefs, path
        downloads = next(n for n in doc.find_all("nav") if n.attrs.get("aria-label") == "Downloads")
        assert [a.text for a in downloads.find_all("a")] == [
            "figures.csv", "figures.json", "summary.json", "badge.svg", "hourly.csv",
            "brackets.csv", "digest.md"], path


def test_every_chart_panel_has_a_text_alternative_and_every_chart_a_table(site):
    charts = 0
    for path, doc in html_pages(site).items():
        assert not doc.find_all("img"), path  # charts are inline SVG, the badge is a download
        for chart in doc.find_all("figure", "chart"):
            charts += 1
            for panel in chart.find_all("figure", "chart-panel"):
                assert panel.find("figcaption").text, path
                assert panel.find("svg").attrs["aria-label"].strip(), path
            block = next(a for a in chart.ancestors() if a.tag == "section")
            assert block.find_all("table"), path
    assert charts == 4


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
                 "segments/channel/twitter.html", "segments/team/script-5b63e5b2097f.html",
                 "periods/index.html", "segments/index.html", "definitions.html",
                 "data-quality.html", "pages/about.html", "assets/carecard.css"):
        assert page in site
    assert not [p for p in site if p.startswith("charts/")]  # charts are in their pages
    for page in ("segments/all/all.html", "segments/channel/email.html",
                 "segments/channel/twitter.html", "segments/team/script-5b63e5b2097f.html"):
        assert fakes.parse_html(site[page]).find_all("figure", "chart-panel"), page


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
    assert headers == ["Period", "Goals", "SLA attainment", "Response rate",
                       "Median first response", "Volume"]


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
    drops = table(doc, "Rows per drop")
    body = drops.find("tbody").find_all("tr")
    assert [[c.text for c in r.iter() if c.tag in ("th", "td")] for r in body] == [
        ["content/exports/social-w46.csv", "social", "150", "140", "10", "0", "—", "✓ yes"],
        ["content/exports/social-w47.csv", "social", "123", "120", "0", "3",
         "unparseable timestamp 3", "✓ yes"],
    ]
    total = [c.text for c in drops.find("tfoot").iter() if c.tag in ("th", "td")]
    assert total == ["Total", "", "273", "260", "10", "3", "unparseable timestamp 3", "✓ yes"]
    exclusions = table(doc, "Interactions excluded").find("tbody").find_all("tr")
    assert [r.text for r in exclusions] == ["no_reply_needed 7", "spam 3"]
    rejected = table(doc, "Rejected rows").find("tbody").find_all("tr")
    assert len(rejected) == 3
    assert "found '<b>yesterday</b>'" in rejected[0].text
    assert not doc.find_all("b")


def test_data_quality_page_caps_the_rejected_rows_listed(tmp_path):
    files = render_site(fakes.make_config(tmp_path), fakes.make_figures(),
                        fakes.make_quality(rejections=600), fakes.make_info())
    doc = fakes.parse_html(files["data-quality.html"])
    rows = table(doc, "Rejected rows").find("tbody").find_all("tr")
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


# --- Drill-through (SPEC §6.7) ---------------------------------------------------------------


def test_red_response_card_links_to_its_drill_page_and_green_cards_do_not(site):
    doc = fakes.parse_html(site["index.html"])
    latest = section_with_heading(doc, "Latest complete week: 2026-W46")
    link = card(latest, "Median first response").find(cls="card-drill").find("a")
    assert link.text == "Show the 3 late or unanswered interactions"
    assert link.attrs["href"] == "drill/week/2026-W46/all/all.html"
    for label in ("Response rate", "Volume", "SLA attainment"):
        assert not card(latest, label).find_all(cls="card-drill"), label


def test_only_periods_and_segments_with_a_drill_list_link_to_one(site):
    w45 = fakes.parse_html(site["periods/week/2026-W45.html"])
    assert card(w45, "Median first response").find(cls="status-word").text == "off goal"
    assert not w45.find_all(cls="card-drill") and not w45.find_all(cls="cell-drill")
    assert not fakes.parse_html(site["periods/month/2026-11.html"]).find_all(cls="cell-drill")
    w46 = fakes.parse_html(site["periods/week/2026-W46.html"])
    team = table(w46, "By team").find("tbody").find("tr")
    links = team.find_all("a", "cell-drill")
    assert {a.attrs["href"] for a in links} == {"../../drill/week/2026-W46/team/script-5b63e5b2097f.html"}
    assert links[0].text == "show 2 late or unanswered interactions (Response rate)"


def test_drill_page_lists_each_interaction_with_state_word_and_source_row(site):
    doc = fakes.parse_html(site["drill/week/2026-W46/all/all.html"])
    assert doc.find("h1").text.startswith("Late and unanswered: All interactions, week 2026-W46")
    rows = table(doc, "Late and unanswered interactions").find("tbody").find_all("tr")
    assert [cells(r) for r in rows] == [
        ["AC-1000", "late", "2026-11-10 09:00:00", "2026-11-10 10:15:30", "75.5 min",
         "60 min elapsed", "twitter", "content/exports/social-w46.csv:2"],
        ["AC-1001", "overdue", "2026-11-10 09:01:00", "—", "—", "60 min elapsed", "twitter",
         "content/exports/social-w46.csv:3"],
        ["AC-1002", "waiting", "2026-11-10 09:02:00", "—", "—", "60 min elapsed", "twitter",
         "content/exports/social-w46.csv:4"],
    ]
    summary = section_with_heading(doc, "Interactions").find("p")
    assert summary.text == "3 interactions: 1 late, 1 overdue, 1 waiting. Download all: all.csv ."
    assert summary.find("a").attrs["href"] == "all.csv"
    why = table(doc, "Response figures").find("tbody").find_all("tr")
    assert [cells(r)[:4] for r in why] == [
        ["Response rate", "✓ on goal", "96.0%", "≥ 95.0%"],
        ["Median first response", "✗ off goal", "45.0 min", "≤ 30.0 min"],
        ["SLA attainment", "? too few", "82.0%", "≥ 90.0%"],
    ]


def test_drill_csv_has_every_row_with_the_dataclass_fields_as_columns(site):
    lines = site["drill/week/2026-W46/all/all.csv"].decode("utf-8").splitlines()
    assert lines[0] == ("source,id,channel,received_at,first_response_at,minutes,"
                        "target_minutes,clock,state,file,line")
    assert lines[1] == ("social,AC-1000,twitter,2026-11-10 09:00:00,2026-11-10 10:15:30,75.5,60,"
                        "elapsed,late,content/exports/social-w46.csv,2")
    assert lines[2] == ("social,AC-1001,twitter,2026-11-10 09:01:00,,,60,elapsed,overdue,"
                        "content/exports/social-w46.csv,3")
    assert len(lines) == 4


def test_drill_page_of_a_segment_uses_its_slug_and_escapes_its_name(site):
    doc = fakes.parse_html(site["drill/week/2026-W46/team/script-5b63e5b2097f.html"])
    assert "Team: <script>" in doc.find("h1").text
    assert "drill/week/2026-W46/team/script-5b63e5b2097f.csv" in site
    assert "drill/week/2026-W46/channel/email.html" in site
    assert sorted(p for p in site if p.startswith("drill/") and p.endswith(".html")) == [
        "drill/week/2026-W46/all/all.html", "drill/week/2026-W46/channel/email.html",
        "drill/week/2026-W46/team/script-5b63e5b2097f.html"]


def test_drill_page_caps_the_rows_shown_but_not_the_csv(tmp_path):
    files = render_site(fakes.make_config(tmp_path), fakes.make_figures(drill_rows=205),
                        fakes.make_quality(), fakes.make_info())
    doc = fakes.parse_html(files["drill/week/2026-W46/all/all.html"])
    rows = table(doc, "Late and unanswered interactions").find("tbody").find_all("tr")
    assert len(rows) == 200
    assert "205 interactions" in doc.text
    assert "The first 200 are listed below, oldest first." in doc.text
    assert len(files["drill/week/2026-W46/all/all.csv"].decode().splitlines()) == 206


# --- Error budget (SPEC §4.6) -------------------------------------------------------------------


def test_overview_shows_the_error_budget_with_words_and_symbols(site):
    doc = fakes.parse_html(site["index.html"])
    panel = doc.find("section", "budget")
    assert "SLA attainment, 2026-11 (2026-11-01 – 2026-11-30)" in panel.find("h2").text
    assert panel.find(cls="status-word").text == "over budget"
    assert panel.find(cls="status-symbol").text == "✗"
    assert "26 of 20.0 allowed breaches used: 6.0 over budget." in panel.text
    facts = {dt.text: dd.text for dt, dd in zip(panel.find_all("dt"), panel.find_all("dd"))}
    assert facts == {"Goal": "≥ 90.0%", "Eligible": "200", "Allowed breaches": "20.0",
                     "Used": "26", "Remaining": "−6.0 (overspent)", "Burn rate": "1.30×"}


def test_overview_lists_every_segment_budget_below_the_segment_tables(site):
    doc = fakes.parse_html(site["index.html"])
    rows = table(doc, "Error budget of every segment").find("tbody").find_all("tr")
    assert [cells(r) for r in rows] == [
        ["All interactions", "✗ over budget", "200", "20.0", "26", "−6.0", "1.30×"],
        ["Channel: email", "✓ on track", "80", "8.0", "5", "3.0", "0.63×"],
        ["Channel: twitter", "– no budget", "0", "0.0", "0", "0.0", "—"],
    ]
    headings = [h.text for h in doc.find_all("h2")]
    assert headings.index("By segment 2026-W46") < headings.index(
        "Error budget by segment SLA attainment, 2026-11")


def test_segment_pages_show_their_own_budget(site):
    email = fakes.parse_html(site["segments/channel/email.html"]).find("section", "budget")
    assert email.find(cls="status").text == "✓ on track"
    assert "5 of 8.0 allowed breaches used; 3.0 left." in email.text
    team = fakes.parse_html(site["segments/team/script-5b63e5b2097f.html"]).find("section", "budget")
    assert team.find(cls="status").text == "– no budget"
    assert "No interaction counts towards the budget in 2026-11 yet." in team.text


def test_no_budget_panel_without_an_error_budget(tmp_path):
    figures = replace(fakes.make_figures(), budgets=())
    files = render_site(fakes.make_config(tmp_path), figures, fakes.make_quality(),
                        fakes.make_info())
    for path in ("index.html", "segments/channel/email.html"):
        assert not fakes.parse_html(files[path]).find_all("section", "budget"), path


# --- Restatements, blackouts, threads (SPEC §6.6) ------------------------------------------------


def test_data_quality_page_lists_restatements_with_old_and_new_values(site):
    doc = fakes.parse_html(site["data-quality.html"])
    section = section_with_heading(doc, "Restatements")
    assert ("3 figures of complete periods changed when the newest drop arrived. Old = computed "
            "from all drops except: content/exports/social-w47.csv.") in section.text
    rows = section.find("tbody").find_all("tr")
    assert [cells(r) for r in rows] == [
        ["2026-W46", "All interactions", "Median first response", "44.2 min → 45.0 min",
         "58 → 60"],
        ["2026-W46", "All interactions", "Response rate", "96.001% → 96.004%", "50 → 51"],
        ["2026-W46", "Channel: email", "complaint_share", "0.5 → —", "4 → —"],
    ]  # a metric the site does not show keeps its id and a plain number
    assert rows[2].find_all("a")[1].attrs["href"] == "definitions.html#metrics"
    csv_link = section.find("p").find_all("a")[-1]
    assert (csv_link.text, csv_link.attrs["href"]) == ("restatements.csv", "data/restatements.csv")
    csv = site["data/restatements.csv"].decode().splitlines()
    assert csv[0] == "granularity,period,dimension,segment,metric,old_value,new_value,old_n,new_n"
    assert csv[3] == "week,2026-W46,channel,email,complaint_share,0.5,,4,"


def test_data_quality_page_caps_the_restatements_listed(tmp_path):
    files = render_site(fakes.make_config(tmp_path), fakes.make_figures(),
                        fakes.make_quality(restatements=510), fakes.make_info())
    section = section_with_heading(fakes.parse_html(files["data-quality.html"]), "Restatements")
    assert len(section.find("tbody").find_all("tr")) == 500
    assert "510 figures" in section.text and "The first 500 are listed below." in section.text
    assert len(files["data/restatements.csv"].decode().splitlines()) == 511


def test_period_page_shows_its_own_restatements_and_blackouts(site):
    doc = fakes.parse_html(site["periods/week/2026-W46.html"])
    restated = section_with_heading(doc, "Restated by the newest drop")
    rows = restated.find("tbody").find_all("tr")
    assert [cells(r)[:2] for r in rows] == [["All interactions", "Median first response"],
                                           ["All interactions", "Response rate"],
                                           ["Channel: email", "complaint_share"]]
    blackouts = section_with_heading(doc, "Blackouts in this period")
    assert blackouts.find("li").find("strong").text == "Platform <outage>"
    assert blackouts.find("li").text.endswith(": 2026-11-11 09:00–13:00 (channel is 'twitter')")
    other = fakes.parse_html(site["periods/week/2026-W45.html"])
    assert not [s for s in other.find_all("section")
                if s.find_all("h2") and "Restated" in s.find("h2").text]
    assert not [s for s in other.find_all("section")
                if s.find_all("h2") and "Blackouts" in s.find("h2").text]


def test_data_quality_page_counts_blackouts_and_message_threads(site):
    doc = fakes.parse_html(site["data-quality.html"])
    blackouts = table(doc, "Actionable interactions left out").find("tbody").find_all("tr")
    assert [cells(r) for r in blackouts] == [["Platform <outage>", "4"]]
    threads = table(doc, "Threading per message-level source").find("tbody").find_all("tr")
    assert [cells(r) for r in threads] == [["tweets", "500", "120", "7", "2"]]
    check = section_with_heading(doc, "Message threads").find("p", "thread-check")
    assert check.text == ("tweets : response ids that disagree with in_reply_to: 3 (a "
                          "cross-check; in_reply_to is authoritative).")
    details = doc.find_all("details")
    assert [d.find("summary").text for d in details] == [
        "Orphaned thread tops of tweets (2 of 7 orphaned messages)",
        "Brand-initiated thread starts of tweets (2)"]
    assert [c.text for c in details[0].find_all("code")] == ["tweets", "m-7", "<m-8>"]


def test_trend_charts_mark_blackouts_only_where_the_window_applies(site_root):
    content = load_content(site_root)
    model = build_site(fakes.make_config(site_root), fakes.make_figures(), fakes.make_quality(),
                       content, fakes.make_info())
    markers = {job.page: [(m.index, m.kind) for m in job.spec.markers] for job in model.charts}
    assert (1, "blackout") in markers["segments/all/all.html"]
    assert (1, "blackout") in markers["segments/channel/twitter.html"]
    assert (1, "blackout") in markers["segments/team/script-5b63e5b2097f.html"]  # the team may be affected
    assert (1, "blackout") not in markers["segments/channel/email.html"]
    assert (1, "policy") in markers["segments/all/all.html"]


# --- Definitions: versions, calendars, budget, directions ----------------------------------------


def test_definitions_page_lists_every_policy_version_and_what_it_changed(site):
    doc = fakes.parse_html(site["definitions.html"])
    rows = table(doc, "Policy versions").find("tbody").find_all("tr")
    assert [r.find("th").text for r in rows] == ["from the beginning", "from 2026-11-09"]
    base = [li.text for li in rows[0].find_all("li")]
    assert base[0].startswith("goals: complaint_share ≤ 0.4; Response rate ≥ 95.0%; Median first "
                              "response ≤ 30.0 min; SLA attainment ≥ 90.0%, tolerance 5 pp, "
                              "minimum sample 20")
    assert base[1] == "exclusion rules: spam (and the built-in no_reply_needed)"
    assert base[2].startswith("first-response targets: priority is 'urgent': 15m (elapsed clock)")
    assert [li.text for li in rows[1].find_all("li")] == [
        "goal of Median first response: ≤ 25.0 min (was ≤ 30.0 min)"]


def test_definitions_page_shows_calendars_of_business_clock_targets(site):
    doc = fakes.parse_html(site["definitions.html"])
    calendar = table(doc, "uk-office")
    assert calendar.find("caption").text == (
        "uk-office (Europe/London) — 60.0 h open per week; used by: channel is 'email': 24h")
    rows = [cells(r) for r in calendar.find("tbody").find_all("tr")]
    assert rows[0] == ["Monday", "08:00–12:30, 13:30–18:00", "9.0 h"]
    assert rows[5] == ["Saturday", "09:00–24:00", "15.0 h"]
    assert rows[6] == ["Sunday", "closed", "0.0 h"]
    assert "Holidays (closed): 2026-12-25" in doc.text


def test_definitions_page_explains_the_error_budget_arithmetic(site):
    doc = fakes.parse_html(site["definitions.html"])
    steps = [li.text for li in section_with_heading(doc, "Error budget").find_all("li")]
    assert "allowed breaches = (1 − goal) × eligible" in steps
    assert "remaining = allowed − used (negative when the budget is overspent)" in steps
    assert steps[-1] == ("for all interactions in 2026-11: (1 − 90.0%) × 200 = 20.0 allowed; "
                         "26 used; remaining −6.0; burn rate 1.30")


def test_neutral_metrics_say_neither_direction_is_better(site):
    doc = fakes.parse_html(site["definitions.html"])
    volume = next(n for n in doc.iter() if n.attrs.get("id") == "metric-volume")
    assert "Neither direction is better" in volume.text
    rate = next(n for n in doc.iter() if n.attrs.get("id") == "metric-response_rate")
    assert "Higher is better" in rate.text


# --- Custom metrics ------------------------------------------------------------------------------


def test_custom_metrics_get_cards_columns_definitions_and_charts(tmp_path):
    files = render_site(fakes.make_config(tmp_path), fakes.make_figures(custom=True),
                        fakes.make_quality(), fakes.make_info())
    doc = fakes.parse_html(files["index.html"])
    share = card(section_with_heading(doc, "Latest complete week: 2026-W46"), "Complaint share")
    assert share.find(cls="card-value").text == "45.0%"
    assert share.find(cls="status-word").text == "near goal"
    assert share.find(cls="change").text == "▲ 15.0 pp worse"
    assert not share.find_all(cls="card-drill")  # not a response metric
    definitions = fakes.parse_html(files["definitions.html"])
    assert "metric-complaint_share" in {n.attrs.get("id") for n in definitions.iter()}
    quality = fakes.parse_html(files["data-quality.html"])
    row = section_with_heading(quality, "Restatements").find("tbody").find_all("tr")[2]
    assert cells(row)[2] == "Complaint share"
    assert row.find_all("a")[1].attrs["href"] == "definitions.html#metric-complaint_share"
    segment = fakes.parse_html(files["segments/channel/email.html"])
    panel = next(p for p in segment.find_all("figure", "chart-panel")
                 if p.find("figcaption").text == "Complaint share")
    assert panel.find("svg").attrs["aria-label"].startswith("Complaint share, last 3 weeks: ")


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


def test_a_macros_override_from_before_the_cells_macro_still_renders_segment_pages(tmp_path):
    """A site's own _macros.html copied from an older theme has `cell` but not `cells`: the
    segment page falls back to one `cell` call per cell, and the site's `cell` is used."""
    overrides = tmp_path / "templates"
    overrides.mkdir()
    theme = (theme_dir() / "_macros.html").read_text(encoding="utf-8")
    start, end = theme.index("{# The cells of one table row"), theme.index("{% macro cell(c)")
    older = theme[:start] + theme[end:].replace(
        "{{ cells([c]) }}", '<td class="site-cell">{{ c.value }}</td>', 1)
    older = older.replace("{{ cells(row.cells) }}",
                          "{% for c in row.cells %}{{ cell(c) }}{% endfor %}")
    assert "cells(" not in older
    (overrides / "_macros.html").write_text(older, encoding="utf-8")
    config = fakes.make_config(tmp_path, templates=overrides)
    files = render_site(config, fakes.make_figures(), fakes.make_quality(), fakes.make_info())
    page = fakes.parse_html(files["segments/channel/twitter.html"])
    trend = page.find("table", "trend-table")
    assert trend.find_all("td", "site-cell")
    assert not trend.find_all("td", "cell")


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


def test_bad_figure_call_in_a_page_names_the_file_line_counting_the_front_matter(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "figs.md").write_text(
        "---\ntitle: Figures\norder: 1\n---\n\nIntro.\n\nMore.\n\n{{ figure('nope') }}\n",
        encoding="utf-8")
    with pytest.raises(BuildError) as error:
        render_site(fakes.make_config(tmp_path), fakes.make_figures(), fakes.make_quality(),
                    fakes.make_info())
    assert str(error.value) == ("content/figs.md, line 10: figure(): expected a metric id shown "
                                "on the site, found 'nope'. Hint: see definitions.html for the "
                                "ids.")


def test_bad_figure_call_in_commentary_names_the_file_line_counting_the_front_matter(tmp_path):
    (tmp_path / "content" / "commentary").mkdir(parents=True)
    (tmp_path / "content" / "commentary" / "2026-W46.md").write_bytes(
        b"\xef\xbb\xbf---\r\ntitle: Note\r\n---\r\n\r\nText.\r\n\r\n"
        b"{{ figure('nope') }}\r\n")
    with pytest.raises(BuildError) as error:
        render_site(fakes.make_config(tmp_path), fakes.make_figures(), fakes.make_quality(),
                    fakes.make_info())
    assert str(error.value) == (
        "content/commentary/2026-W46.md, line 7: figure(): expected a metric id shown on the "
        "site, found 'nope'. Hint: see definitions.html for the ids.")


# --- Content loading -----------------------------------------------------------------------------


def test_front_matter_leaves_the_rendered_body_unchanged(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "a.md").write_text("---\ntitle: A\n---\n# Head\n\nText\n",
                                               encoding="utf-8")
    (page,) = load_content(tmp_path).pages
    assert page.markdown.splitlines()[3] == "# Head"
    assert render_markdown(page.markdown) == "<h1>Head</h1>\n<p>Text</p>"


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


def test_markdown_links_stay_on_the_site_and_images_are_files_of_the_site():
    html = render_markdown(
        r"[a](/\evil.example/x) [b](a\_b) [c](https://example.org/x) [d](//evil.example/x) "
        "[e](#top) ![remote](https://evil.example/i.png) ![up](../../../etc/i.png) "
        "![logo](assets/logo.png)\n", root="../")
    doc = fakes.parse_html(html)
    assert [a.attrs.get("href") for a in doc.find_all("a")] == [
        None, "../a_b", "https://example.org/x", None, "#top"]
    assert [(i.attrs.get("src"), i.attrs.get("alt")) for i in doc.find_all("img")] == [
        ("../assets/logo.png", "logo")]
    assert "remote" in doc.text and "up" in doc.text  # a refused image leaves its alt text


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


def test_segment_slugs_are_ascii_unique_and_depend_on_the_value_alone():
    values = ["Tech Support", "tech-support", "<script>", "ÉMEA", "日本", "email", "con",
              "email-0123456789ab", "product_line"]
    slugs = segment_slugs(values)
    assert slugs["tech-support"] == "tech-support"
    assert slugs["Tech Support"] == "tech-support-" + short_hash("Tech Support", 12)
    assert slugs["<script>"] == "script-" + short_hash("<script>", 12)
    assert slugs["ÉMEA"] == "emea-" + short_hash("ÉMEA", 12)
    assert slugs["日本"] == "x-" + short_hash("日本", 12)
    assert slugs["email"] == "email"
    assert slugs["product_line"] == "product_line"
    assert slugs["con"] == "con-" + short_hash("con", 12)  # a Windows device name
    # A plain value shaped like a hashed slug is hashed too, so it meets no other value's slug.
    assert slugs["email-0123456789ab"].startswith("email-0123456789ab-")
    assert slugs == {v: segment_slugs([v])[v] for v in values}
    assert len({s.lower() for s in slugs.values()}) == len(values)


@pytest.mark.parametrize(("value", "text"), [
    (90.79999999999995, "90.8"), (20.000000000000004, "20.0"), (-55.200000000000045, "−55.2"),
    (146.0, "146.0"), (-0.01, "0.0"), (1234.56, "1,234.6"), (-41.0, "−41.0"), (-2.3, "−2.3"),
])
def test_budget_numbers_always_have_one_decimal_and_a_true_minus(value, text):
    assert format_number(value) == text


def test_restated_values_get_just_enough_decimals_to_differ():
    assert format_pair(0.96001, 0.96004, "ratio") == ("96.001%", "96.004%")
    assert format_pair(4.529, 4.546, "hours") == ("4.53 h", "4.55 h")
    assert format_pair(0.5, 0.5, "ratio") == ("50.0%", "50.0%")
    assert format_pair(None, 3.0, "count") == ("—", "3")


# --- Review fixes: drill minutes, reasons, badge, restatements CSV, wrapping, content ------------


def test_a_late_reply_never_shows_at_or_below_its_target(tmp_path):
    rows = (fakes.drill_row(0, "late", minutes=60.03), fakes.drill_row(1, "late", minutes=60.0004),
            fakes.drill_row(2, "late", minutes=60.96), fakes.drill_row(3, "late", minutes=75.5),
            fakes.drill_row(4, "late", minutes=60.0000000001))
    figures = replace(fakes.make_figures(),
                      drill=(fakes.DrillList("week", "2026-W46", "all", "all", rows),))
    files = render_site(fakes.make_config(tmp_path), figures, fakes.make_quality(),
                        fakes.make_info())
    doc = fakes.parse_html(files["drill/week/2026-W46/all/all.html"])
    body = table(doc, "Late and unanswered interactions").find("tbody").find_all("tr")
    shown = [(cells(r)[4], cells(r)[5], cells(r)[1]) for r in body]
    assert shown == [("60.03 min", "60 min elapsed", "late"),
                     ("60.0004 min", "60 min elapsed", "late"),
                     ("61.0 min", "60 min elapsed", "late"),
                     ("75.5 min", "60 min elapsed", "late"),
                     ("60.000001 min", "60 min elapsed", "late")]
    for minutes, target, _ in shown:
        assert float(minutes.removesuffix(" min")) > float(target.split()[0])


def test_data_quality_page_labels_reasons_and_keeps_the_codes(tmp_path):
    quality = fakes.make_quality()
    drops = (replace(quality.drops[1], rejected=3, rejected_by_reason={
        "id_in_exponent": 1, "missing_required": 1, "some_new_reason": 1}),)
    rejections = tuple(replace(quality.rejections[0], reason=code) for code in (
        "missing_required", "id_in_exponent"))
    quality = replace(quality, drops=drops, rejections=rejections)
    files = render_site(fakes.make_config(tmp_path), fakes.make_figures(), quality,
                        fakes.make_info())
    doc = fakes.parse_html(files["data-quality.html"])
    reasons = table(doc, "Rows per drop").find("tbody").find_all("span", "reason")
    assert [(r.text, r.attrs["title"]) for r in reasons] == [
        ("id in exponent notation (digits lost)", "id_in_exponent"),
        ("missing required field", "missing_required"),
        ("some new reason", "some_new_reason"),
    ]
    rejected = table(doc, "Rejected rows").find("tbody").find_all("tr")
    cell = [r.find("td", "reason") for r in rejected]
    assert [c.find("code").text for c in cell] == ["missing_required", "id_in_exponent"]
    assert [c.text for c in cell] == ["missing required field missing_required",
                                      "id in exponent notation (digits lost) id_in_exponent"]
    assert "missing_required 1" not in doc.text  # no bare snake_case count


def test_overview_opens_with_one_sentence_and_a_bar_of_the_goals(site):
    doc = fakes.parse_html(site["index.html"])
    glance = doc.find("section", "glance")
    # Segment all, 2026-W46: response rate on goal, median first response off, SLA too few.
    assert glance.find("p", "glance-sentence").text == (
        "1 of 3 goals met, 1 off, 1 with too few data — Median first response 45.0 min "
        "against 30 min")
    tiles = glance.find("ul", "glance-bar").find_all("li", "glance-tile")
    assert [(t.text, t.attrs["title"]) for t in tiles] == [
        ("✓", "Response rate: on goal"), ("✗", "Median first response: off goal"),
        ("?", "SLA attainment: too few")]


def test_the_site_title_is_not_repeated_as_the_overviews_heading(site):
    doc = fakes.parse_html(site["index.html"])
    assert doc.find("p", "site-title").text == "Acme <Care> & Co"
    assert doc.find("h1").text == "Overview week 2026-W46, 2026-11-09 – 2026-11-15"
    assert not doc.find_all("img")  # the badge (off-goal count only) is in the downloads


def test_restatements_csv_writes_shortest_round_trip_values(tmp_path):
    restated = (fakes.Restatement("week", "2026-W46", "all", "all", "response_rate",
                                  0.1 + 0.2, 0.9604081632653061, 50, 51),
                fakes.Restatement("week", "2026-W46", "all", "all", "volume", 12.0, 1e-13,
                                  None, None))
    quality = replace(fakes.make_quality(), restatements=restated)
    files = render_site(fakes.make_config(tmp_path), fakes.make_figures(), quality,
                        fakes.make_info())
    lines = files["data/restatements.csv"].decode().splitlines()
    assert lines[1:] == [
        "week,2026-W46,all,all,response_rate,0.30000000000000004,0.9604081632653061,50,51",
        "week,2026-W46,all,all,volume,12,1e-13,,",
    ]


def test_captions_and_subtitles_can_wrap_on_a_narrow_screen(site):
    css = re.sub(r"/\*.*?\*/", "", site["assets/carecard.css"].decode(), flags=re.S)
    rules = {sel.strip(): body for sel, body in
             (part.split("{", 1) for part in css.split("}") if "{" in part)}
    assert "nowrap" not in rules[".dates"]
    assert "sticky" in rules[".caption-text"] and "max-width" in rules[".caption-text"]
    for path, doc in html_pages(site).items():
        for caption in doc.find_all("caption"):
            inner = [c for c in caption.children if not isinstance(c, str) or c.strip()]
            assert len(inner) == 1 and "caption-text" in inner[0].attrs.get("class", ""), path
    budget = fakes.parse_html(site["index.html"]).find("section", "budget")
    subtitle = budget.find("h2").find("span", "dates").text
    assert subtitle == "SLA attainment, 2026-11 (2026-11-01 – 2026-11-30)"


REPO = Path(__file__).resolve().parent.parent


def test_example_about_page_matches_the_example_config():
    from generator.config.loader import load_config
    from generator.site.formatting import STATUS_TEXT

    config = load_config(REPO / "config.yaml")
    text = (REPO / "content" / "about.md").read_text(encoding="utf-8")
    doc = fakes.parse_html(render_markdown(text.split("---", 2)[2]))
    prose = " ".join(doc.text.split())
    # The e-mail target: its hours on the business clock of its calendar.
    email = next(r for r in config.policy.first_response
                 if r.where.conditions.get("channel") == ("email",))
    assert email.clock == "business" and email.calendar == "uk-office"
    assert f"{email.within_minutes / 60:g} open hours for e-mail" in prose
    assert "24 hours" not in prose and "a day" not in prose
    # The SLA goal of the base policy and of each version.
    goals = [config.policy.goals["sla_attainment"]] + [
        v.goals["sla_attainment"] for v in config.policy.versions if "sla_attainment" in v.goals]
    for goal in goals:
        assert f"at least {goal.value * 100:g}%" in prose
    # The status words and symbols of the site, as a nested list.
    status = next(li for li in doc.find_all("li") if li.text.startswith("Status"))
    nested = [li.find("em").text for li in status.find("ul").find_all("li")]
    assert nested == [f"{word} {symbol}" for word, symbol in STATUS_TEXT.values()]
    for old in ("green", "amber", "red", "insufficient"):
        assert f"*{old}*" not in text


# --- At a glance, footer and print ---------------------------------------------------------------


def test_footer_gives_the_data_through_time_and_no_build_date_without_source_date_epoch(site):
    footer = fakes.parse_html(site["index.html"]).find("footer").find("p")
    assert footer.text == ("Data through 2026-11-18 12:00 GMT · times in Europe/London · "
                           "policy from 2026-11-09 · carecard 0.1.0")
    assert "built" not in footer.text


def test_footer_says_built_when_source_date_epoch_stamps_the_build(tmp_path):
    info = replace(fakes.make_info(), built_at="2026-11-26T09:30:00+00:00",
                   date_source="SOURCE_DATE_EPOCH")
    files = render_site(fakes.make_config(tmp_path), fakes.make_figures(), fakes.make_quality(),
                        info)
    footer = fakes.parse_html(files["index.html"]).find("footer").find("p")
    assert footer.text.endswith("· built 2026-11-26 09:30 GMT with carecard 0.1.0")


def test_every_printed_sheet_is_headed_by_site_data_through_and_policy_version(site):
    for path, doc in html_pages(site).items():
        links = {link.attrs["href"]: link.attrs.get("media") for link in doc.find_all("link")}
        assert links[root_of(path) + "assets/print-header.css"] == "print", path
        assert not doc.find_all("style"), path  # styles live in stylesheets only
    # The site title comes from config: CSS-escaped, so it cannot end the string or the rule.
    assert site["assets/print-header.css"] == (
        b'@page { @top-left { content: "Acme \\00003cCare\\00003e \\000026 Co \\0000b7 data '
        b'through 2026-11-18 12:00 GMT \\0000b7 policy from 2026-11-09"; } }\n')
    css = site["assets/carecard.css"].decode()
    assert 'content: "Page " counter(page) " of " counter(pages)' in css
    landscape = fakes.parse_html(site["segments/all/all.html"]).find_all("link")
    assert [link.attrs["href"] for link in landscape if link.attrs.get("media") == "print"] == [
        "../../assets/print-header.css", "../../assets/landscape.css"]


def test_no_glance_without_a_goal(tmp_path):
    figures = fakes.make_figures(metric_ids=("volume",))
    files = render_site(fakes.make_config(tmp_path), figures, fakes.make_quality(),
                        fakes.make_info())
    assert not fakes.parse_html(files["index.html"]).find_all("section", "glance")


def test_the_glance_names_the_headline_miss_sla_attainment_first(tmp_path):
    figures = fakes.make_figures()
    rows = tuple(replace(f, status="red", n=50) if (f.metric, f.period, f.dimension) == (
        "sla_attainment", "2026-W46", "all") else f for f in figures.rows)
    files = render_site(fakes.make_config(tmp_path), replace(figures, rows=rows),
                        fakes.make_quality(), fakes.make_info())
    sentence = fakes.parse_html(files["index.html"]).find("p", "glance-sentence").text
    assert sentence == "1 of 3 goals met, 2 off — SLA attainment 82.0% against 90%"
