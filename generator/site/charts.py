"""Draw trend charts (SVG) with matplotlib: one figure of small multiples per segment page.

Input is a :class:`ChartSpec` built by :mod:`generator.site.pages`; output is SVG bytes that are
identical for identical specs (Agg backend, fixed ``svg.hashsalt``, no date metadata, text kept
as text). Figures are reused between charts with the same grid because creating axes dominates
the cost of a small chart.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any, cast

#: Colours shared with the CSS (see templates/assets/carecard.css).
VALUE_COLOUR = "#1f5fa8"
GOAL_COLOUR = "#4a4a4a"
BAND_COLOUR = "#f0a202"
MARKER_COLOURS = {"policy": "#6b4fa0", "blackout": "#8a8a8a"}

#: Control characters: most cannot be written in XML (the SVG would not load) and none can be
#: drawn; a text from the data draws each as a space.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_RC: dict[str, Any] = {
    "svg.hashsalt": "carecard",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "path.simplify": False,
    # Automatic title placement (the default): panel titles are annotations, not axes titles
    # (see _draw_panel), so matplotlib has nothing to place and skips the work.
    "axes.titley": None,
}
#: Gap between a panel's top edge and its title, in points.
TITLE_PAD = 4.0
MARKER_FONT_SIZE = 6.5


@dataclass(frozen=True)
class Panel:
    """One small multiple: one metric over the chart's periods."""

    title: str
    """Panel title (the metric label)."""
    unit: str
    """Metric unit: ratio (drawn as %), minutes, hours, count or score."""
    values: tuple[float | None, ...]
    """Value per period in the metric's unit (ratios as fractions); None = no value."""
    goals: tuple[float | None, ...] = ()
    """Goal per period (same unit); empty or None where there is no goal."""
    bands: tuple[tuple[float, float] | None, ...] = ()
    """Amber band (low, high) per period: between the goal and goal ∓ tolerance."""


@dataclass(frozen=True)
class Marker:
    """A vertical annotation at one period (policy change, blackout)."""

    index: int
    """Index into the chart's periods (a policy marker is drawn just before that period)."""
    label: str
    """Short text drawn beside the line."""
    kind: str = "policy"
    """`policy` or `blackout` (chooses the colour)."""


@dataclass(frozen=True)
class ChartSpec:
    """Everything needed to draw one segment chart."""

    title: str
    """Figure title (e.g. 'Channel: email — weekly')."""
    x_labels: tuple[str, ...]
    """Period labels, oldest first."""
    partial: tuple[bool, ...]
    """Per period: True when the period is partial (drawn hollow and dashed, labelled)."""
    panels: tuple[Panel, ...]
    """One panel per metric that has data."""
    markers: tuple[Marker, ...] = ()
    """Policy-change and blackout markers, drawn on every panel."""


_FIGURES: dict[tuple[int, int], tuple[Any, list[Any]]] = {}


