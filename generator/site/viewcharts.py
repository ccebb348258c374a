"""Draw the hour-of-week heatmaps and the first-response bracket columns as inline SVG.

Input: the cells or columns already classified and described by :mod:`generator.site.views`;
output: an SVG fragment (Markup) for the page. Like the trend charts (generator.site.charts),
the SVG holds shapes only (and the pattern of the heatmap's empty squares), coloured by class
(`heat-3`, `bracket-0`) with the theme's CSS variables, each shape with a `<title>`; unlike
them it holds no text: the weekday, hour and period labels are HTML around it, so they keep
the page's text size at any width. Shapes are few (at most 168 cells, 8 × history columns),
so they are written directly rather than drawn with matplotlib; identical input gives
identical bytes.
"""

from __future__ import annotations

import html

from markupsafe import Markup

#: The only elements these drawings hold.
VIEW_SVG_TAGS = frozenset({"svg", "defs", "pattern", "rect", "title", "polyline"})
#: Size of a heatmap cell and the gap between cells, in SVG units.
CELL = 10.0
CELL_GAP = 1.0
#: Width of a bracket column, the gap beside it and the chart's height, in SVG units.
COLUMN = 8.0
COLUMN_GAP = 2.0
COLUMN_HEIGHT = 100.0


def _number(value: float) -> str:
    return f"{round(value, 3):g}"


def heatmap_svg(cells: list[tuple[int, int, str, str]], label: str, grid_id: str) -> Markup:
    """A 7 × 24 heatmap: one square per (weekday from 0 = Monday, hour, class, title) in
    `cells`; every other square is drawn empty by one pattern (id `grid_id`, unique in the
    page), so the drawing grows with the cells that hold a value, not with 168."""
    step = CELL + CELL_GAP
    width, height = 24 * step - CELL_GAP, 7 * step - CELL_GAP
    parts = [f'<svg class="heatmap-svg" viewBox="0 0 {_number(width)} {_number(height)}" '
             f'preserveAspectRatio="none" role="img" aria-label="{html.escape(label)}" '
             'focusable="false">',
             f'<defs><pattern id="{grid_id}" width="{_number(step)}" height="{_number(step)}" '
             'patternUnits="userSpaceOnUse"><rect class="heat-none" '
             f'width="{_number(CELL)}" height="{_number(CELL)}"/></pattern></defs>',
             f'<rect width="{_number(width)}" height="{_number(height)}" '
             f'fill="url(#{grid_id})"/>']
    for day, hour, code, title in cells:
        parts.append(f'<rect class="{code}" x="{_number(hour * step)}" '
                     f'y="{_number(day * step)}" width="{_number(CELL)}" '
                     f'height="{_number(CELL)}"><title>{html.escape(title)}</title></rect>')
    parts.append("</svg>")
    return Markup("\n".join(parts))


def brackets_svg(columns: list[list[tuple[str, float, str]]], mark: list[float | None],
                 label: str) -> Markup:
    """100% stacked columns, one per period: `columns[i]` lists (class, share, title) from the
    bottom (fastest) up; `mark[i]` is the share at the mark, drawn as a line across the
    columns (None: the period has no actionable interaction)."""
    step = COLUMN + COLUMN_GAP
    width = max(len(columns), 1) * step
    parts = [f'<svg class="brackets-svg" viewBox="0 0 {_number(width)} '
             f'{_number(COLUMN_HEIGHT)}" preserveAspectRatio="none" role="img" '
             f'aria-label="{html.escape(label)}" focusable="false">']
    for i, stack in enumerate(columns):
        x = i * step + COLUMN_GAP / 2
        bottom = COLUMN_HEIGHT
        for code, share, title in stack:
            if share <= 0:
                continue
            height = share * COLUMN_HEIGHT
            parts.append(f'<rect class="{code}" x="{_number(x)}" y="{_number(bottom - height)}" '
                         f'width="{_number(COLUMN)}" height="{_number(height)}">'
                         f'<title>{html.escape(title)}</title></rect>')
            bottom -= height
    points: list[str] = []
    for i, at in enumerate(mark):
        if at is None:
            if len(points) > 1:
                parts.append(_mark_line(points))
            points = []
            continue
        y = _number(COLUMN_HEIGHT - at * COLUMN_HEIGHT)
        points += [f"{_number(i * step)},{y}", f"{_number((i + 1) * step)},{y}"]
    if len(points) > 1:
        parts.append(_mark_line(points))
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _mark_line(points: list[str]) -> str:
    return (f'<polyline class="bracket-mark" points="{" ".join(points)}" '
            'vector-effect="non-scaling-stroke"/>')
