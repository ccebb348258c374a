"""Trend charts: deterministic SVG bytes, every panel drawn, partial periods marked."""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET

import sitefakes  # noqa: F401  (puts the repository on sys.path)

from generator.charts import ChartSpec, Marker, Panel, draw_chart

SVG = "{http://www.w3.org/2000/svg}"
LABELS = tuple(f"2026-W{w}" for w in range(35, 48))


def spec(title: str = "Channel: email — weekly", panels: int = 4) -> ChartSpec:
    n = len(LABELS)
    kinds = ("ratio", "minutes", "hours", "count", "score")
    out = []
    for k in range(panels):
        unit = kinds[k % len(kinds)]
        values = tuple(None if i == 3 else (0.8 + 0.01 * i if unit == "ratio" else 30.0 + i)
                       for i in range(n))
        goal = 0.9 if unit == "ratio" else 35.0
        band = (goal - 0.05, goal) if unit == "ratio" else (goal, goal * 1.1)
        has_goal = k % 2 == 0
        out.append(Panel(f"Metric {k}", unit, values,
                         tuple(goal for _ in range(n)) if has_goal else (),
                         tuple(band for _ in range(n)) if has_goal else ()))
    return ChartSpec(title, LABELS, tuple(i == n - 1 for i in range(n)), tuple(out),
                     (Marker(5, "policy from 2026-10-05"), Marker(8, "blackout", "blackout")))


def texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_chart_bytes_are_identical_for_identical_specs():
    first = draw_chart(spec())
    assert draw_chart(spec()) == first


def test_a_reused_figure_draws_the_same_bytes_as_a_fresh_one():
    first = draw_chart(spec("A"))
    draw_chart(spec("B", panels=4))  # same grid, different content
    draw_chart(spec("C", panels=9))  # other grid
    assert draw_chart(spec("A")) == first


def test_chart_is_svg_without_dates_and_with_its_titles_as_text():
    svg = draw_chart(spec())
    assert svg.startswith(b"<?xml")
    assert b"<dc:date>" not in svg
    words = texts(svg)
    assert "Channel: email — weekly" in words
    assert {"Metric 0", "Metric 1", "Metric 2", "Metric 3"} <= set(words)
    assert words.count("partial") == 4
    assert "policy from 2026-10-05" in words and "blackout" in words


def test_ratio_panels_are_drawn_in_percent():
    svg = draw_chart(spec(panels=1))
    assert any(w.endswith("%") for w in texts(svg))


def test_panel_without_values_or_goals_still_draws():
    empty = ChartSpec("Empty", ("2026-W01", "2026-W02"), (False, True),
                      (Panel("Nothing", "minutes", (None, None)),))
    assert "Nothing" in texts(draw_chart(empty))


def test_a_thirteen_panel_chart_draws_quickly_once_the_figure_exists():
    big = spec(panels=13)
    draw_chart(big)
    start = time.perf_counter()
    for _ in range(3):
        draw_chart(big)
    # The goal is about 0.15 s; the bound is loose so slow CI machines do not flake.
    assert (time.perf_counter() - start) / 3 < 0.6


def test_drawing_logs_no_title_position_messages(caplog):
    caplog.set_level(logging.DEBUG)
    draw_chart(spec(panels=4))
    assert "title position" not in caplog.text


def marker_texts(svg: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {"".join(t.itertext()): t for t in root.iter(f"{SVG}text")}


def test_marker_labels_stay_inside_the_panel_and_do_not_overlap():
    chart = ChartSpec("T", LABELS, tuple(False for _ in LABELS),
                      (Panel("P", "ratio", tuple(0.5 for _ in LABELS)),),
                      (Marker(11, "policy from 2026-11-23"), Marker(4, "blackout", "blackout"),
                       Marker(5, "policy from 2026-10-05"), Marker(6, "", "blackout")))
    found = marker_texts(draw_chart(chart))
    late = found["policy from 2026-11-23"]
    assert "text-anchor: end" in late.attrib["style"]  # near the right edge: left of its line
    assert "text-anchor: start" in found["blackout"].attrib["style"]
    rows = {float(found[k].attrib["y"]) for k in ("blackout", "policy from 2026-10-05")}
    assert len(rows) == 2  # neighbours are stacked, not drawn over each other
    assert "" not in found  # an unlabelled marker draws only its line


def test_panel_titles_are_bold_text_above_each_panel():
    found = marker_texts(draw_chart(spec(panels=2)))
    assert "font-weight: 700" in found["Metric 0"].attrib["style"]
