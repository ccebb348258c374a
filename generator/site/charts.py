"""Draw trend charts with matplotlib: one small SVG per metric, for embedding in the page.

Input is a :class:`ChartSpec` built by :mod:`generator.site.pages`; output is an HTML fragment
(bytes): one ``<figure class="chart-panel">`` per panel, its title as the caption and its plot
as inline SVG. The SVG's colours are classes (``f-value``, ``s-goal`` …) that the theme colours
with CSS variables for light and dark schemes, it has no ``style`` attribute (the page's
styling stays in its stylesheet), and its text takes the page's font, so a chart looks
like the page around it; every point carries a ``<title>`` (period, value, n and status).

The bytes are identical for identical specs (Agg backend, fixed ``svg.hashsalt``, no date
metadata, text kept as text). A panel's geometry is laid out here in SVG units (1 unit = 1 pt
of the matplotlib figure): the page scales a panel to its column, and the theme keeps a column
at least ``MIN_PANEL_PX`` CSS pixels wide so that text is never smaller than ``FONT_SIZE ×
MIN_PANEL_PX / PANEL_WIDTH`` (11.2 px). Annotations (policy changes, blackouts, the partial
period) are labelled in a strip above the plot, never over the data.
"""

from __future__ import annotations

import functools
import html
import io
import math
import re
from dataclasses import dataclass
from typing import Any, cast

#: Panel width in SVG units; the theme's narrowest column is MIN_PANEL_PX CSS pixels.
PANEL_WIDTH = 300.0
MIN_PANEL_PX = 280.0
#: Size of every text in a panel, in SVG units (11.2 CSS px in the narrowest column).
FONT_SIZE = 12.0
#: Plot height and the vertical rhythm around it, in SVG units.
PLOT_HEIGHT = 118.0
LINE = 14.0
STRIP_ROW = 15.0
GAP = 4.0
TICK_GAP = 6.0
RIGHT_MARGIN = 10.0

#: Stand-in colours drawn by matplotlib, and the role each stands for. The inline SVG names the
#: role by class instead (`f-value`: filled, `s-value`: stroked), and the theme colours it with
#: its CSS variables (`--chart-value` …) for the light and the dark scheme. Each stand-in is a
#: colour nothing else uses, so the replacement is exact.
COLOURS = {
    "#0c0a01": "value",
    "#0c0a02": "goal",
    "#0c0a03": "band",
    "#0c0a04": "policy",
    "#0c0a05": "blackout",
    "#0c0a06": "grid",
    "#0c0a07": "text",
    "#0c0a08": "surface",
    "#0c0a09": "partial",
    "#0c0a0a": "axis",
}
_ROLE = {role: colour for colour, role in COLOURS.items()}
VALUE, GOAL, BAND = _ROLE["value"], _ROLE["goal"], _ROLE["band"]
GRID, TEXT, SURFACE = _ROLE["grid"], _ROLE["text"], _ROLE["surface"]
PARTIAL, AXIS = _ROLE["partial"], _ROLE["axis"]
MARKER_COLOURS = {"policy": _ROLE["policy"], "blackout": _ROLE["blackout"], "partial": TEXT}
#: The only elements a panel's SVG holds (checked as it is made).
SVG_TAGS = frozenset({"svg", "defs", "g", "path", "use", "text", "title"})
#: The style properties matplotlib writes, kept as presentation attributes (the page holds no
#: `style` attribute: the theme styles by class).
PRESENTATION = frozenset({
    "fill", "stroke", "stroke-width", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
    "stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "fill-opacity", "opacity",
    "font-size", "font-weight", "font-style", "text-anchor",
})

#: Control characters: most cannot be written in XML or HTML and none can be drawn; a text from
#: the data or config shows each as a space.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_RC: dict[str, Any] = {
    "svg.hashsalt": "carecard",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": FONT_SIZE,
    "path.simplify": False,
}


