"""Build the site model: every page's template context, every chart's spec, every page CSV.

This module decides WHAT the scorecard pages show (which period, which figures, formatted how);
templates only lay it out. The contexts are the dataclasses of :mod:`generator.site.contexts` (the
documented template API); text formatting lives in :mod:`generator.site.formatting`, the shared
indexes in :mod:`generator.site.siteindex` and the definitions and data-quality pages in
:mod:`generator.site.reference`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from functools import lru_cache
from operator import attrgetter
from typing import cast

from markupsafe import Markup

from generator.config.loader import Blackout, Config, People
from generator.config.periods import contains, same_offset
from generator.errors import BuildError, Problem
from generator.figures.drill import DRILL_COLUMNS, MAX_DRILL_ROWS_SHOWN, RESPONSE_METRICS
from generator.figures.metrics import latest_complete
from generator.model import (
    BudgetRow,
    BuildInfo,
    DrillList,
    DrillRow,
    Figure,
    Figures,
    MetricInfo,
    Period,
    QualityReport,
)
from generator.site.charts import ChartSpec, Marker, Panel
from generator.site.content import Content, ContentPage, render_markdown
from generator.site.contexts import (
    BudgetView,
    Card,
    Cell,
    ChartJob,
    ChartView,
    ContentContext,
    CsvDownload,
    DrillContext,
    DrillRowView,
    Glance,
    GlanceTile,
    Link,
    OverviewContext,
    Page,
    PeopleContext,
    PeriodContext,
    PeriodGroup,
    PeriodsIndexContext,
    Restatements,
    Scorecards,
    SegmentContext,
    SegmentGroup,
    SegmentRow,
    SegmentsIndexContext,
    SegmentTable,
    SiteModel,
    Sparkline,
    Status,
    StatusCount,
    TrendRow,
    TrendTable,
)
from generator.site.downloads import format_number as csv_number
from generator.site.formatting import (
    GRANULARITY_ADJECTIVE,
    GRANULARITY_PLURAL,
    NO_VALUE,
    STATUS_TEXT,
    budget_status,
    format_change,
    format_figure,
    format_minutes,
    format_number,
    format_target,
    format_value,
    goal_direction,
    goal_margin,
    goals_in_force,
    goals_sentence,
    period_dates,
    period_tick,
    plural,
    status_of,
    tolerance_of,
)
from generator.site.reference import (
    RESTATEMENT_COLUMNS,
    RESTATEMENTS_CSV,
    blackout_views,
    data_quality_page,
    definitions_page,
    restatement_views,
)
from generator.site.siteindex import SiteIndex, root_of, segment_title
from generator.site.views import bracket_chart, hours_page, league_page

#: Most links to other segments of its dimension on a segment page (the index lists them all).
MAX_SIBLINGS = 20
#: Restated figures listed on a period page (the data-quality page lists more).
MAX_PERIOD_RESTATEMENTS = 100
#: Statuses whose response figures link to their drill-through list.
DRILL_STATUSES = frozenset({"red", "amber"})
DRILL_STATES = ("late", "overdue", "waiting")
_DRILL_VALUES = attrgetter(*DRILL_COLUMNS)


def build_site(
    config: Config,
    figures: Figures,
    quality: QualityReport,
    content: Content,
    info: BuildInfo,
) -> SiteModel:
    """Build every page context, chart spec and page-level CSV of the site."""
    site = SiteIndex.create(config, figures, quality, content, info)
    pages: list[Page] = [_overview(site), _periods_index(site)]
    for g in site.granularities:
        periods = figures.periods[g]
        pages += [_period_page(site, g, periods, i) for i, p in enumerate(periods)
                  if site.has_period_page(p)]
    pages.append(_segments_index(site))
    pages.append(league_page(site))
    if site.people:
        pages.append(_people_page(site))
    charts: list[ChartJob] = []
    for dim, seg in site.shown:
        page, chart = _segment_page(site, dim, seg)
        pages.append(page)
        if chart is not None:
            charts.append(chart)
        hours = hours_page(site, dim, seg)
        if hours is not None:
            pages.append(hours)
    downloads: list[CsvDownload] = []
    for drill in figures.drill:
        wanted = site.has_segment(drill.dimension, drill.segment)
        if wanted and drill.granularity in figures.periods:
            page, csv = _drill_page(site, drill)
            pages.append(page)
            downloads.append(csv)
    pages.append(definitions_page(site))
    pages.append(data_quality_page(site))
    if quality.restatements:
        # Values in Python's shortest round-trip form, the rule of figures.csv.
        downloads.append(CsvDownload(RESTATEMENTS_CSV, RESTATEMENT_COLUMNS, tuple(
            (r.granularity, r.period, r.dimension, r.segment, r.metric,
             csv_number(r.old_value), csv_number(r.new_value), r.old_n, r.new_n)
            for r in quality.restatements)))
    for content_page in content.pages:
        pages.append(_content_page(site, content_page))
    return SiteModel(tuple(pages), tuple(charts), tuple(downloads), site.print_header())


# --- Cards and cells -----------------------------------------------------------------------------


def _heading(period: Period) -> str:
    return f"{period.granularity.capitalize()} {period.label}"


def _drill_list(
    site: SiteIndex, fig: Figure | None, metric: str, dim: str, seg: str
) -> DrillList | None:
    """The drill-through list a red or amber response figure links to, if it has one."""
    if fig is None or fig.status not in DRILL_STATUSES or metric not in RESPONSE_METRICS:
        return None
    if not site.has_segment(dim, seg):
        return None
    return site.drills.get((fig.granularity, fig.period, dim, seg))


def _drill_sentence(count: int) -> str:
    return f"Show the {plural(count, 'late or unanswered interaction')}"


def _sparkline(
    site: SiteIndex, metric: MetricInfo, periods: tuple[Period, ...], upto: int, dim: str,
    seg: str,
) -> Sparkline | None:
    history = max(2, site.config.site.history)
    window = periods[max(0, upto - history + 1): upto + 1]
    if len(window) < 2:
        return None
    figs = [site.figure(p.granularity, p.label, dim, seg, metric.id) for p in window]
    values = [f.value if f is not None else None for f in figs]
    known = [v for v in values if v is not None]
    if not known:
        return None
    goal = figs[-1].goal if figs[-1] is not None else None
    width, height, pad = 120, 28, 3.0
    lo, hi = min(known), max(known)
    if goal is not None:
        lo, hi = min(lo, goal), max(hi, goal)
    span = hi - lo or 1.0

    def x_of(i: int) -> float:
        return round(pad + i * (width - 2 * pad) / (len(window) - 1), 2)

    def y_of(v: float) -> float:
        return round(height - pad - (v - lo) / span * (height - 2 * pad), 2)

    parts: list[str] = []
    pen_down = False
    for i, v in enumerate(values):
        if v is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x_of(i)} {y_of(v)}")
        pen_down = True
    last = values[-1]
    unit_word = GRANULARITY_PLURAL.get(window[0].granularity, "periods")
    first_known = next(i for i, v in enumerate(values) if v is not None)
    label = (
        f"{metric.label}, last {len(window)} {unit_word}: "
        f"{format_value(values[first_known], metric.unit)} in {window[first_known].label} to "
        f"{format_value(last, metric.unit)} in {window[-1].label}"
        f"{' (partial)' if window[-1].partial else ''}; "
        f"low {format_value(min(known), metric.unit)}, high {format_value(max(known), metric.unit)}"
    )
    return Sparkline(
        width=width,
        height=height,
        path=" ".join(parts),
        goal_y=y_of(goal) if goal is not None else None,
        last_x=x_of(len(window) - 1),
        last_y=y_of(last) if last is not None else None,
        last_partial=window[-1].partial,
        label=label,
    )


def _direction(site: SiteIndex, metric: MetricInfo, period: Period) -> str:
    return goal_direction(goals_in_force(site.config.policy, period.start), metric)


def _goal_text(site: SiteIndex, metric: MetricInfo, fig: Figure | None, period: Period) -> str:
    if fig is None or fig.goal is None:
        return ""
    sign = "≥" if _direction(site, metric, period) == "min" else "≤"
    return f"goal {sign} {format_value(fig.goal, metric.unit)}"


def _card(
    site: SiteIndex, metric: MetricInfo, periods: tuple[Period, ...], i: int, dim: str, seg: str,
    root: str, drill: bool = True, with_sparkline: bool = True,
) -> Card:
    period = periods[i]
    fig = site.figure(period.granularity, period.label, dim, seg, metric.id)
    status = status_of(fig.status if fig else "insufficient")
    if period.partial and status.code in ("green", "amber", "red"):
        status = Status(status.code, f"{status.word} so far", status.symbol)
    elif period.partial and fig is not None and fig.goal is not None:  # a count so far
        status = Status(status.code, "judged when complete", status.symbol)
    same_point = _same_point(site, periods, i)
    change, trend = ("", "")
    previous = ""
    year_ago = ""
    n = ""
    if fig is not None and not fig.withheld:
        change, trend = format_change(fig.change, fig.change_unit, metric.better)
        if fig.previous_value is not None and i > 0:
            previous = f"{format_value(fig.previous_value, metric.unit)} in {periods[i - 1].label}"
            if same_point:
                previous += f" to {same_point}"
            if not change:
                change = ("no % change from a baseline of 0"
                          if fig.previous_value == 0 and not metric.is_ratio
                          else "change not computed (sample too small)")
        if fig.year_ago_value is not None:
            year_change, _ = format_change(fig.year_ago_change, fig.change_unit, metric.better)
            year_ago = f"{format_value(fig.year_ago_value, metric.unit)} a year ago"
            if same_point:
                year_ago += " at the same point"
            if year_change:
                year_ago += f" ({year_change})"
        if fig.n is not None and metric.n_label:
            n = f"n = {fig.n:,} {metric.n_label}"
        elif fig.n is not None:
            n = f"n = {fig.n:,}"
    listed = _drill_list(site, fig, metric.id, dim, seg) if drill else None
    drill_link = None
    if listed is not None:
        drill_link = Link(root + site.drill_path(listed.granularity, listed.period, dim, seg),
                          _drill_sentence(listed.total))
    return Card(
        metric=metric.id,
        label=metric.label,
        unit=metric.unit,
        value=format_figure(fig, metric.unit),
        status=status,
        goal=_goal_text(site, metric, fig, period),
        change=change,
        change_trend=trend,
        previous=previous,
        year_ago=year_ago,
        n=n,
        sparkline=_sparkline(site, metric, periods, i, dim, seg) if with_sparkline else None,
        definition_href=f"{root}definitions.html#metric-{metric.id}",
        drill=drill_link,
    )


def _same_point(site: SiteIndex, periods: tuple[Period, ...], i: int) -> str:
    """For the period holding data-through, the point of the previous period it is compared
    at ('Wed 18 Nov 14:52': the same offset from its start, SPEC §4.5), else ''."""
    through = site.figures.data_through
    if i == 0 or through is None or not contains(periods[i], through, site.tz):
        return ""
    cut = same_offset(periods[i], through, periods[i - 1], site.tz).astimezone(site.tz)
    return f"{cut:%a} {cut.day} {cut:%b %H:%M}"


def _partial_summary(site: SiteIndex, periods: tuple[Period, ...], root: str) -> Scorecards:
    """The partial (last) period of the headline granularity for the overview: one compact
    table of its figures so far, each compared as of the same offset (SPEC §4.5, §6.1)."""
    i = len(periods) - 1
    period = periods[i]
    cards = tuple(_card(site, m, periods, i, "all", "all", root, with_sparkline=False)
                  for m in site.figures.metrics)
    same_point = _same_point(site, periods, i)
    note = (f"Compared with {periods[i - 1].label} and a year ago up to the same point from "
            f"their start ({same_point} in {periods[i - 1].label}); counts have no goal "
            "status until the period is complete." if same_point else
            "Counts have no goal status until the period is complete.")
    return Scorecards(f"This {period.granularity} so far: {period.label}",
                      site.period_view(period, root), cards, note)


def _scorecards(
    site: SiteIndex, periods: tuple[Period, ...], i: int, root: str, dim: str = "all",
    seg: str = "all", heading: str = "",
) -> Scorecards:
    period = periods[i]
    cards = tuple(_card(site, m, periods, i, dim, seg, root) for m in site.figures.metrics)
    return Scorecards(heading or _heading(period), site.period_view(period, root), cards)


def _table_metrics(site: SiteIndex) -> tuple[MetricInfo, ...]:
    """Table columns: the metrics with a goal first (SLA attainment leading, as in the league
    table), then the rest, each group in display order."""
    policy = site.config.policy
    with_goal = set(policy.goals).union(*(v.goals for v in policy.versions))
    metrics = site.figures.metrics
    return tuple(sorted(metrics, key=lambda m: (m.id not in with_goal,
                                                m.id != "sla_attainment")))


#: Table columns beyond which the table is wider than a desktop page (it scrolls sideways).
WIDE_TABLE_COLUMNS = 8


def _scroll_hint(metrics: tuple[MetricInfo, ...]) -> str:
    if len(metrics) <= WIDE_TABLE_COLUMNS:
        return ""
    return f"{len(metrics)} metrics: the table scrolls sideways"


def _metric_columns(
    site: SiteIndex, root: str, metrics: tuple[MetricInfo, ...] | None = None,
) -> tuple[Link, ...]:
    return tuple(Link(f"{root}definitions.html#metric-{m.id}", m.label)
                 for m in (site.figures.metrics if metrics is None else metrics))


def _cell(
    site: SiteIndex, fig: Figure | None, metric: MetricInfo, dim: str, seg: str, root: str
) -> Cell:
    if fig is None:
        return Cell(NO_VALUE, status_of("insufficient"), label=metric.label)
    listed = _drill_list(site, fig, metric.id, dim, seg)
    drill = None
    if listed is not None:
        count = listed.total
        drill = Link(root + site.drill_path(listed.granularity, listed.period, dim, seg),
                     f"show {count:,}",
                     note=("late or unanswered interaction" if count == 1
                           else "late or unanswered interactions") + f" ({metric.label})")
    # A person's withheld figure with a goal: its status alone says 'too few'.
    value = "" if fig.withheld and fig.status == "insufficient" else format_figure(
        fig, metric.unit)
    return Cell(value, status_of(fig.status), drill, metric.label)


#: Status counts of a table row, worst first (statuses without a goal are not counted).
SUMMARY_STATUSES = (("red", "off goal"), ("amber", "near goal"), ("green", "on goal"),
                    ("insufficient", "too few"))


def _status_counts(cells: tuple[Cell, ...]) -> tuple[StatusCount, ...]:
    """'1 off goal', '2 near goal', '3 on goal' for a row's cells (the statuses that occur)."""
    counts = {code: 0 for code, _ in SUMMARY_STATUSES}
    for c in cells:
        if c.status.code in counts:
            counts[c.status.code] += 1
    return tuple(StatusCount(status_of(code), counts[code], f"{counts[code]} {word}")
                 for code, word in SUMMARY_STATUSES if counts[code])


