"""Trend charts: deterministic SVG bytes, every panel drawn, partial periods marked."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import sitefakes  # noqa: F401  (puts the repository on sys.path)

from generator.site.charts import ChartSpec, Marker, Panel, draw_chart

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
    assert "blackout" in words
    joined = " ".join(words)  # a label may be split over two lines to stay clear
    assert "policy from 2026-10-05" in joined


def test_ratio_panels_are_drawn_in_percent():
    svg = draw_chart(spec(panels=1))
    assert any(w.endswith("%") for w in texts(svg))


def test_panel_without_values_or_goals_still_draws():
    empty = ChartSpec("Empty", ("2026-W01", "2026-W02"), (False, True),
                      (Panel("Nothing", "minutes", (None, None)),))
    assert "Nothing" in texts(draw_chart(empty))


def test_charts_with_the_same_grid_reuse_one_figure_without_leftovers():
    """Creating the axes dominates a chart's cost, so a figure is reused (speed is measured by
    bench/, not here); reuse must not leak one chart's artists into the next."""
    from generator.site import charts

    thirteen, fourteen = spec(panels=13), spec(panels=14)  # both 5 rows x 3 columns
    first = draw_chart(thirteen)
    figure = charts._FIGURES[charts._grid(13)][0]
    draw_chart(fourteen)
    assert charts._FIGURES[charts._grid(14)][0] is figure
    assert draw_chart(thirteen) == first


def test_drawing_logs_no_title_position_messages(caplog):
    caplog.set_level(logging.DEBUG)
    draw_chart(spec(panels=4))
    assert "title position" not in caplog.text


def marker_texts(svg: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {"".join(t.itertext()): t for t in root.iter(f"{SVG}text")}


MARKER_WORDS = ("blackout", "policy from", "2026-")


def marker_boxes(svg: bytes) -> list[tuple[str, float, float, float, float]]:
    """(text, left, top, right, bottom) of every marker label, with measured text widths."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    measure = TextToPath()
    boxes = []
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        text = "".join(t.itertext())
        style = t.attrib.get("style", "")
        if "font-size: 6.5px" not in style or not text.startswith(MARKER_WORDS):
            continue
        size = 6.5
        width = measure.get_text_width_height_descent(
            text, FontProperties(family="DejaVu Sans", size=size), ismath=False)[0]
        x, y = float(t.attrib["x"]), float(t.attrib["y"])
        left = x - width if "text-anchor: end" in style else x
        boxes.append((text, left, y - size * 0.76, left + width, y + size * 0.24))
    return boxes


def assert_apart(boxes: list[tuple[str, float, float, float, float]]) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
            assert apart, (a, b)


def test_marker_labels_stay_inside_the_panel_and_do_not_overlap():
    chart = ChartSpec("T", LABELS, tuple(False for _ in LABELS),
                      (Panel("P", "ratio", tuple(0.5 for _ in LABELS)),),
                      (Marker(11, "policy from 2026-11-23"), Marker(4, "blackout", "blackout"),
                       Marker(5, "policy from 2026-10-05"), Marker(6, "", "blackout")))
    svg = draw_chart(chart)
    found = marker_texts(svg)
    # Near the right edge: left of its line, split so it does not cross the blackout line.
    assert "text-anchor: end" in found["2026-11-23"].attrib["style"]
    assert "" not in found  # an unlabelled marker draws only its line
    boxes = marker_boxes(svg)
    assert len(boxes) >= 4
    assert_apart(boxes)


def test_a_blackout_and_a_later_policy_change_get_apart_on_the_same_row():
    """Tech Support's chart: the outage in the 6th week, the new goal from the 10th."""
    labels = tuple(f"2026-W{w}" for w in range(36, 49))
    panels = tuple(Panel(f"M{k}", "count", tuple(5.0 for _ in labels)) for k in range(7))
    chart = ChartSpec("Team: Tech Support — weekly", labels, tuple(False for _ in labels),
                      panels, (Marker(5, "blackout", "blackout"),
                               Marker(9, "policy from 2026-11-01")))
    boxes = marker_boxes(draw_chart(chart))
    assert_apart(boxes)
    blackouts = [b for b in boxes if b[0] == "blackout"]
    policies = [b for b in boxes if b[0] == "policy from"]
    assert len(blackouts) == len(policies) == 3  # 7 panels in 3 columns: one label each
    for blackout, policy in zip(blackouts, policies):
        assert blackout[2] == policy[2]  # both on the top row of the panel
        assert blackout[3] < policy[1]  # the policy label starts right of the blackout label


def test_markers_are_drawn_on_every_panel_and_labelled_on_the_top_one_of_each_column():
    chart = spec(panels=4)  # 2 rows x 2 columns
    svg = draw_chart(chart)
    words = texts(svg)
    assert words.count("blackout") == 2
    # Every panel draws both marker lines: one dotted line collection per panel.
    root = ET.fromstring(svg)
    dotted = [g for g in root.iter(f"{SVG}g") if g.attrib.get("id", "").startswith("LineCollection")
              and any("stroke-dasharray" in p.attrib.get("style", "") for p in g.iter(f"{SVG}path"))]
    assert len(dotted) == 4
    assert all(len(list(g.iter(f"{SVG}path"))) == 2 for g in dotted)


def test_panel_titles_are_bold_text_above_each_panel():
    found = marker_texts(draw_chart(spec(panels=2)))
    assert "font-weight: 700" in found["Metric 0"].attrib["style"]
