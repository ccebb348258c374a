"""Build the views beyond the scorecard (SPEC §5.1) for the pages: each segment's hour-of-week
page and first-response brackets, and the league tables.

Receives the site's indexes (:class:`generator.site.siteindex.SiteIndex`: the figures with their
hour-of-week cells and bracket counts); hands on page contexts (:mod:`generator.site.contexts`)
with their drawings (:mod:`generator.site.viewcharts`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from generator.figures.metrics import latest_complete
from generator.model import BracketCount, HourCell, MetricInfo, Period
from generator.site.contexts import (
    BracketChart,
    BracketRow,
    HeatCell,
    Heatmap,
    HeatRow,
    HoursContext,
    LeagueContext,
    LeagueGroup,
    LeagueRow,
    LeagueTable,
    Link,
    Page,
    Swatch,
)
from generator.site.formatting import (
    GRANULARITY_PLURAL,
    NO_VALUE,
    STATUS_ORDER,
    TOO_FEW,
    format_change,
    format_target,
    format_value,
    goal_direction,
    goal_margin,
    goals_in_force,
    period_tick,
    status_of,
)
from generator.site.siteindex import SiteIndex, root_of, segment_title
from generator.site.viewcharts import brackets_svg, heatmap_svg

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Shades of a heatmap, lightest to darkest (the darkest is the busiest or the worst).
SHADES = 5
#: The metrics of the hour-of-week view, with the direction that is worse (the strongest shade).
HOURLY = (("volume", "higher"), ("frt_median", "higher"), ("sla_attainment", "lower"))
#: The shades of the answered brackets (edges beyond five share the shades).
BRACKET_SHADES = 5
TAIL_CLASSES = {"later": "bracket-later", "unanswered_in_time": "bracket-waiting",
                "unanswered_overdue": "bracket-overdue"}


# --- Hour of week --------------------------------------------------------------------------------


def hours_page(site: SiteIndex, dim: str, seg: str) -> Page | None:
    """The hour-of-week page of a segment, None when there are no cells."""
    cells = site.hourly.get((dim, seg))
    if not cells:
        return None
    path = site.hours_path(dim, seg)
    root = root_of(path)
    title = f"Hour of week: {segment_title(dim, seg)}"
    by_metric: dict[str, list[HourCell]] = {}
    for cell in cells:
        by_metric.setdefault(cell.metric, []).append(cell)
    shown = {m.id for m in site.figures.metrics}
    heatmaps = tuple(
        _heatmap(site, site.metric(metric), by_metric[metric], worse, root)
        for metric, worse in HOURLY if metric in by_metric and metric in shown)
    context = HoursContext(site.page_info(path, title, "segments"),
                           site.segment_link(dim, seg, root), _window_text(site),
                           site.config.site.timezone, heatmaps)
    return Page(path, "hours.html", context)


def _window_text(site: SiteIndex) -> str:
    periods = site.figures.periods.get(site.headline, ())[-site.config.site.history:]
    if not periods:
        return ""
    words = GRANULARITY_PLURAL.get(site.headline, "periods")
    last = periods[-1].label + (" (partial)" if periods[-1].partial else "")
    return f"the last {len(periods)} {words}, {periods[0].label} to {last}"


def _shade(values: list[float], worse: str) -> Callable[[float], str]:
    """The class of a value: SHADES equal steps from the lowest value to the highest, the
    strongest shade (heat-4) the worst or busiest."""
    lo, hi = min(values), max(values)
    span = hi - lo

    def classify(value: float) -> str:
        k = 0 if span == 0 else min(SHADES - 1, math.floor((value - lo) / span * SHADES))
        return f"heat-{k if worse == 'higher' else SHADES - 1 - k}"

    return classify


def _heatmap(site: SiteIndex, metric: MetricInfo, cells: list[HourCell], worse: str,
             root: str) -> Heatmap:
    known = [c.value for c in cells if c.value is not None]
    classify = _shade(known or [0.0], worse)
    lo, hi = (min(known), max(known)) if known else (0.0, 0.0)
    span = hi - lo
    legend = []
    for k in range(SHADES if span else (1 if known else 0)):
        low, high = lo + span * k / SHADES, lo + span * (k + 1) / SHADES
        text = (format_value(low, metric.unit) if not span
                else f"{format_value(low, metric.unit)} – {format_value(high, metric.unit)}")
        shade = f"heat-{k if worse == 'higher' else SHADES - 1 - k}" if span else classify(lo)
        legend.append(Swatch(shade, text))
    if worse == "lower":
        legend.reverse()  # lightest first
    legend.append(Swatch("heat-none", "no interactions" if metric.id == "volume"
                         else "no value"))

    drawn: list[tuple[int, int, str, str]] = []
    values: dict[tuple[int, int], HeatCell] = {}
    for c in cells:
        code = "heat-none" if c.value is None else classify(c.value)
        value = format_value(c.value, metric.unit)
        n = f" (n = {c.n:,})" if c.n is not None else ""
        day = WEEKDAYS[c.weekday - 1]
        if c.value is not None:
            drawn.append((c.weekday - 1, c.hour, code,
                          f"{day} {c.hour:02d}:00–{c.hour + 1:02d}:00: {value}{n}"))
        values[(c.weekday, c.hour)] = HeatCell(TOO_FEW if c.withheld else value, code, day)
    hours = sorted({hour for _, hour in values})
    rows = tuple(HeatRow(f"{h:02d}:00", tuple(
        values.get((d, h)) or HeatCell(NO_VALUE, "heat-none", WEEKDAYS[d - 1])
        for d in range(1, 8))) for h in hours)
    summary = f"{metric.label} by weekday and hour: no values"
    if known:
        top = max((c for c in cells if c.value is not None), key=lambda c: c.value or 0.0)
        low_cell = min((c for c in cells if c.value is not None), key=lambda c: c.value or 0.0)
        summary = (f"{metric.label} by weekday and hour: highest "
                   f"{format_value(top.value, metric.unit)} on {WEEKDAYS[top.weekday - 1]} at "
                   f"{top.hour:02d}:00, lowest {format_value(low_cell.value, metric.unit)} on "
                   f"{WEEKDAYS[low_cell.weekday - 1]} at {low_cell.hour:02d}:00; the legend "
                   f"gives the range of each shade, from "
                   f"{'quiet to busy' if metric.id == 'volume' else 'best to worst'}")
    caption = f"{metric.label} by hour (rows) and weekday (columns)"
    if len(hours) < 24:
        caption += f"; the {24 - len(hours)} hours without interactions are left out"
    return Heatmap(
        metric=Link(f"{root}definitions.html#metric-{metric.id}", metric.label),
        anchor=f"hours-{metric.id}",
        summary=summary,
        svg=heatmap_svg(drawn, summary, f"grid-{metric.id}"),
        legend=tuple(legend),
        caption=caption,
        weekdays=WEEKDAYS,
        rows=rows,
    )


# --- First-response brackets ---------------------------------------------------------------------


def _bracket_words(bracket: BracketCount, last_edge: float) -> str:
    if bracket.upper_minutes is not None:
        return f"≤ {format_target(bracket.upper_minutes)}"
    return {"later": f"later than {format_target(last_edge)}",
            "unanswered_in_time": "unanswered, not yet due",
            "unanswered_overdue": "unanswered, overdue"}[bracket.bracket]


def bracket_chart(site: SiteIndex, dim: str, seg: str, window: tuple[Period, ...],
                  root: str) -> BracketChart | None:
    """The brackets of the segment over `window` (headline periods), None without response
    times or periods."""
    if not window or "frt_median" not in {m.id for m in site.figures.metrics}:
        return None
    edges = site.config.site.brackets
    mark = site.config.site.bracket_mark
    per_period = [site.brackets.get((p.granularity, p.label, dim, seg), []) for p in window]
    if not any(per_period):
        return None
    first = next(b for b in per_period if b)
    headings = tuple(_bracket_words(b, edges[-1]) for b in first)
    classes = []
    for i, b in enumerate(first):
        if b.upper_minutes is None:
            classes.append(TAIL_CLASSES[b.bracket])
        else:
            shade = 0 if len(edges) == 1 else round(i * (BRACKET_SHADES - 1) / (len(edges) - 1))
            classes.append(f"bracket-{shade}")
    mark_words = f"within {format_target(mark)}"
    columns: list[list[tuple[str, float, str]]] = []
    marks: list[float | None] = []
    rows: list[BracketRow] = []
    for period, counts in zip(window, per_period):
        label = period.label + (" (partial)" if period.partial else "")
        if not counts and dim == site.people:  # too few interactions (site.privacy.people)
            columns.append([])
            marks.append(None)
            rows.append(BracketRow(
                Link(root + site.period_path(period), period.label,
                     note="partial" if period.partial else ""),
                tuple("" for _ in headings), NO_VALUE, TOO_FEW))
            continue
        total = sum(b.count for b in counts)
        within = sum(b.count for b in counts if b.upper_minutes is not None
                     and b.upper_minutes <= mark + 1e-9)
        share = within / total if total else None
        columns.append([
            (code, b.count / total if total else 0.0,
             f"{label}: {words}: {b.count:,} of {total:,}"
             + (f" ({format_value(b.count / total, 'ratio')})" if total else ""))
            for code, words, b in zip(classes, headings, counts)])
        marks.append(share)
        rows.append(BracketRow(
            Link(root + site.period_path(period), period.label,
                 note="partial" if period.partial else ""),
            tuple(f"{b.count:,}" for b in counts),
            format_value(share, "ratio"), f"{total:,}"))
    known = [(p, s) for p, s in zip(window, marks) if s is not None]
    summary = (f"First responses by bracket, last {len(window)} "
               f"{GRANULARITY_PLURAL.get(site.headline, 'periods')}: answered {mark_words} "
               + (f"{format_value(known[0][1], 'ratio')} in {known[0][0].label} and "
                  f"{format_value(known[-1][1], 'ratio')} in {known[-1][0].label}"
                  if known else "no interactions"))
    return BracketChart(
        caption=(f"{segment_title(dim, seg)} — share of actionable interactions in each "
                 "first-response bracket, per period; the table below lists the counts."),
        summary=summary,
        svg=brackets_svg(columns, marks, summary),
        legend=tuple(Swatch(c, h) for c, h in zip(classes, headings)),
        mark=f"answered {mark_words} (the line)",
        ticks=tuple(period_tick(p.granularity, p.label)[0] for p in window),
        columns=headings,
        rows=tuple(rows),
        mark_heading=mark_words.capitalize(),
    )


# --- League tables -------------------------------------------------------------------------------


def league_page(site: SiteIndex) -> Page:
    """Per dimension and metric with a goal, the segments of the latest complete headline
    period ranked by status, then by distance from the goal (SPEC §5.1)."""
    path = "league.html"
    root = root_of(path)
    info = site.page_info(path, "League tables", "league")
    period = latest_complete(site.figures.periods.get(site.headline, ())) if site.headline \
        else None
    groups: list[LeagueGroup] = []
    if period is not None:
        for dim in site.team_dims:
            tables = tuple(t for m in _goal_metrics(site, period)
                           if (t := _league_table(site, period, dim, m, root)) is not None)
            if tables:
                groups.append(LeagueGroup(dim, f"league-{site.dim_slugs[dim]}", tables))
    view = site.period_view(period, root) if period is not None else None
    return Page(path, "league.html", LeagueContext(info, view, tuple(groups)))


def _goal_metrics(site: SiteIndex, period: Period) -> list[MetricInfo]:
    goals = goals_in_force(site.config.policy, period.start)
    metrics = [m for m in site.figures.metrics if m.id in goals]
    return sorted(metrics, key=lambda m: m.id != "sla_attainment")


def _league_table(site: SiteIndex, period: Period, dim: str, metric: MetricInfo,
                  root: str) -> LeagueTable | None:
    direction = goal_direction(goals_in_force(site.config.policy, period.start), metric)
    figs = [(seg, f) for seg in site.seg_lists[dim]
            if (f := site.figure(period.granularity, period.label, dim, seg, metric.id))
            is not None and f.goal is not None]
    if not figs:
        return None
    position = site.seg_positions[dim]
    figs.sort(key=lambda pair: (STATUS_ORDER.get(pair[1].status, 9),
                                goal_margin(pair[1], metric, direction), position[pair[0]]))
    sign = "≥" if direction == "min" else "≤"
    rows = []
    for seg, f in figs:
        change, _ = format_change(f.change, f.change_unit, metric.better)
        rows.append(LeagueRow(
            segment=Link(root + site.segment_path(dim, seg), seg),
            status=status_of(f.status),
            value=format_value(f.value, metric.unit),
            goal=f"{sign} {format_value(f.goal, metric.unit)}",
            change=change or NO_VALUE,
            n=f"{f.n:,}" if f.n is not None else NO_VALUE,
        ))
    return LeagueTable(
        anchor=f"league-{site.dim_slugs[dim]}-{metric.id}",
        metric=Link(f"{root}definitions.html#metric-{metric.id}", metric.label),
        caption=f"{metric.label} by {dim}, {period.granularity} {period.label}: furthest "
                "behind first",
        rows=tuple(rows),
    )


__all__ = ["bracket_chart", "hours_page", "league_page"]