def _segment_tables(
    site: SiteIndex, period: Period, root: str, dims: tuple[str, ...] | None = None,
) -> tuple[SegmentTable, ...]:
    """A table per dimension (default: every dimension but the people's) of its segments'
    figures in `period`."""
    tables = []
    metrics = _table_metrics(site)
    for dim in site.team_dims if dims is None else dims:
        rows = []
        for seg in site.seg_lists[dim]:
            cells = tuple(
                _cell(site, site.figure(period.granularity, period.label, dim, seg, m.id), m,
                      dim, seg, root)
                for m in metrics
            )
            rows.append(SegmentRow(seg, root + site.segment_path(dim, seg), cells,
                                   _status_counts(cells)))
        caption = f"By {dim}, {period.granularity} {period.label}"
        if period.partial:
            caption += " (partial)"
        tables.append(SegmentTable(dim, caption, _metric_columns(site, root, metrics),
                                   tuple(rows), _scroll_hint(metrics)))
    return tuple(tables)


def _legend() -> tuple[Status, ...]:
    return tuple(status_of(code) for code in STATUS_TEXT)


# --- Error budget ---------------------------------------------------------------------------------


def _window_dates(site: SiteIndex, row: BudgetRow) -> str:
    start, end = row.start.astimezone(site.tz), row.end.astimezone(site.tz)
    if start.time() == time(0) and end.time() == time(0):
        last = end.date().fromordinal(end.date().toordinal() - 1)
        return f"{start.date().isoformat()} – {last.isoformat()}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def _budget_view(site: SiteIndex, dim: str, seg: str, root: str) -> BudgetView | None:
    """The segment's error budget (zero when nothing was eligible), None without a budget."""
    if not site.figures.budgets:
        return None
    row = site.budgets.get((dim, seg))
    if row is None and dim == site.people:
        return None  # a person has no error budget (site.privacy.people)
    if row is None:  # no eligible interaction of this segment in the window
        first = site.figures.budgets[0]
        row = BudgetRow(dim, seg, first.window, first.start, first.end, first.goal, 0, 0, 0.0,
                        0.0, None)
    budget = site.config.policy.error_budget
    metric = site.metric(budget.metric if budget else "sla_attainment")
    allowed, remaining = format_number(row.allowed), format_number(row.remaining)
    overspent = row.remaining < -1e-9
    if row.eligible == 0:
        summary = f"No interaction counts towards the budget in {row.window} yet."
    elif overspent:
        summary = (f"{row.breaches:,} of {allowed} allowed breaches used: "
                   f"{format_number(-row.remaining)} over budget.")
    else:
        summary = f"{row.breaches:,} of {allowed} allowed breaches used; {remaining} left."
    return BudgetView(
        segment=site.segment_link(dim, seg, root),
        metric=metric.label,
        window=row.window,
        dates=_window_dates(site, row),
        goal=f"≥ {format_value(row.goal, 'ratio')}",
        eligible=f"{row.eligible:,}",
        allowed=allowed,
        used=f"{row.breaches:,}",
        remaining=remaining,
        overspent=overspent,
        burn_rate=NO_VALUE if row.burn_rate is None else f"{row.burn_rate:.2f}×",
        status=budget_status(row.on_track),
        summary=summary,
        definition_href=f"{root}definitions.html#error-budget",
    )