@dataclass(frozen=True)
class Panel:
    """One small multiple: one metric over the chart's periods."""

    title: str
    """Panel title (the metric label)."""
    unit: str
    """Metric unit: ratio (drawn as %), minutes, hours, count (axis from zero) or score."""
    values: tuple[float | None, ...]
    """Value per period in the metric's unit (ratios as fractions); None = no value."""
    goals: tuple[float | None, ...] = ()
    """Goal per period (same unit); empty or None where there is no goal."""
    bands: tuple[tuple[float, float] | None, ...] = ()
    """Amber band (low, high) per period: between the goal and goal ∓ tolerance."""
    notes: tuple[str, ...] = ()
    """Per period: the point's tooltip, e.g. '2026-W47: 97.0% (n = 332), on goal'."""
    summary: str = ""
    """The panel's text alternative (its SVG's aria-label); the title when empty."""


@dataclass(frozen=True)
class Marker:
    """A vertical annotation at one period (policy change, blackout)."""

    index: int
    """Index into the chart's periods (a policy marker is drawn just before that period)."""
    label: str
    """Short text shown above the plot ('' draws the line only)."""
    kind: str = "policy"
    """`policy` or `blackout` (chooses the colour)."""


@dataclass(frozen=True)
class ChartSpec:
    """Everything needed to draw one segment chart."""

    title: str
    """Chart title (e.g. 'Channel: email — weekly'); the page shows it, the panels do not."""
    x_labels: tuple[str, ...]
    """Period labels, oldest first."""
    partial: tuple[bool, ...]
    """Per period: True when the period is partial (hollow point, shaded, labelled)."""
    panels: tuple[Panel, ...]
    """One panel per metric that has data."""
    markers: tuple[Marker, ...] = ()
    """Policy-change and blackout markers, drawn on every panel."""
    ticks: tuple[str, ...] = ()
    """Short period labels under the axis ('W47'); the x_labels when empty."""
    groups: tuple[str, ...] = ()
    """A second line under a tick ('2026' where the year starts or changes), '' elsewhere."""


@dataclass(frozen=True)
class _Layout:
    """Where a chart's panels put things (shared by every panel of the chart), in SVG units
    measured from the top left."""

    height: float
    left: float
    plot_top: float
    x_ticks: tuple[int, ...]
    labels: tuple[tuple[str, str, float, bool, int], ...]
    """Strip labels: (kind, text, anchor x in data units, left of the anchor?, row)."""
    lines: tuple[tuple[float, str, int], ...]
    """Marker lines: (x in data units, kind, the strip row it rises to, or -1: the plot)."""

    @property
    def plot_bottom(self) -> float:
        return self.plot_top + PLOT_HEIGHT


def draw_chart(spec: ChartSpec) -> bytes:
    """Draw `spec` as one inline-SVG figure per panel and return the HTML bytes."""
    import matplotlib

    matplotlib.use("Agg")
    scales = [_y_scale(panel, len(spec.x_labels)) for panel in spec.panels]
    layout = _layout(spec, scales)
    with matplotlib.rc_context(cast(Any, _RC)):
        svg = _draw(spec, scales, layout)
    return _inline_panels(spec, layout, svg).encode("utf-8")


# --- Layout -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    bottom: float
    top: float
    factor: float
    ticks: tuple[tuple[float, str], ...]


def _unit_suffix(unit: str) -> tuple[float, str]:
    if unit == "ratio":
        return 100.0, "%"
    return 1.0, {"minutes": " min", "hours": " h"}.get(unit, "")


def _y_scale(panel: Panel, n: int) -> _Scale:
    """The value range and labelled ticks of a panel (counts start at zero)."""
    from matplotlib.ticker import MaxNLocator

    factor, suffix = _unit_suffix(panel.unit)
    finite = [v * factor for v in panel.values[:n] if v is not None]
    finite += [g * factor for g in panel.goals[:n] if g is not None]
    finite += [b * factor for band in panel.bands[:n] if band is not None for b in band]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if panel.unit == "count" and lo >= 0:
        lo = 0.0
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.1, 1.0)
    bottom = lo if panel.unit == "count" and lo == 0 else lo - pad
    if lo >= 0 > bottom:
        bottom = 0.0
    top = hi + pad
    if panel.unit == "ratio" and lo >= 0 and hi <= factor:
        top = min(top, factor)  # a share never exceeds 100%: no '105%' tick
    locator = MaxNLocator(nbins=4, integer=panel.unit == "count")
    span = top - bottom
    ticks = [float(y) for y in locator.tick_values(bottom, top)
             if bottom - 1e-9 * span <= y <= top + 1e-9 * span]
    return _Scale(bottom, top, factor, tuple((y, _tick_text(y, suffix)) for y in ticks))


