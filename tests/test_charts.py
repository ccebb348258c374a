"""Trend charts: one inline SVG per panel, deterministic, readable, annotations clear of data."""

from __future__ import annotations

import logging
import re

import sitefakes as fakes

from generator.site.charts import (
    FONT_SIZE,
    MIN_PANEL_PX,
    PANEL_WIDTH,
    ChartSpec,
    Marker,
    Panel,
    draw_chart,
    text_width,
)

LABELS = tuple(f"2026-W{w}" for w in range(35, 48))
TICKS = tuple(label[5:] for label in LABELS)
GROUPS = ("2026",) + ("",) * (len(LABELS) - 1)


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
        notes = tuple("" if v is None else f"{LABELS[i]}: value {i} of metric {k}"
                      for i, v in enumerate(values))
        out.append(Panel(f"Metric {k}", unit, values,
                         tuple(goal for _ in range(n)) if has_goal else (),
                         tuple(band for _ in range(n)) if has_goal else (), notes,
                         f"Metric {k} over 13 weeks"))
    return ChartSpec(title, LABELS, tuple(i == n - 1 for i in range(n)), tuple(out),
                     (Marker(5, "policy from 2026-10-05"), Marker(8, "blackout", "blackout")),
                     TICKS, GROUPS)


def panels(html: bytes) -> list[fakes.Node]:
    return fakes.parse_html(html).find_all("figure", "chart-panel")


def texts(node: fakes.Node) -> list[str]:
    return [t.text for t in node.iter("text")]


def classes(node: fakes.Node) -> set[str]:
    return set((node.attrs.get("class") or "").split())


def test_chart_bytes_are_identical_for_identical_specs():
    first = draw_chart(spec())
    assert draw_chart(spec()) == first
    draw_chart(spec("Other", panels=9))
    assert draw_chart(spec()) == first


def test_a_chart_is_one_figure_per_panel_captioned_with_its_metric():
    found = panels(draw_chart(spec(panels=5)))
    assert [p.find("figcaption").text for p in found] == [f"Metric {k}" for k in range(5)]
    for k, panel in enumerate(found):
        svg = panel.find("svg")
        assert svg.attrs["role"] == "img"
        assert svg.attrs["aria-label"] == f"Metric {k} over 13 weeks"
        assert svg.attrs["viewbox"].split()[2] == f"{PANEL_WIDTH:g}"


def test_inline_svg_has_no_prolog_metadata_or_document_wide_style():
    html = draw_chart(spec())
    for unwanted in (b"<?xml", b"<!DOCTYPE", b"<metadata", b"<style", b"font-family",
                     b"Matplotlib", b"<dc:"):
        assert unwanted not in html


def test_chart_colours_are_classes_the_theme_colours_so_dark_mode_needs_no_filter():
    html = draw_chart(spec()).decode()
    assert "style=" not in html  # the page is styled by its stylesheet alone
    assert not re.findall(r'(?:fill|stroke)="#', html)
    used = set(re.findall(r'class="[^"]*?[fs]-([a-z]+)', html))
    used |= set(re.findall(r'class="[fs]-[a-z]+ [fs]-([a-z]+)"', html))
    assert {"value", "goal", "band", "grid", "text", "surface", "partial", "policy",
            "blackout", "axis"} <= used
    css = (fakes.ROOT / "templates" / "assets" / "carecard.css").read_text(encoding="utf-8")
    for role in used:
        assert f".f-{role} {{ fill: var(--chart-{role}); }}" in css
        assert f".s-{role} {{ stroke: var(--chart-{role}); }}" in css


def test_every_point_has_a_title_with_period_value_n_and_status():
    found = panels(draw_chart(spec(panels=2)))
    for k, panel in enumerate(found):
        titles = [t.text for t in panel.iter("title")]
        assert titles == [f"{LABELS[i]}: value {i} of metric {k}"
                          for i in range(len(LABELS)) if i != 3]
        assert all(t.parent.tag == "use" for t in panel.iter("title"))


def test_ids_are_unique_on_the_page_and_every_reference_resolves():
    found = panels(draw_chart(spec(panels=6)))
    ids = [n.attrs["id"] for p in found for n in p.iter() if n.attrs.get("id")]
    assert len(ids) == len(set(ids)) > 0
    for panel in found:
        own = {n.attrs["id"] for n in panel.iter() if n.attrs.get("id")}
        refs = {n.attrs["xlink:href"][1:] for n in panel.iter("use")}
        assert refs and refs <= own


def test_text_is_never_below_11_css_px_in_the_narrowest_column():
    html = draw_chart(spec(panels=6)).decode()
    sizes = {float(s) for s in re.findall(r'font-size="([\d.]+)px"', html)}
    assert sizes == {FONT_SIZE}
    assert FONT_SIZE * MIN_PANEL_PX / PANEL_WIDTH >= 11


def test_every_panel_names_its_periods_under_the_axis():
    for panel in panels(draw_chart(spec(panels=7))):
        words = texts(panel)
        assert "W47" in words and "2026" in words  # the latest period and the year
        assert sum(w.startswith("W") for w in words) >= 4


def test_ratio_panels_are_drawn_in_percent_and_durations_with_their_unit():
    ratio, minutes, hours = panels(draw_chart(spec(panels=3)))
    assert any(w.endswith("%") for w in texts(ratio))
    assert any(w.endswith(" min") for w in texts(minutes))
    assert any(w.endswith(" h") for w in texts(hours))