# --- Pages ----------------------------------------------------------------------------------------


def _overview(site: SiteIndex) -> Page:
    path = "index.html"
    info = site.page_info(path, "Overview", "overview")
    latest = partial = None
    glance = None
    tables: tuple[SegmentTable, ...] = ()
    headline = site.headline
    if headline:
        periods = site.figures.periods[headline]
        complete = [i for i, p in enumerate(periods) if not p.partial]
        if complete:
            i = complete[-1]
            latest = _scorecards(site, periods, i, "",
                                 heading=f"Latest complete {headline}: {periods[i].label}")
            tables = _segment_tables(site, periods[i], "")
            glance = _glance(site, periods[i])
        if periods and periods[-1].partial:
            partial = _partial_summary(site, periods, "")
    budgets = tuple(view for b in site.figures.budgets
                    if (view := _budget_view(site, b.dimension, b.segment, "")) is not None)
    context = OverviewContext(info, headline, latest, partial, tables, _legend(),
                              _budget_view(site, "all", "all", ""), budgets, glance)
    return Page(path, "overview.html", context)


#: The statuses of the overview's sentence and bar, in bar order, with their words.
GLANCE_STATUSES = (("green", "on goal"), ("amber", "near goal"), ("red", "off goal"),
                   ("insufficient", "too few"))