def _tick_text(y: float, suffix: str) -> str:
    text = f"{y:,.10g}" if abs(y) >= 1000 else f"{y:.10g}"
    return text.replace("-", "−") + suffix


@functools.lru_cache(maxsize=4096)
def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Width of `text` in SVG units, measured in DejaVu Sans and rounded up by a tenth (the page's
    font may be a little wider)."""
    from matplotlib.font_manager import FontProperties

    width = _measurer().get_text_width_height_descent(
        text, FontProperties(family="DejaVu Sans", size=size), ismath=False)[0]
    return float(width) * 1.1


@functools.cache
def _measurer() -> Any:
    from matplotlib.textpath import TextToPath

    return TextToPath()


def _layout(spec: ChartSpec, scales: list[_Scale]) -> _Layout:
    n = len(spec.x_labels)
    widest = max((text_width(t) for s in scales for _, t in s.ticks), default=0.0)
    left = math.ceil(widest + 2 * GAP)
    plot_width = PANEL_WIDTH - left - RIGHT_MARGIN
    per_unit = plot_width / max(n, 1)  # SVG units per period

    ticks = spec.ticks or spec.x_labels
    tick_width = max((text_width(t) for t in ticks), default=0.0) + 2 * GAP
    step = max(1, math.ceil(tick_width / per_unit))
    x_ticks = tuple(i for i in range(n) if (n - 1 - i) % step == 0)

    markers = [m for m in sorted(spec.markers, key=lambda m: (m.index, m.kind))
               if 0 <= m.index < n]
    markers += [Marker(i, "partial", "partial") for i, p in enumerate(spec.partial[:n]) if p]
    xs = [m.index - 0.5 if m.kind == "policy" else float(m.index) for m in markers]
    x0 = left + per_unit / 2  # SVG x of period 0
    edges = ((2 - x0) / per_unit, (PANEL_WIDTH - 2 - x0) / per_unit)
    shown = [k for k, m in enumerate(markers) if m.label]
    places = dict(zip(shown, _place_labels(
        [(xs[k], markers[k].label, markers[k].kind != "partial") for k in shown], per_unit,
        edges)))
    labels = tuple((markers[k].kind, markers[k].label, places[k][2], places[k][0], places[k][1])
                   for k in shown)
    # A line rises to its label's row (to just below a label moved to the panel's edge, off
    # its line); a partial period is shaded, not marked by a line.
    lines = tuple((xs[k], m.kind, -1 if k not in places else
                   places[k][1] + (places[k][2] != xs[k]))
                  for k, m in enumerate(markers) if m.kind != "partial")
    rows = 1 + max((r for *_, r in labels), default=-1)
    plot_top = GAP + rows * STRIP_ROW + (GAP if rows else 0)
    bottom = TICK_GAP + LINE + (LINE if any(spec.groups) else 0) + GAP
    height = math.ceil(plot_top + PLOT_HEIGHT + bottom)
    return _Layout(float(height), float(left), plot_top, x_ticks, labels, lines)


#: Most strip labels placed by trying every arrangement (more are placed one by one), and the
#: rows tried for each.
MAX_SEARCHED_LABELS = 4
SEARCHED_ROWS = 3


def _place_labels(items: list[tuple[float, str, bool]], per_unit: float,
                  edges: tuple[float, float]) -> list[tuple[bool, int, float]]:
    """Choose (left of its anchor?, row, anchor) for every strip label `(x, text, has a
    line)`; the anchor is the label's line, or the panel's edge for a label too wide to sit
    beside its line (its line then stops just below it).

    Labels stay within the panel and never overlap one another. A marker's line rises to its
    label's row, so a label crosses another marker's line when it spans the line's x in that
    row or a lower one; of the arrangements without overlaps, the best crosses the fewest
    lines, then uses the fewest rows, then keeps labels beside their lines, right of them."""
    import itertools

    spans = [(text_width(text) + 3) / per_unit for _, text, _ in items]
    rows = range(min(len(items), SEARCHED_ROWS))
    options: list[list[tuple[bool, int, float]]] = []
    for (x, _, _), span in zip(items, spans):
        sides = [left for left in (False, True)
                 if (x - span if left else x) >= edges[0] - 1e-9
                 and (x if left else x + span) <= edges[1] + 1e-9]
        if sides:
            options.append([(left, row, x) for row in rows for left in sides])
        else:  # against the nearer edge
            right_half = x > (edges[0] + edges[1]) / 2
            anchor = edges[1] if right_half else edges[0]
            options.append([(right_half, row, anchor) for row in rows])

    def extent(i: int, left: bool, anchor: float) -> tuple[float, float]:
        return (anchor - spans[i], anchor) if left else (anchor, anchor + spans[i])

    def reach(i: int, choice: tuple[tuple[bool, int, float], ...]) -> int:
        """The highest row the line of label i rises to."""
        _, row, anchor = choice[i]
        return row + (anchor != items[i][0])

    def score(choice: tuple[tuple[bool, int, float], ...]) -> tuple[int, int, int, int] | None:
        boxes = [(*extent(i, left, anchor), row) for i, (left, row, anchor) in enumerate(choice)]
        for i, (lo, hi, row) in enumerate(boxes):
            if any(r == row and lo < b and a < hi for a, b, r in boxes[i + 1:]):
                return None
        crossings = sum(1 for i, (lo, hi, row) in enumerate(boxes)
                        for j, (x, _, line) in enumerate(items)
                        if j != i and line and lo < x < hi and reach(j, choice) <= row)
        return (crossings, max(r for _, r, _ in choice),
                sum(r + 2 * (a != items[i][0]) for i, (_, r, a) in enumerate(choice)),
                sum(left for left, _, _ in choice))

    if not items:
        return []
    if len(items) <= MAX_SEARCHED_LABELS:
        best = None
        for choice in itertools.product(*options):
            key = score(choice)
            if key is not None and (best is None or key < best[0]):
                best = (key, choice)
        if best is not None:
            return list(best[1])
    # Many labels: one by one, each in the first row where it overlaps nothing.
    placed: list[tuple[bool, int, float]] = []
    for i, opts in enumerate(options):
        left, _, anchor = opts[0]
        lo, hi = extent(i, left, anchor)
        row = 0
        while any(r == row and lo < extent(j, lf, an)[1] and extent(j, lf, an)[0] < hi
                  for j, (lf, r, an) in enumerate(placed)):
            row += 1
        placed.append((left, row, anchor))
    return placed


# --- Drawing ------------------------------------------------------------------------------------


def _draw(spec: ChartSpec, scales: list[_Scale], layout: _Layout) -> str:
    """Draw every panel, one under the other, in one figure and return its SVG text.

    One figure and one savefig for the whole chart: the renderer measures each distinct text
    once (the same tick labels recur on every panel), and there is one SVG to write. Every
    artist's gid names its panel (`k3`, `k3-points`) so `_inline_panels` can cut the SVG apart.
    No Axes: a panel's data-to-SVG mapping is two affine transforms, and nothing is clipped.
    """
    from matplotlib.figure import Figure

    height = layout.height * max(1, len(spec.panels))
    # 72 dpi: one display pixel is one point is one SVG unit.
    fig = Figure(figsize=(PANEL_WIDTH / 72, height / 72), dpi=72)
    fig.patch.set_visible(False)
    for k, (panel, scale) in enumerate(zip(spec.panels, scales)):
        for artist in _panel_artists(spec, panel, scale, layout, k, height):
            fig.add_artist(artist)
    out = io.BytesIO()
    fig.savefig(out, format="svg", metadata={"Date": None}, facecolor="none")
    return out.getvalue().decode("utf-8")


def _panel_artists(spec: ChartSpec, panel: Panel, scale: _Scale, layout: _Layout, k: int,
                   figure_height: float) -> list[Any]:
    """The artists of panel `k` (its top at `k` panel heights from the figure's top)."""
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.text import Text
    from matplotlib.transforms import Affine2D, IdentityTransform

    n = len(spec.x_labels)
    top = k * layout.height  # of this panel, in SVG units from the figure's top
    per_unit = (PANEL_WIDTH - RIGHT_MARGIN - layout.left) / max(n, 1)
    x0 = layout.left + per_unit / 2  # SVG x of period 0
    y0 = figure_height - (top + layout.plot_bottom)  # display y of the plot's bottom edge
    span = (scale.top - scale.bottom) or 1.0
    # Data (period index, value) and (period index, fraction of the plot's height) to display.
    data = Affine2D().translate(0, -scale.bottom).scale(per_unit, PLOT_HEIGHT / span)
    data = data.translate(x0, y0)
    xaxis = Affine2D().scale(per_unit, PLOT_HEIGHT).translate(x0, y0)
    gid = f"k{k}"
    artists: list[Any] = []

    def add(artist: Any, name: str = "") -> None:
        artist.set_gid(f"{gid}-{name}" if name else gid)
        artists.append(artist)

    def scaled(seq: tuple[Any, ...]) -> list[float]:
        return [math.nan if v is None else v * scale.factor for v in (list(seq) + [None] * n)[:n]]

    values, goals = scaled(panel.values), scaled(panel.goals)
    bands = (list(panel.bands) + [None] * n)[:n]
    partial = (list(spec.partial) + [False] * n)[:n]

    # Behind everything: the partial periods' shading, the amber band, the grid, the axis.
    shade = [[(i - 0.5, 0.0), (i + 0.5, 0.0), (i + 0.5, 1.0), (i - 0.5, 1.0)]
             for i in range(n) if partial[i]]
    if shade:
        add(PolyCollection(shade, transform=xaxis, facecolors=PARTIAL, linewidths=0, zorder=0))
    band_polys = _step_polygons(bands, scale.factor)
    if band_polys:
        add(PolyCollection(band_polys, transform=data, facecolors=BAND, linewidths=0,
                           zorder=0.5))
    add(LineCollection([[(-0.5, y), (n - 0.5, y)] for y, _ in scale.ticks], transform=data,
                       colors=GRID, linewidths=0.8, zorder=0.6))
    add(Line2D([-0.5, n - 0.5], [0, 0], transform=xaxis, color=AXIS, linewidth=1.0,
               zorder=0.7))
    for x, kind, row in layout.lines:
        line_top = layout.plot_top if row < 0 else GAP + row * STRIP_ROW
        add(Line2D([x, x], [0.0, 1.0 + (layout.plot_top - line_top) / PLOT_HEIGHT],
                   transform=xaxis, color=MARKER_COLOURS.get(kind, GOAL), linewidth=1.0,
                   linestyle=(0, (1.5, 2)), zorder=0.8))
    if any(not math.isnan(g) for g in goals):
        add(Line2D(range(n), goals, transform=data, drawstyle="steps-mid", linestyle=(0, (5, 3)),
                   color=GOAL, linewidth=1.4, zorder=1))

    complete = [v if not p else math.nan for v, p in zip(values, partial)]
    add(Line2D(range(n), complete, transform=data, color=VALUE, linewidth=2.0, zorder=2))
    for i in (i for i in range(n) if partial[i] and not math.isnan(values[i])):
        prev = next((j for j in range(i - 1, -1, -1) if not math.isnan(values[j])), None)
        if prev is not None:
            add(Line2D([prev, i], [values[prev], values[i]], transform=data, color=VALUE,
                       linewidth=1.6, linestyle=(0, (3, 2.5)), zorder=2))
    add(Line2D(range(n), complete, transform=data, linestyle="none", marker="o", markersize=6.5,
               color=VALUE, markeredgecolor=SURFACE, markeredgewidth=1.0, zorder=3), "points")
    hollow = [v if p else math.nan for v, p in zip(values, partial)]
    if any(not math.isnan(v) for v in hollow):
        add(Line2D(range(n), hollow, transform=data, linestyle="none", marker="o", markersize=7,
                   markerfacecolor=SURFACE, markeredgecolor=VALUE, markeredgewidth=1.8,
                   zorder=3), "hollow")

    # Texts, placed in SVG units from the panel's top left (display units run from the bottom).
    identity = IdentityTransform()

    def text(x: float, y: float, words: str, **style: Any) -> None:
        add(Text(x, figure_height - top - y, _drawable(words), transform=identity,
                 fontsize=FONT_SIZE, parse_math=False,
                 **{"color": TEXT, **style}))

    def x_of(i: float) -> float:
        return x0 + i * per_unit

    for y, words in scale.ticks:
        text(layout.left - GAP, layout.plot_bottom - (y - scale.bottom) * PLOT_HEIGHT / span,
             words, ha="right", va="center_baseline")
    ticks = spec.ticks or spec.x_labels
    for i in layout.x_ticks:
        text(x_of(i), layout.plot_bottom + TICK_GAP, ticks[i], ha="center", va="top")
    for i, group in enumerate((list(spec.groups) + [""] * n)[:n]):
        if group:
            text(x_of(i), layout.plot_bottom + TICK_GAP + LINE, group, ha="center", va="top")
    for kind, words, x, left_side, row in layout.labels:
        text(x_of(x) + (-2.0 if left_side else 2.0), GAP + row * STRIP_ROW, words,
             ha="right" if left_side else "left", va="top", color=MARKER_COLOURS.get(kind, TEXT))
    return artists


def _step_polygons(bands: list[tuple[float, float] | None],
                   factor: float) -> list[list[tuple[float, float]]]:
    """The amber band as one step-shaped polygon per run of periods that have one."""
    polygons = []
    i = 0
    while i < len(bands):
        if bands[i] is None:
            i += 1
            continue
        j = i
        while j + 1 < len(bands) and bands[j + 1] is not None:
            j += 1
        lower: list[tuple[float, float]] = []
        upper: list[tuple[float, float]] = []
        for k in range(i, j + 1):
            low, high = cast(tuple[float, float], bands[k])
            lower += [(k - 0.5, low * factor), (k + 0.5, low * factor)]
            upper += [(k - 0.5, high * factor), (k + 0.5, high * factor)]
        polygons.append(lower + upper[::-1])
        i = j + 1
    return polygons


def _drawable(text: str) -> str:
    """A text from the data or config as drawn: literally (a `$` is no math, so no value can
    fail the build) and with control characters as spaces (the SVG stays well-formed)."""
    return _CONTROL.sub(" ", text)


# --- SVG to inline HTML -------------------------------------------------------------------------

_FIGURE_OPEN = '<g id="figure_1">'
_TAG = re.compile(r'<g(?: id="([^"]*)")?[^>]*?(/?)>|</g>')
_DEF = re.compile(r'<defs>\s*(<path id="([^"]+)".*?/>)\s*</defs>', re.S)
_ROTATE = re.compile(r' transform="rotate\(-?0 [^"]*\)"')
_GROUP_ID = re.compile(r'<g id="[^"]*">')
_USE = re.compile(r"<use ([^>]*?)/>")
_STYLE = re.compile(r' style="([^"]*)"')
_ELEMENT = re.compile(r"<([a-zA-Z][\w:-]*)")
_IDS = re.compile(r'(id="|href="#)')
_REF = re.compile(r'href="#([^"]+)"')


def _attributes(style: re.Match[str]) -> str:
    """A matplotlib `style` as presentation attributes, its stand-in colours as classes."""
    classes, attributes = [], []
    for part in style.group(1).split(";"):
        key, _, value = (t.strip() for t in part.partition(":"))
        if not key or key == "font-family":  # the text takes the page's font
            continue
        if value in COLOURS and key in ("fill", "stroke"):
            classes.append(f"{key[0]}-{COLOURS[value]}")
        elif key in PRESENTATION and value not in COLOURS:
            attributes.append(f' {key}="{value}"')
        else:
            raise ValueError(f"chart SVG: unexpected style '{key}: {value}'")
    return (f' class="{" ".join(classes)}"' if classes else "") + "".join(attributes)


def _inline_panels(spec: ChartSpec, layout: _Layout, svg: str) -> str:
    """Cut the chart's SVG into one inline `<svg>` per panel, each in a `<figure>` with the
    panel's title as caption: no prolog or document-wide style, page fonts and colours, ids
    unique within the page, and a `<title>` on every point."""
    start = svg.index(_FIGURE_OPEN) + len(_FIGURE_OPEN)
    blocks: list[list[str]] = [[] for _ in spec.panels]
    defs: dict[str, str] = {}  # matplotlib writes a marker's definition once, where first used
    depth, block_start, gid = 0, start, ""
    for tag in _TAG.finditer(svg, start):
        if tag.group(0) == "</g>":
            depth -= 1
            if depth < 0:  # the end of the figure
                break
            if depth == 0:
                owner = gid.partition("-")[0]
                blocks[int(owner.removeprefix("k"))].append(svg[block_start:tag.end()])
        elif not tag.group(2):  # an opening tag (a self-closing one is an empty group)
            if depth == 0:
                block_start, gid = tag.start(), tag.group(1) or ""
            depth += 1
    n = len(spec.x_labels)
    partial = (list(spec.partial) + [False] * n)[:n]
    width = f"{PANEL_WIDTH:g}"
    parts = []
    for k, panel in enumerate(spec.panels):
        body = "\n".join(blocks[k])
        for found in _DEF.finditer(body):
            defs[found.group(2)] = found.group(1)
        body = _DEF.sub("", body)
        wanted = sorted(set(_REF.findall(body)))
        head = "".join(defs[ref] for ref in wanted if ref in defs)
        notes = (list(panel.notes) + [""] * n)[:n]
        values = (list(panel.values) + [None] * n)[:n]
        body = _titles(body, f"k{k}-points", [notes[i] for i in range(n)
                                              if values[i] is not None and not partial[i]])
        body = _titles(body, f"k{k}-hollow", [notes[i] for i in range(n)
                                              if values[i] is not None and partial[i]])
        if head:
            body = f"<defs>{head}</defs>\n{body}"
        body = _GROUP_ID.sub("<g>", body)
        body = _STYLE.sub(_attributes, _ROTATE.sub("", body))
        body = _IDS.sub(rf"\g<1>c{k}-", body)
        unexpected = set(_ELEMENT.findall(body)) - SVG_TAGS
        if unexpected:
            raise ValueError(f"chart SVG: unexpected elements {sorted(unexpected)}")
        label = html.escape(_drawable(panel.summary or panel.title))
        view = f"0 {k * layout.height:g} {width} {layout.height:g}"
        parts.append(
            f'<figure class="chart-panel"><figcaption>{html.escape(_drawable(panel.title))}'
            '</figcaption>\n'
            f'<svg viewBox="{view}" role="img" aria-label="{label}">\n{body}\n</svg></figure>\n')
    return "".join(parts)


def _titles(body: str, gid: str, notes: list[str]) -> str:
    """Give the first `len(notes)` points (`<use>`) after the group `gid` a `<title>` each."""
    start = body.find(f'<g id="{gid}">')
    if start < 0 or not notes:
        return body
    out = [body[:start]]
    pos = start
    for note, use in zip(notes, _USE.finditer(body, start)):
        if note:
            out.append(body[pos:use.start()])
            out.append(f"<use {use.group(1).rstrip()}><title>{html.escape(_drawable(note))}"
                       "</title></use>")
            pos = use.end()
    out.append(body[pos:])
    return "".join(out)