def test_count_axes_start_at_zero():
    count = panels(draw_chart(spec(panels=4)))[3]  # values 30 to 42
    ticks = [w for w in texts(count) if re.fullmatch(r"[\d,]+", w)]
    assert ticks[0] == "0"


def test_panel_without_values_or_goals_still_draws():
    empty = ChartSpec("Empty", ("2026-W01", "2026-W02"), (False, True),
                      (Panel("Nothing", "minutes", (None, None)),))
    (panel,) = panels(draw_chart(empty))
    assert panel.find("figcaption").text == "Nothing"


def test_drawing_logs_no_title_position_messages(caplog):
    caplog.set_level(logging.DEBUG)
    draw_chart(spec(panels=4))
    assert "title position" not in caplog.text


# --- Annotations ---------------------------------------------------------------------------------


def label_boxes(panel: fakes.Node) -> list[tuple[str, float, float, float, float]]:
    """(text, left, top, right, bottom) of every strip label (marker, 'partial')."""
    boxes = []
    for t in panel.iter("text"):
        words, anchor = t.text, t.attrs.get("text-anchor")
        if not words.startswith(("blackout", "policy", "partial")):
            continue
        width = text_width(words)
        x, y = float(t.attrs["x"] or 0), float(t.attrs["y"] or 0)
        left = x - width if anchor == "end" else x
        boxes.append((words, left, y - FONT_SIZE * 0.8, left + width, y + FONT_SIZE * 0.25))
    return boxes


def data_top(panel: fakes.Node) -> float:
    """The highest (smallest y) point drawn in the panel."""
    return min(float(u.attrs["y"] or 0) for u in panel.iter("use"))


def assert_apart(boxes: list[tuple[str, float, float, float, float]]) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2], (a, b)


def test_annotations_sit_above_the_plot_never_over_the_data():
    for panel in panels(draw_chart(spec(panels=5))):
        boxes = label_boxes(panel)
        assert {b[0] for b in boxes} == {"policy from 2026-10-05", "blackout", "partial"}
        assert max(b[4] for b in boxes) < data_top(panel) - 3
        assert all(0 <= b[1] and b[3] <= PANEL_WIDTH for b in boxes)
        assert_apart(boxes)


def test_marker_labels_stay_inside_the_panel_apart_and_off_other_lines():
    chart = ChartSpec("T", LABELS, tuple(False for _ in LABELS),
                      (Panel("P", "ratio", tuple(0.5 for _ in LABELS)),),
                      (Marker(11, "policy from 2026-11-23"), Marker(4, "blackout", "blackout"),
                       Marker(5, "policy from 2026-10-05"), Marker(6, "", "blackout")), TICKS)
    (panel,) = panels(draw_chart(chart))
    boxes = label_boxes(panel)
    assert len(boxes) == 3  # an unlabelled marker draws only its line
    assert_apart(boxes)
    assert all(0 <= b[1] and b[3] <= PANEL_WIDTH for b in boxes)
    # Near the right edge, the label sits left of its line.
    late = next(t for t in panel.iter("text") if t.text == "policy from 2026-11-23")
    assert late.attrs["text-anchor"] == "end"


def marker_lines(panel: fakes.Node) -> list[tuple[float, float]]:
    """(x, top y) of every policy-change and blackout line."""
    lines = []
    for path in panel.iter("path"):
        if classes(path) & {"s-policy", "s-blackout"}:
            numbers = [float(v) for v in re.findall(r"[\d.]+", path.attrs["d"] or "")]
            lines.append((numbers[0], min(numbers[1], numbers[3])))
    return lines


def test_a_blackout_and_a_later_policy_change_are_labelled_without_crossing():
    """Tech Support's chart: the outage in the 6th week, the new goal from the 10th."""
    labels = tuple(f"2026-W{w}" for w in range(36, 49))
    chart = ChartSpec("Team: Tech Support — weekly", labels, tuple(False for _ in labels),
                      tuple(Panel(f"M{k}", "count", tuple(5.0 for _ in labels))
                            for k in range(3)),
                      (Marker(5, "blackout", "blackout"), Marker(9, "policy from 2026-11-01")),
                      tuple(label[5:] for label in labels))
    for panel in panels(draw_chart(chart)):
        boxes = label_boxes(panel)
        assert sorted(b[0] for b in boxes) == ["blackout", "policy from 2026-11-01"]
        assert_apart(boxes)
        lines = marker_lines(panel)
        assert len(lines) == 2
        for words, left, _, right, bottom in boxes:
            for x, top in lines:
                assert not (left + 1 < x < right - 1 and top < bottom), (words, x)


def test_a_text_from_the_data_is_drawn_literally_without_control_characters():
    chart = ChartSpec("T", ("2026-W01", "2026-W02"), (False, False),
                      (Panel("$\\frac{$ <b>\x07", "count", (1.0, 2.0),
                             notes=("a\x01 <i>", "b"), summary="s\x1b <u>"),))
    (panel,) = panels(draw_chart(chart))
    assert panel.find("figcaption").text == "$\\frac{$ <b>"
    assert panel.find("svg").attrs["aria-label"] == "s  <u>"
    assert [t.text for t in panel.iter("title")] == ["a <i>", "b"]  # (spaces collapsed)
    assert not panel.find_all("b") and not panel.find_all("i")