def _glance(site: SiteIndex, period: Period) -> Glance | None:
    """'4 of 6 goals met, 1 near, 1 off — SLA attainment 85.5% against 92%': the goals of all
    interactions in `period`, and the first miss (off goal before near goal; SLA attainment
    first, then the metric furthest from its goal)."""
    figs = [(m, f) for m in site.figures.metrics
            if (f := site.figure(period.granularity, period.label, "all", "all", m.id))
            is not None and f.goal is not None and f.status in dict(GLANCE_STATUSES)]
    if not figs:
        return None
    sentence = goals_sentence(f.status for _, f in figs)
    misses = [(m, f) for m, f in figs if f.status in ("red", "amber") and f.value is not None]
    if misses:
        def distance(pair: tuple[MetricInfo, Figure]) -> tuple[int, bool, float]:
            m, f = pair
            return (f.status != "red", m.id != "sla_attainment",
                    goal_margin(f, m, _direction(site, m, period)))

        m, f = min(misses, key=distance)
        sentence += (f" — {m.label} {format_value(f.value, m.unit)} against "
                     f"{_trim_zero(format_value(f.goal, m.unit))}")
    order = [code for code, _ in GLANCE_STATUSES]
    tiles = tuple(GlanceTile(status_of(f.status), m.label)
                  for m, f in sorted(figs, key=lambda pair: order.index(pair[1].status)))
    return Glance(sentence, tiles)