def draw_chart(spec: ChartSpec) -> bytes:
    """Draw `spec` as SVG and return its bytes (deterministic)."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context(cast(Any, _RC)):
        fig, axes = _figure(len(spec.panels))
        try:
            fig.suptitle(_drawable(spec.title), x=0.01, y=1 - 0.08 / fig.get_figheight(),
                         ha="left", va="top", fontsize=10, fontweight="bold", parse_math=False)
            for artist in [*fig.artists]:  # the previous chart's texts and lines (see _text)
                artist.remove()
            for ax in axes:
                _reset(ax)
            cols = _grid(len(spec.panels))[1]
            for index, (ax, panel) in enumerate(zip(axes, spec.panels)):
                ax.set_visible(True)
                # Every panel shares the periods and markers: only the lowest panel of a column
                # names the periods and only the top one labels the markers (text is most of
                # a chart's drawing time).
                _draw_panel(ax, panel, spec, x_labels=index + cols >= len(spec.panels),
                            marker_labels=index < cols)
            out = io.BytesIO()
            fig.savefig(out, format="svg", metadata={"Date": None}, facecolor="white")
        except Exception:
            # A half-drawn figure must not leak into the next chart.
            _FIGURES.pop(_grid(len(spec.panels)), None)
            raise
    return out.getvalue()


def _reset(ax: Any) -> None:
    """Remove the previous chart's collections (grid, band, markers) from `ax` but keep the
    axes (cheap); its texts and lines belong to the figure (see _text)."""
    for artist in [*ax.collections]:
        artist.remove()
    ax.set_visible(False)


def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n <= 1 else 2 if n <= 4 else 3
    return max(1, math.ceil(n / cols)), cols


def _figure(n: int) -> tuple[Any, list[Any]]:
    rows, cols = _grid(n)
    cached = _FIGURES.get((rows, cols))
    if cached is not None:
        return cached
    from matplotlib.figure import Figure

    width, height = 3.1 * cols, 0.6 + 2.05 * rows
    fig = Figure(figsize=(width, height), dpi=100)
    # Fixed margins (in inches) rather than an iterative layout engine: the layout of a reused
    # figure must not depend on the chart drawn before it.
    grid = fig.subplots(rows, cols, squeeze=False, gridspec_kw={
        "left": 0.55 / width, "right": 1 - 0.15 / width,
        "top": 1 - 0.62 / height, "bottom": 0.3 / height,
        "wspace": 0.3, "hspace": 0.6 / 2.05,
    })
    axes = [ax for row in grid for ax in row]
    for ax in axes:
        # Ticks, tick labels and grid lines are drawn by _draw_axes as a few plain artists:
        # matplotlib's axis machinery (a Line2D per tick mark and grid line, bounding boxes of
        # every label) was two thirds of a chart's drawing time.
        ax.xaxis.set_visible(False)
        ax.yaxis.set_visible(False)
    _FIGURES[(rows, cols)] = (fig, axes)
    return fig, axes


def _scale(unit: str) -> tuple[float, str]:
    if unit == "ratio":
        return 100.0, "%"
    return 1.0, {"minutes": "min", "hours": "h"}.get(unit, "")


def _draw_panel(
    ax: Any, panel: Panel, spec: ChartSpec, x_labels: bool = True, marker_labels: bool = True,
) -> None:
    from matplotlib.ticker import MaxNLocator

    factor, suffix = _scale(panel.unit)
    n = len(spec.x_labels)
    xs = list(range(n))

    def scaled(seq: tuple[Any, ...]) -> list[float]:
        return [math.nan if v is None else v * factor for v in (list(seq) + [None] * n)[:n]]

    values = scaled(panel.values)
    goals = scaled(panel.goals)
    bands = (list(panel.bands) + [None] * n)[:n]
    if any(b is not None for b in bands):
        low = [math.nan if b is None else b[0] * factor for b in bands]
        high = [math.nan if b is None else b[1] * factor for b in bands]
        ax.fill_between(xs, low, high, step="mid", color=BAND_COLOUR, alpha=0.28,
                        linewidth=0, label="amber band")
    if any(not math.isnan(g) for g in goals):
        _line(ax, xs, goals, drawstyle="steps-mid", linestyle="--", color=GOAL_COLOUR,
              linewidth=1.1, label="goal")

    partial = (list(spec.partial) + [False] * n)[:n]
    complete = [v if not p else math.nan for v, p in zip(values, partial)]
    _line(ax, xs, complete, color=VALUE_COLOUR, linewidth=1.6, marker="o", markersize=3.2)
    for i in (i for i in xs if partial[i] and not math.isnan(values[i])):
        prev = next((j for j in range(i - 1, -1, -1) if not math.isnan(values[j])), None)
        if prev is not None:
            _line(ax, [prev, i], [values[prev], values[i]], color=VALUE_COLOUR, linewidth=1.2,
                  linestyle=(0, (2, 2)))
        _line(ax, [i], [values[i]], linestyle="none", marker="o", markersize=4.5,
              markerfacecolor="white", markeredgecolor=VALUE_COLOUR, markeredgewidth=1.3)
        _text(ax, i, values[i], "partial", ax.transData, dy=6, ha="center", fontsize=7,
              color="#333333")

    _draw_markers(ax, spec.markers, n, labels=marker_labels)

    # Drawn as plain text rather than with set_title: a manually placed axes title makes
    # matplotlib log 'title position was updated manually' on every draw, and an automatically
    # placed one costs a bounding-box pass per panel; the left-aligned title never collides.
    _text(ax, 0, 1, panel.title, ax.transAxes, dy=TITLE_PAD, ha="left", va="baseline",
          fontsize=_RC["axes.titlesize"], fontweight=_RC["axes.titleweight"])
    right = max(n - 0.5, 0.5)
    ax.set_xlim(-0.5, right)
    step = max(1, math.ceil(n / 5))
    x_ticks = [i for i in xs if (n - 1 - i) % step == 0]
    finite = [v for v in values + goals if not math.isnan(v)]
    finite += [b * factor for band in bands if band is not None for b in band]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    pad = (hi - lo) * 0.12 or max(abs(hi) * 0.1, 1.0)
    bottom = lo - pad
    if lo >= 0 and bottom < 0:
        bottom = 0.0
    top = hi + pad * 1.6
    if panel.unit == "ratio" and lo >= 0 and hi <= factor:
        top = min(top, factor * 1.03)  # a share never exceeds 100%: no '105%' tick
    # Limits and ticks are set on every draw: the axes are reused.
    ax.set_ylim(bottom, top)
    y_ticks = [float(y) for y in MaxNLocator(nbins=4).tick_values(bottom, top)
               if bottom - 1e-9 * (top - bottom) <= y <= top + 1e-9 * (top - bottom)]
    sep = "" if suffix in ("%", "") else " "
    _draw_axes(ax, (-0.5, right), (bottom, top),
               [(x, spec.x_labels[x] if x_labels else "") for x in x_ticks],
               [(y, f"{y:g}{sep}{suffix}") for y in y_ticks])


def _text(
    ax: Any, x: float, y: float, text: str, transform: Any, dx: float = 0.0, dy: float = 0.0,
    **style: Any,
) -> None:
    """Add a text at (x, y) in `transform`, moved by (dx, dy) points.

    Texts belong to the figure, not the axes: nothing clips them, and an axes would give each
    one a clip path (a tenth of a chart's drawing time). `draw_chart` removes them."""
    from matplotlib.text import Text
    from matplotlib.transforms import offset_copy

    if dx or dy:
        transform = offset_copy(transform, fig=ax.figure, x=dx, y=dy, units="points")
    ax.figure.add_artist(Text(x, y, _drawable(text), transform=transform, parse_math=False,
                              **style))


def _drawable(text: str) -> str:
    """A text from the data or config as drawn: literally (a `$` is no math, so no value can
    fail the build) and with control characters as spaces (the SVG stays well-formed XML)."""
    return _CONTROL.sub(" ", text)


def _line(ax: Any, xs: list[Any], ys: list[Any], transform: Any = None, **style: Any) -> None:
    """Add a line in `ax`'s data coordinates (or `transform`), drawn above the panel.

    Like `_text`, it belongs to the figure: no `Axes.plot` argument parsing, data-limit update
    or clip path. Nothing needs clipping: `_draw_panel` sets limits that hold every value."""
    from matplotlib.lines import Line2D

    ax.figure.add_artist(Line2D(xs, ys, transform=transform or ax.transData, **style))


#: Gap between the axes and a tick label, in points.
TICK_GAP = 4.0
TICK_COLOUR = "#444444"


def _draw_axes(
    ax: Any, x_range: tuple[float, float], y_range: tuple[float, float],
    x_ticks: list[tuple[int, str]], y_ticks: list[tuple[float, str]],
) -> None:
    """Grid lines and tick labels (the grid lines mark the ticks: no tick marks)."""
    from matplotlib.collections import LineCollection

    (left, right), (bottom, top) = x_range, y_range
    grid: list[list[tuple[float, float]]] = [[(x, bottom), (x, top)] for x, _ in x_ticks]
    grid += [[(left, y), (right, y)] for y, _ in y_ticks]
    ax.add_collection(LineCollection(grid, colors=_RC["grid.color"],
                                     linewidths=_RC["grid.linewidth"], zorder=0.5),
                      autolim=False)
    for x, label in x_ticks:
        if label:
            _text(ax, x, 0.0, label, ax.get_xaxis_transform(), dy=-TICK_GAP, ha="center",
                  va="top", fontsize=7, color=TICK_COLOUR)
    for y, label in y_ticks:
        _text(ax, 0.0, y, label, ax.get_yaxis_transform(), dx=-TICK_GAP, ha="right",
              va="center_baseline", fontsize=_RC["font.size"], color=TICK_COLOUR)


#: Average advance of a DejaVu Sans character, in ems (measured: about 0.53), rounded up so a
#: browser's fallback font does not make neighbouring labels touch.
MARKER_CHAR_EM = 0.58
#: Vertical distance between label rows, in points.
MARKER_ROW_PT = MARKER_FONT_SIZE + 2.5
#: Label rows tried below the top of a panel before a label may cross another marker's line.
MARKER_ROWS = 4


def _label_variants(label: str) -> list[tuple[str, ...]]:
    """The label on one line, then split at its last space into two lines."""
    variants: list[tuple[str, ...]] = [(label,)]
    head, _, tail = label.rpartition(" ")
    if head and tail:
        variants.append((head, tail))
    return variants


def _place_label(
    x: float, variants: list[tuple[str, ...]], per_pt: float, n: int,
    taken: list[tuple[float, float, int]], lines_x: list[float],
) -> tuple[tuple[str, ...], bool, int]:
    """Choose (lines, left of the line?, first row) for a marker label at `x`.

    A label never leaves the panel and never overlaps a placed label (rows are compared as
    intervals of data units); among those placements the best crosses no other marker's line,
    sits highest, and stays on one line, right of its own line when it can.
    """
    right_edge, left_edge = n - 0.5, -0.5
    best: tuple[tuple[int, int, int, int], tuple[str, ...], bool, int] | None = None
    for v, lines in enumerate(variants):
        span = (max(len(t) for t in lines) * MARKER_CHAR_EM * MARKER_FONT_SIZE + 3) * per_pt
        for side, left in enumerate((False, True)):
            lo, hi = (x - span, x) if left else (x, x + span)
            if hi > right_edge + 1e-9 or lo < left_edge - 1e-9:
                continue
            crosses = any(lo < other < hi for other in lines_x if other != x)
            for row in range(MARKER_ROWS * 2):
                rows = range(row, row + len(lines))
                if any(r in rows and lo < b and a < hi for a, b, r in taken):
                    continue
                key = (int(crosses), row + len(lines) - 1, v, side)
                if best is None or key < best[0]:
                    best = (key, lines, left, row)
                break
    if best is None:  # wider than the panel: one line at the right edge, below the others
        row = 1 + max((r for *_, r in taken), default=-1)
        return variants[0], True, row
    return best[1], best[2], best[3]


def _draw_markers(ax: Any, markers: tuple[Marker, ...], n: int, labels: bool) -> None:
    """Dotted lines for policy changes and blackouts; with `labels`, their labels, kept inside
    and apart."""
    from matplotlib.collections import LineCollection

    # Panel width in data units per point of text, to place labels without measuring them.
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    per_pt = (max(n - 0.5, 0.5) + 0.5) / width_pt
    taken: list[tuple[float, float, int]] = []
    shown = [m for m in sorted(markers, key=lambda m: (m.index, m.kind)) if 0 <= m.index < n]
    # A policy change takes effect at a period boundary; a blackout lies inside one.
    xs = [m.index - 0.5 if m.kind == "policy" else float(m.index) for m in shown]
    if shown:
        ax.add_collection(LineCollection(
            [[(x, 0.0), (x, 1.0)] for x in xs], transform=ax.get_xaxis_transform(),
            colors=[MARKER_COLOURS.get(m.kind, GOAL_COLOUR) for m in shown], linewidths=0.9,
            linestyles=":", zorder=2), autolim=False)
    for marker, x in zip(shown, xs):
        if not marker.label or not labels:
            continue
        colour = MARKER_COLOURS.get(marker.kind, GOAL_COLOUR)
        lines, left, row = _place_label(x, _label_variants(marker.label), per_pt, n, taken, xs)
        span = (max(len(t) for t in lines) * MARKER_CHAR_EM * MARKER_FONT_SIZE + 3) * per_pt
        lo, hi = (x - span, x) if left else (x, x + span)
        for k, text in enumerate(lines):
            taken.append((lo, hi, row + k))
            _text(ax, x, 1.0, text, ax.get_xaxis_transform(), dx=-2 if left else 2,
                  dy=-2 - (row + k) * MARKER_ROW_PT, ha="right" if left else "left", va="top",
                  fontsize=MARKER_FONT_SIZE, color=colour)