def _trim_zero(text: str) -> str:
    """'92.0%' -> '92%', '30.0 min' -> '30 min' (a goal is usually a round number)."""
    return re.sub(r"\.0(?=\D|$)", "", text)


def _overlaps(blackout: Blackout, period: Period) -> bool:
    start = datetime.combine(period.start, time(0))
    end = datetime.combine(period.end, time(0))
    return blackout.start < end and blackout.end > start


def _period_restatements(
    site: SiteIndex, period: Period, root: str
) -> Restatements | None:
    own = site.restated.get((period.granularity, period.label))
    if not own:
        return None
    more = Link(f"{root}data-quality.html#restatements", "the data-quality page")
    return restatement_views(site, own, root, MAX_PERIOD_RESTATEMENTS, more)


def _period_page(site: SiteIndex, g: str, periods: tuple[Period, ...], i: int) -> Page:
    period = periods[i]
    path = site.period_path(period)
    root = root_of(path)
    info = site.page_info(path, _heading(period), "periods")
    commentary = Markup("")
    commentary_title = "Commentary"
    note = site.content.commentary_for(period.label)
    if note is not None:
        commentary_title = note.title or commentary_title
        text = _expand_figures(site, note.markdown, note.source, g, period.label)
        commentary = Markup(render_markdown(text, root))

    def link(step: int, word: str) -> Link | None:
        """The nearest period before (step -1) or after (+1) that has a page."""
        j = i + step
        while 0 <= j < len(periods) and not site.has_period_page(periods[j]):
            j += step
        if 0 <= j < len(periods):
            other = periods[j]
            return Link(root + site.period_path(other), f"{word}: {other.label}",
                        note="partial" if other.partial else "")
        return None

    blackouts = tuple(view for b, view in zip(site.config.policy.blackouts, blackout_views(site))
                      if _overlaps(b, period))
    context = PeriodContext(
        page=info,
        scorecards=_scorecards(site, periods, i, root),
        tables=_segment_tables(site, period, root),
        commentary=commentary,
        commentary_title=commentary_title,
        previous=link(-1, "Previous"),
        next=link(1, "Next"),
        up=Link(f"{root}periods/index.html", "All periods"),
        blackouts=blackouts,
        restatements=_period_restatements(site, period, root),
    )
    return Page(path, "period.html", context)


def _periods_index(site: SiteIndex) -> Page:
    path = "periods/index.html"
    root = root_of(path)
    groups = []
    for g in site.granularities:
        links = tuple(
            Link(root + site.period_path(p), p.label,
                 note=period_dates(p) + (" · partial" if p.partial else ""))
            for p in reversed(site.figures.periods[g]) if site.has_period_page(p)
        )
        groups.append(PeriodGroup(g, GRANULARITY_ADJECTIVE.get(g, g).capitalize(), links))
    info = site.page_info(path, "Periods", "periods")
    return Page(path, "periods_index.html", PeriodsIndexContext(info, tuple(groups)))


def _people_page(site: SiteIndex) -> Page:
    """people.html: every person's figures in the latest complete headline period, a figure
    from fewer than site.privacy.people.min_n interactions as 'too few' (SPEC §5.1)."""
    path = "people.html"
    people = cast(People, site.config.site.people)
    period = latest_complete(site.figures.periods.get(site.headline, ()))
    table = None
    if period is not None and people.dimension in site.dim_slugs:
        table = _segment_tables(site, period, "", (people.dimension,))[0]
    context = PeopleContext(
        site.page_info(path, "People", "people"),
        site.period_view(period, "") if period is not None else None,
        people.dimension, people.min_n,
        people.dimension in site.config.site.pseudonymise, table)
    return Page(path, "people.html", context)


def _segments_index(site: SiteIndex) -> Page:
    path = "segments/index.html"
    root = root_of(path)
    groups = []
    for dim in site.dim_slugs:
        links = tuple(Link(root + site.segment_path(dim, s), s) for s in site.seg_lists[dim])
        groups.append(SegmentGroup(dim, site.segments_anchor(dim), f"By {dim}", links))
    info = site.page_info(path, "Segments", "segments")
    context = SegmentsIndexContext(info, Link(root + site.segment_path("all", "all"),
                                              "All interactions"), tuple(groups))
    return Page(path, "segments_index.html", context)


def _markers(
    site: SiteIndex, window: tuple[Period, ...], dim: str, seg: str
) -> tuple[Marker, ...]:
    markers: list[Marker] = []
    for version in site.config.policy.versions:
        # A period's goals are those in force at its start: the change shows from the first
        # period starting on or after valid_from.
        i = next((i for i, p in enumerate(window) if p.start >= version.valid_from), None)
        if i:
            markers.append(Marker(i, f"policy from {version.valid_from.isoformat()}", "policy"))
    for blackout in site.config.policy.blackouts:
        cond = blackout.where.conditions
        if cond and dim != "all" and seg not in cond.get(dim, (seg,)):
            continue
        # Every period the window overlaps gets a line; only the first is labelled.
        hits = [i for i, p in enumerate(window) if _overlaps(blackout, p)]
        markers += [Marker(i, "blackout" if k == 0 else "", "blackout")
                    for k, i in enumerate(hits)]
    return tuple(markers)


def _point_note(site: SiteIndex, metric: MetricInfo, period: Period, fig: Figure | None) -> str:
    """A chart point's tooltip: '2026-W47: 97.0%, n = 332, on goal (goal ≥ 95.0%)'."""
    if fig is None or fig.value is None:
        return ""
    label = period.label + (" (partial)" if period.partial else "")
    n = f", n = {fig.n:,}" if fig.n is not None else ""
    status = STATUS_TEXT.get(fig.status, (fig.status, ""))[0]
    goal = _goal_text(site, metric, fig, period)
    return f"{label}: {format_value(fig.value, metric.unit)}{n}, {status}" + (
        f" ({goal})" if goal else "")


def _panel_summary(metric: MetricInfo, window: tuple[Period, ...],
                   figs: list[Figure | None]) -> str:
    """A panel's text alternative: first and last value, low and high."""
    known = [(p, f.value) for p, f in zip(window, figs) if f is not None and f.value is not None]
    if not known:
        return f"{metric.label}: no values"
    (first_p, first), (last_p, last) = known[0], known[-1]
    values = [v for _, v in known]
    unit_word = GRANULARITY_PLURAL.get(window[0].granularity, "periods")
    return (f"{metric.label}, last {len(window)} {unit_word}: "
            f"{format_value(first, metric.unit)} in {first_p.label} to "
            f"{format_value(last, metric.unit)} in {last_p.label}"
            f"{' (partial)' if last_p.partial else ''}; "
            f"low {format_value(min(values), metric.unit)}, "
            f"high {format_value(max(values), metric.unit)}")


def _chart(
    site: SiteIndex, title: str, window: tuple[Period, ...], dim: str, seg: str
) -> ChartSpec | None:
    headline = site.headline
    panels = []
    for m in site.figures.metrics:
        figs = [site.figure(headline, p.label, dim, seg, m.id) for p in window]
        values = tuple(f.value if f else None for f in figs)
        if all(v is None for v in values):
            continue
        goals = tuple(f.goal if f else None for f in figs)
        bands: list[tuple[float, float] | None] = []
        for p, g in zip(window, goals):
            if g is None:
                bands.append(None)
                continue
            conf = goals_in_force(site.config.policy, p.start).get(m.id)
            tol = tolerance_of(conf, m) if conf else (0.05 if m.is_ratio else abs(g) * 0.1)
            bands.append((g - tol, g) if _direction(site, m, p) == "min" else (g, g + tol))
        notes = tuple(_point_note(site, m, p, f) for p, f in zip(window, figs))
        panels.append(Panel(m.label, m.unit, values, goals, tuple(bands), notes,
                            _panel_summary(m, window, figs)))
    if not panels:
        return None
    ticks = [period_tick(p.granularity, p.label) for p in window]
    groups = tuple(group if i == 0 or group != ticks[i - 1][1] else ""
                   for i, (_, group) in enumerate(ticks))
    return ChartSpec(
        title=f"{title} — {GRANULARITY_ADJECTIVE.get(headline, headline)}",
        x_labels=tuple(p.label for p in window),
        partial=tuple(p.partial for p in window),
        panels=tuple(panels),
        markers=_markers(site, window, dim, seg),
        ticks=tuple(tick for tick, _ in ticks),
        groups=groups,
    )


def _legend_keys(spec: ChartSpec) -> tuple[str, ...]:
    """What the chart's panels draw, for its legend."""
    keys = ["value"]
    if any(g is not None for p in spec.panels for g in p.goals):
        keys += ["goal", "band"]
    if any(spec.partial):
        keys.append("partial")
    keys += [kind for kind in ("policy", "blackout") if any(m.kind == kind for m in spec.markers)]
    return tuple(keys)


def _segment_page(site: SiteIndex, dim: str, seg: str) -> tuple[Page, ChartJob | None]:
    path = site.segment_path(dim, seg)
    root = root_of(path)
    title = segment_title(dim, seg)
    info = site.page_info(path, title, "segments")
    headline = site.headline
    periods = site.figures.periods.get(headline, ()) if headline else ()
    window = periods[-max(1, site.config.site.history):] if periods else ()
    scorecards = None
    complete = [i for i, p in enumerate(periods) if not p.partial]
    if complete:
        scorecards = _scorecards(site, periods, complete[-1], root, dim, seg,
                                 heading=f"Latest complete {headline}: "
                                 f"{periods[complete[-1]].label}")
    metrics = _table_metrics(site)
    rows = []
    for p in window:
        cells = tuple(_cell(site, site.figure(headline, p.label, dim, seg, m.id), m, dim, seg,
                            root)
                      for m in metrics)
        rows.append(TrendRow(Link(root + site.period_path(p), p.label,
                                  note="partial" if p.partial else ""), cells,
                             _status_counts(cells)))
    plural_word = GRANULARITY_PLURAL.get(headline, "periods")
    adjective = GRANULARITY_ADJECTIVE.get(headline, headline)
    table = TrendTable(
        caption=f"{title} — {adjective} figures, last {len(window)} {plural_word}",
        columns=_metric_columns(site, root, metrics),
        rows=tuple(rows),
        scroll_hint=_scroll_hint(metrics),
    )
    chart_view = None
    job = None
    spec = _chart(site, title, window, dim, seg)
    if spec is not None:
        job = ChartJob(path, spec)
        chart_view = ChartView(
            caption=(f"{title} — {adjective} trends, last {len(window)} {plural_word}: one "
                     "panel per metric. Point at a dot for its period, value, n and status; "
                     "the table below lists every value."),
            legend=_legend_keys(spec),
        )
    siblings, all_siblings = _siblings(site, dim, seg, root)
    hours = None
    if (dim, seg) in site.hourly:
        hours = Link(root + site.hours_path(dim, seg), "When customers write: hour of week")
    context = SegmentContext(info, dim, seg, scorecards, chart_view, table, siblings,
                             _budget_view(site, dim, seg, root), all_siblings,
                             bracket_chart(site, dim, seg, window, root), hours)
    return Page(path, "segment.html", context), job


def _siblings(
    site: SiteIndex, dim: str, seg: str, root: str
) -> tuple[tuple[Link, ...], Link | None]:
    """Links to the segments of `dim` beside `seg`: every one, or at most MAX_SIBLINGS around
    it plus a link to the whole list on the segments index."""
    if dim == "all":
        return (), None
    listed = site.seg_lists[dim]
    start = 0
    if len(listed) > MAX_SIBLINGS:
        here = site.seg_positions[dim][seg]
        start = min(max(0, here - MAX_SIBLINGS // 2), len(listed) - MAX_SIBLINGS)
    links = tuple(Link(root + site.segment_path(dim, s), s, current=(s == seg))
                  for s in listed[start:start + MAX_SIBLINGS])
    if len(listed) <= MAX_SIBLINGS:
        return links, None
    index = f"{root}segments/index.html#{site.segments_anchor(dim)}"
    return links, Link(index, f"All {len(listed):,} segments of {dim}")


# --- Drill-through --------------------------------------------------------------------------------


def _drill_row(row: DrillRow) -> DrillRowView:
    return DrillRowView(
        id=row.id,
        channel=row.channel,
        received=row.received_at,
        responded=row.first_response_at or NO_VALUE,
        minutes=_response_time(row.minutes, row.target_minutes),  # late: shown above target
        target=_target_text(row.target_minutes, row.clock),
        state=row.state,
        location=f"{row.file}:{row.line}",
    )


@lru_cache(maxsize=16384)
def _response_time(minutes: float | None, target: float) -> str:
    """`format_minutes` of a row, remembered: response times repeat a lot across lists (at 1M
    interactions 127k rows shown hold 11k distinct pairs)."""
    return format_minutes(minutes, target)


@lru_cache(maxsize=256)
def _target_text(minutes: float, clock: str) -> str:
    """'60 min elapsed', '8 h business' (a few distinct targets, formatted once each)."""
    return f"{format_target(minutes)} {clock}"


def _drill_page(site: SiteIndex, drill: DrillList) -> tuple[Page, CsvDownload]:
    g, dim, seg = drill.granularity, drill.dimension, drill.segment
    path = site.drill_path(g, drill.period, dim, seg)
    csv_path = site.drill_path(g, drill.period, dim, seg, "csv")
    root = root_of(path)
    periods = site.figures.periods[g]
    i = next((k for k, p in enumerate(periods) if p.label == drill.period), None)
    title = f"Late and unanswered: {segment_title(dim, seg)}, {g} {drill.period}"
    info = site.page_info(path, title, "periods")
    if i is None:
        raise BuildError(f"drill-through list for {g} '{drill.period}': no such period.")
    period = periods[i]
    # A table of figures, not cards: no links back to this page, no sparklines.
    cards = tuple(_card(site, m, periods, i, dim, seg, root, drill=False,
                        with_sparkline=False)
                  for m in site.figures.metrics if m.id in RESPONSE_METRICS)
    counts: dict[str, int] = dict.fromkeys(DRILL_STATES, 0)
    if drill.counts:
        counts.update(drill.counts)
    else:
        for row in drill.rows:
            counts[row.state] = counts.get(row.state, 0) + 1
    views = tuple(_drill_row(r) for r in drill.rows[:MAX_DRILL_ROWS_SHOWN])
    context = DrillContext(
        page=info,
        period=site.period_view(period, root),
        segment=site.segment_link(dim, seg, root),
        figures=cards,
        counts=tuple(counts.items()),
        rows=views,
        total=drill.total,
        csv=Link(csv_path.rsplit("/", 1)[-1], csv_path.rsplit("/", 1)[-1]),  # same folder
        up=Link(root + site.period_path(period), f"{_heading(period)}"),
    )
    rows = () if drill.csv else tuple(_DRILL_VALUES(r) for r in drill.rows)
    csv = CsvDownload(csv_path, DRILL_COLUMNS, rows, data=drill.csv)
    return Page(path, "drill.html", context), csv


# --- Content --------------------------------------------------------------------------------------


def _content_page(site: SiteIndex, content_page: ContentPage) -> Page:
    stem = content_page.stem
    path = f"pages/{site.page_slugs[stem]}.html"
    text = _expand_figures(site, content_page.markdown, content_page.source, None, None)
    html = Markup(render_markdown(text, root_of(path)))
    info = site.page_info(path, content_page.title, "page:" + stem)
    return Page(path, "page.html", ContentContext(info, html))


# --- Live figures in content --------------------------------------------------------------------

_FIGURE_CALL = re.compile(r"\{\{\s*figure\((?P<args>[^)]*)\)\s*\}\}")
_ARG = re.compile(
    r"""\s*(?:(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?(?P<q>['"])(?P<val>.*?)(?P=q)\s*"""
)


def _expand_figures(
    site: SiteIndex, text: str, source: str, granularity: str | None, period: str | None
) -> str:
    """Replace `{{ figure('metric', dimension='segment', period='2026-W47') }}` with its value.

    Without `period` the figure is the page's period (commentary) or the latest complete period
    of the headline granularity (content pages). Only this call form is understood: content is
    never evaluated as a template.
    """

    def replace(match: re.Match[str]) -> str:
        line = text.count("\n", 0, match.start()) + 1
        args = match.group("args")
        pos, positional, named = 0, [], {}
        while pos < len(args):
            m = _ARG.match(args, pos)
            if m is None:
                raise BuildError(Problem(
                    f"{source}, line {line}", "figure()", "quoted arguments like "
                    "figure('frt_median', channel='twitter')", match.group(0)))
            if m.group("key"):
                named[m.group("key")] = m.group("val")
            else:
                positional.append(m.group("val"))
            pos = m.end()
            if pos < len(args) and args[pos] == ",":
                pos += 1
        if len(positional) != 1:
            raise BuildError(Problem(f"{source}, line {line}", "figure()",
                                     "exactly one metric id", match.group(0)))
        metric_id = positional[0]
        metric = next((m for m in site.figures.metrics if m.id == metric_id), None)
        if metric is None:
            raise BuildError(Problem(
                f"{source}, line {line}", "figure()", "a metric id shown on the site",
                metric_id, hint="see definitions.html for the ids."))
        g = named.pop("granularity", granularity or (site.granularities[0]
                                                     if site.granularities else ""))
        label = named.pop("period", None) or (period if g == granularity else None)
        if label is None:
            complete = [p for p in site.figures.periods.get(g, ()) if not p.partial]
            label = complete[-1].label if complete else ""
        dim, seg = ("all", "all")
        if len(named) > 1:
            raise BuildError(Problem(f"{source}, line {line}", "figure()",
                                     "at most one dimension='segment'", match.group(0)))
        if named:
            dim, seg = next(iter(named.items()))
        fig = site.figure(g, label, dim, seg, metric.id)
        if fig is None:
            raise BuildError(Problem(
                f"{source}, line {line}", "figure()", "a figure that exists", match.group(0),
                hint="check the dimension, segment and period."))
        return format_figure(fig, metric.unit)

    return _FIGURE_CALL.sub(replace, text)


def context_fields(context: object) -> Mapping[str, object]:
    """Return a context dataclass's fields as template variables (shallow)."""
    return {name: getattr(context, name) for name in context.__dataclass_fields__}  # type: ignore[attr-defined]
