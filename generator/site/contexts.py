"""The template API: one documented, frozen context dataclass per template.

Every template receives the fields of one ``*Context`` dataclass below as its variables (``page``
is always there). Every ``href``/``src`` in a context is already relative to the page that shows
it; ``page.root`` is the prefix back to the site root for links a template adds itself. Text
fields hold plain text (templates escape it); only fields typed ``Markup`` hold HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from markupsafe import Markup

from generator.site.charts import ChartSpec

# --- Context dataclasses (the template API) -----------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A link to show."""

    href: str
    """URL relative to the current page."""
    label: str
    """Link text."""
    current: bool = False
    """True when the link points at the current page or its section (aria-current)."""
    note: str = ""
    """Optional short text shown after the link (e.g. 'partial')."""


@dataclass(frozen=True)
class PageInfo:
    """What every page has: title, navigation, footer facts. Available as `page`."""

    path: str
    """Output-relative POSIX path of this page (e.g. 'periods/week/2026-W47.html')."""
    title: str
    """Page title (the site title is added by base.html)."""
    site_title: str
    """`site.title` from config."""
    root: str
    """Relative prefix back to the site root: '' or '../' or '../../'."""
    nav: tuple[Link, ...]
    """Main navigation: Overview, Periods, Segments, Definitions, Data quality, content pages."""
    downloads: tuple[Link, ...]
    """Links to data/figures.csv, data/figures.json, data/summary.json and data/badge.svg."""
    stylesheet: str
    """href of the theme stylesheet."""
    version: str
    """carecard version (BuildInfo.version)."""
    built_at: str
    """Build time from SOURCE_DATE_EPOCH in the reporting timezone ('2026-11-26 09:00 GMT'), or
    '' when it is unset (a build then has no date of its own: pages show the data-through
    time only)."""
    data_through: str
    """Site data-through time in the reporting timezone, or 'no data'."""
    data_through_iso: str
    """Site data-through time as ISO 8601 UTC (for <time datetime>), or ''."""
    timezone: str
    """The reporting timezone (IANA name)."""
    policy_version: str = ""
    """The policy version in force at data-through: 'policy from 2026-11-01', or 'base
    policy' when no version applies yet."""
    print_stylesheet: str = ""
    """href of the print header stylesheet (`assets/print-header.css`, made by the build: the
    site, the data-through time and the policy version at the top of every printed sheet)."""


@dataclass(frozen=True)
class Status:
    """A status as code (CSS class), word and symbol: never colour alone."""

    code: str
    """green, amber, red, insufficient or none."""
    word: str
    """'on goal', 'near goal', 'off goal', 'too few' or 'no goal'."""
    symbol: str
    """'✓', '!', '✗', '?' or '–'."""


@dataclass(frozen=True)
class Sparkline:
    """A small inline SVG trend of one metric (segment all/all unless stated)."""

    width: int
    """viewBox width."""
    height: int
    """viewBox height."""
    path: str
    """SVG path data of the value line (gaps where there is no value)."""
    goal_y: float | None
    """y of the goal line in viewBox units, or None."""
    last_x: float
    """x of the last point (drawn as a dot)."""
    last_y: float | None
    """y of the last point, or None when it has no value."""
    last_partial: bool
    """True when the last point is a partial period (dot drawn hollow)."""
    label: str
    """Text alternative (aria-label and <title>)."""


@dataclass(frozen=True)
class Card:
    """A scorecard: one metric in one period for one segment."""

    metric: str
    """Metric id (also the anchor on definitions.html)."""
    label: str
    """Metric label."""
    unit: str
    """Metric unit."""
    value: str
    """Formatted value ('87.5%', '41.5 min', '6.2 h', '12', '4.31') or '—'."""
    status: Status
    """Status of the value against its goal."""
    goal: str
    """'goal ≥ 90.0%' / 'goal ≤ 30.0 min', or '' when the metric has no goal."""
    change: str
    """Change vs previous period, e.g. '▲ 3.1 pp better', '▼ 12.0% worse', or ''."""
    change_trend: str
    """'better', 'worse', 'same' or '' (for styling; the words are in `change`)."""
    previous: str
    """Previous period's value with its label, e.g. '84.4% in 2026-W45', or ''."""
    year_ago: str
    """Year-ago value and change, e.g. '80.0% a year ago (▲ 7.5 pp better)', or ''."""
    n: str
    """Sample, e.g. 'n = 120 answered interactions', or ''."""
    sparkline: Sparkline | None
    """Trend over the last `site.history` periods up to this one, or None."""
    definition_href: str
    """Link to the metric's definition."""
    drill: Link | None
    """For a red or amber response figure: 'Show the N late or unanswered interactions' (the
    drill-through page), else None."""


@dataclass(frozen=True)
class PeriodView:
    """A period of a granularity's grid, described for people."""

    granularity: str
    """day, week, month or quarter."""
    label: str
    """Period label ('2026-W47')."""
    dates: str
    """First and last day, e.g. '2026-11-16 – 2026-11-22'."""
    partial: bool
    """True when the period ends after data-through."""
    note: str
    """'partial — data through …' for partial periods, else ''."""
    href: str
    """Link to the period's archive page."""


@dataclass(frozen=True)
class Scorecards:
    """The cards of one period (and segment)."""

    heading: str
    """Heading, e.g. 'Week 2026-W46'."""
    period: PeriodView
    """The period shown."""
    cards: tuple[Card, ...]
    """One card per metric present, in display order."""
    note: str = ""
    """What a partial period is compared with ('Compared with 2026-W47 … up to the same
    point …'), or ''."""


@dataclass(frozen=True)
class Cell:
    """One figure in a table: formatted value and status."""

    value: str
    """Formatted value or '—'."""
    status: Status
    """Its status."""
    drill: Link | None = None
    """Drill-through page for a red or amber response figure, else None. The label is the short
    visible text ('show 12'); `note` completes it for screen readers ('late or unanswered
    interactions (Response rate)')."""
    label: str = ""
    """The column's metric label (shown beside the value when a table is stacked on phones)."""


@dataclass(frozen=True)
class StatusCount:
    """How many figures of a table row have one status."""

    status: Status
    """The status."""
    count: int
    """Figures with it."""
    text: str
    """'2 off goal', '1 near goal', '3 on goal', '1 too few'."""


@dataclass(frozen=True)
class SegmentRow:
    """A row of a segment table: one segment's figures."""

    label: str
    """Segment value as text (escaped by the template)."""
    href: str
    """Link to the segment's page."""
    cells: tuple[Cell, ...]
    """One cell per column metric."""
    statuses: tuple[StatusCount, ...] = ()
    """The row's status counts, worst first (shown before its figures)."""


@dataclass(frozen=True)
class SegmentTable:
    """Every segment of one dimension for one period (rows) by metric (columns)."""

    dimension: str
    """Dimension name ('channel', 'team')."""
    caption: str
    """Table caption."""
    columns: tuple[Link, ...]
    """Metric headings, linked to their definitions: metrics with a goal first (SLA
    attainment leading), then the rest."""
    rows: tuple[SegmentRow, ...]
    """Segments in figures order."""
    scroll_hint: str = ""
    """'20 metrics: the table scrolls sideways' for a table wider than a desktop page, else ''."""


@dataclass(frozen=True)
class BudgetView:
    """The error budget of one segment over the current window (SPEC §4.6)."""

    segment: Link
    """The segment ('All interactions' or 'Channel: email'), linked to its page."""
    metric: str
    """Label of the budgeted metric ('SLA attainment')."""
    window: str
    """Window label ('2026-11', '28 days to 2026-11-25')."""
    dates: str
    """Window start and end in the reporting timezone ('2026-11-01 – 2026-11-30')."""
    goal: str
    """The goal the budget derives from ('≥ 92.0%')."""
    eligible: str
    """Interactions in the metric's denominator within the window."""
    allowed: str
    """Allowed breaches, (1 − goal) × eligible ('90.8')."""
    used: str
    """Breaches so far."""
    remaining: str
    """Allowed − used; negative (with a minus sign) when overspent."""
    overspent: bool
    """True when remaining is negative."""
    burn_rate: str
    """'1.61×' (breach share / allowed share), or '—' when undefined."""
    status: Status
    """'on track ✓' (burn ≤ 1), 'over budget ✗' or 'no budget –' (burn undefined)."""
    summary: str
    """One sentence, e.g. '146 of 90.8 allowed breaches used: 55.2 over budget.'"""
    definition_href: str
    """Link to the budget's arithmetic on the definitions page."""


@dataclass(frozen=True)
class BlackoutView:
    """A blackout window of the policy."""

    reason: str
    """Why (from config)."""
    window: str
    """Start – end in the reporting timezone."""
    scope: str
    """'all interactions' or the `where` in words."""


@dataclass(frozen=True)
class RestatementRow:
    """A figure of a complete period that the newest drop changed (SPEC §6.6)."""

    period: Link
    """The period, linked to its page."""
    segment: str
    """'All interactions' or 'Channel: email'."""
    metric: Link
    """Metric label, linked to its definition."""
    old: str
    """Old value, formatted by unit."""
    new: str
    """New value, formatted by unit."""
    old_n: str
    """Old n, or '—'."""
    new_n: str
    """New n, or '—'."""


@dataclass(frozen=True)
class Restatements:
    """Restated figures, capped for HTML."""

    rows: tuple[RestatementRow, ...]
    """At most the cap, sorted like figures.csv."""
    total: int
    """All restated figures (before the cap)."""
    basis: str
    """'Old = computed from all drops except: content/exports/w48.csv.'"""
    more: Link | None
    """Where every row is listed when the rows are capped, else None."""
    csv: Link | None
    """The CSV of every restated figure (on the data-quality page), else None."""


@dataclass(frozen=True)
class PeriodContext:
    """Context of period.html: `periods/<granularity>/<label>.html`."""

    page: PageInfo
    """Common page facts."""
    scorecards: Scorecards
    """All-interaction cards for the period."""
    tables: tuple[SegmentTable, ...]
    """One segment table per dimension."""
    commentary: Markup
    """Commentary HTML from content/commentary/<label>.md ('' when none)."""
    commentary_title: str
    """The commentary's front-matter title, or 'Commentary'."""
    previous: Link | None
    """Previous period of the same granularity, or None."""
    next: Link | None
    """Next period of the same granularity, or None."""
    up: Link
    """Link to the archive index."""
    blackouts: tuple[BlackoutView, ...]
    """Policy blackout windows overlapping the period."""
    restatements: Restatements | None
    """This period's figures that the newest drop changed, or None when it changed none."""


@dataclass(frozen=True)
class GlanceTile:
    """One goal in the overview's bar."""

    status: Status
    """Its status (the tile's colour, symbol and word)."""
    label: str
    """The metric's label."""


@dataclass(frozen=True)
class Glance:
    """The overview's first sentence and bar (SPEC §6.1): how the goals of the latest complete
    headline period stand, for all interactions."""

    sentence: str
    """E.g. '7 of 10 goals met, 2 near, 1 off — SLA attainment 85.5% against 92%'."""
    tiles: tuple[GlanceTile, ...]
    """The bar: one tile per goal, on goal first, then near, off and too few."""


@dataclass(frozen=True)
class OverviewContext:
    """Context of overview.html: `index.html`."""

    page: PageInfo
    """Common page facts."""
    granularity: str
    """The headline granularity."""
    latest: Scorecards | None
    """Latest complete period of the headline granularity, or None when none is complete."""
    partial: Scorecards | None
    """The partial (latest) period when it is partial, else None: shown as one compact table
    (its cards have no sparkline), with `note` saying what it is compared with."""
    tables: tuple[SegmentTable, ...]
    """Segment tables for the latest complete period."""
    legend: tuple[Status, ...]
    """Every status with its word and symbol (for the legend)."""
    budget: BudgetView | None
    """Error budget of all interactions, or None when the policy sets none."""
    budgets: tuple[BudgetView, ...]
    """Error budget of every segment (all interactions first); empty when there is none."""
    glance: Glance | None = None
    """The sentence and bar that open the page, or None when no period is complete or no
    metric has a goal."""


@dataclass(frozen=True)
class ChartView:
    """A segment's trend chart: one small panel per metric, drawn inline (SVG) in the page."""

    caption: str
    """What the chart shows, e.g. 'Channel: email — weekly trends, last 13 weeks'."""
    legend: tuple[str, ...]
    """Keys of what the panels draw, in legend order: 'value', 'goal', 'band', 'partial',
    'policy', 'blackout' (the template shows a swatch and words for each)."""
    panels: Markup = Markup("")
    """The panels: one `<figure class="chart-panel">` each (caption and inline SVG whose
    colours are the theme's `--chart-*` CSS variables); filled in when the charts are drawn,
    just before the page is rendered."""


@dataclass(frozen=True)
class TrendRow:
    """One period of a trend table."""

    period: Link
    """The period, linked to its archive page (note 'partial' when partial)."""
    cells: tuple[Cell, ...]
    """One cell per column metric."""
    statuses: tuple[StatusCount, ...] = ()
    """The row's status counts, worst first (shown before its figures)."""


@dataclass(frozen=True)
class TrendTable:
    """The data behind a chart: periods (rows) × metrics (columns)."""

    caption: str
    """Table caption."""
    columns: tuple[Link, ...]
    """Metric headings linked to their definitions (metrics with a goal first)."""
    rows: tuple[TrendRow, ...]
    """Periods, oldest first (as on the chart)."""
    scroll_hint: str = ""
    """'20 metrics: the table scrolls sideways' for a table wider than a desktop page, else ''."""


@dataclass(frozen=True)
class Swatch:
    """A legend entry of the hour-of-week heatmaps and the brackets chart."""

    code: str
    """Its CSS class ('heat-3', 'bracket-0', 'heat-none')."""
    label: str
    """What it stands for ('12 – 25', '≤ 15 min')."""


@dataclass(frozen=True)
class BracketRow:
    """One period of the brackets table."""

    period: Link
    """The period, linked to its archive page (note 'partial' when partial)."""
    counts: tuple[str, ...]
    """Interactions in each bracket (as the table's columns)."""
    within_mark: str
    """Share of actionable interactions answered within the mark ('72.4%'), '—' without any."""
    actionable: str
    """Actionable interactions (the brackets add up to it)."""


@dataclass(frozen=True)
class BracketChart:
    """A segment's first-response brackets per period (SPEC §5.1): a 100% stacked column per
    period, the mark as a line, and the table of counts beside it."""

    caption: str
    """What the chart shows."""
    summary: str
    """The chart's text alternative."""
    svg: Markup
    """The columns as inline SVG (shapes only; the labels are HTML around it)."""
    legend: tuple[Swatch, ...]
    """One swatch per bracket, fastest first."""
    mark: str
    """The mark's legend words ('answered within 60 min (the line)')."""
    ticks: tuple[str, ...]
    """Short period labels under the columns ('W47')."""
    columns: tuple[str, ...]
    """The table's bracket headings ('≤ 5 min' … 'unanswered, overdue')."""
    rows: tuple[BracketRow, ...]
    """Periods, oldest first."""
    mark_heading: str
    """Heading of the table's share column ('Within 60 min')."""


@dataclass(frozen=True)
class SegmentContext:
    """Context of segment.html: `segments/<dimension>/<slug>.html`."""

    page: PageInfo
    """Common page facts."""
    dimension: str
    """Dimension name, 'all' for all interactions."""
    segment: str
    """Segment value, 'all' for all interactions."""
    scorecards: Scorecards | None
    """This segment's cards for the latest complete headline period, or None."""
    chart: ChartView | None
    """The trend chart, or None when there is nothing to draw."""
    table: TrendTable
    """The chart's data (the chart's text alternative)."""
    siblings: tuple[Link, ...]
    """Segments of the same dimension, this one marked current: all of them, or when there
    are more than MAX_SIBLINGS, the MAX_SIBLINGS nearest to this one in figures.csv order
    (so that a page's size does not grow with the number of segments)."""
    budget: BudgetView | None
    """This segment's error budget, or None when the policy sets none."""
    all_siblings: Link | None = None
    """When `siblings` lists only some segments: the list of all of them on the segments
    index ('All 5,000 segments of team')."""
    brackets: BracketChart | None = None
    """First-response brackets of the shown periods, or None without response times."""
    hours: Link | None = None
    """The segment's hour-of-week page, or None."""


@dataclass(frozen=True)
class HeatCell:
    """One cell of an hour-of-week table."""

    value: str
    """The formatted value, '—' when there is none."""
    code: str
    """The heatmap class of the value ('heat-0' … 'heat-4', 'heat-none')."""
    label: str
    """The column's heading (the weekday), for a table stacked on a phone."""


@dataclass(frozen=True)
class HeatRow:
    """One hour of an hour-of-week table."""

    hour: str
    """'00:00' … '23:00'."""
    cells: tuple[HeatCell, ...]
    """Monday first."""


@dataclass(frozen=True)
class Heatmap:
    """One metric by weekday × hour: a heatmap, its legend and the table of its values."""

    metric: Link
    """The metric, linked to its definition."""
    anchor: str
    """The section's id ('hours-sla_attainment')."""
    summary: str
    """The heatmap's text alternative (busiest or worst hours)."""
    svg: Markup
    """The 7 × 24 cells as inline SVG (one `<rect>` with a `<title>` each)."""
    legend: tuple[Swatch, ...]
    """The value range of each shade, then 'no value'."""
    caption: str
    """The table's caption."""
    weekdays: tuple[str, ...]
    """Column headings, Monday first."""
    rows: tuple[HeatRow, ...]
    """24 rows, from 00:00."""


@dataclass(frozen=True)
class HoursContext:
    """Context of hours.html: `hours/<dimension>/<slug>.html` (SPEC §5.1)."""

    page: PageInfo
    """Common page facts."""
    segment: Link
    """The segment, linked to its page."""
    window: str
    """The periods covered ('13 weeks, 2026-W36 to 2026-W48 (partial)')."""
    timezone: str
    """The reporting timezone the hours are read in."""
    heatmaps: tuple[Heatmap, ...]
    """Volume, median first response and SLA attainment (those the data has)."""


@dataclass(frozen=True)
class LeagueRow:
    """One segment of a league table."""

    segment: Link
    """The segment, linked to its page."""
    status: Status
    value: str
    goal: str
    change: str
    """'▲ 3.1 pp better' or '' (no comparison)."""
    n: str


@dataclass(frozen=True)
class LeagueTable:
    """The segments of one dimension ranked on one metric with a goal."""

    anchor: str
    """The table's id ('league-team-sla_attainment')."""
    metric: Link
    """The metric, linked to its definition."""
    caption: str
    rows: tuple[LeagueRow, ...]
    """Red first, then amber, green and too few; within a status, furthest behind the goal
    first."""


@dataclass(frozen=True)
class LeagueGroup:
    """The league tables of one dimension."""

    dimension: str
    anchor: str
    tables: tuple[LeagueTable, ...]
    """One per metric with a goal, SLA attainment first."""


@dataclass(frozen=True)
class LeagueContext:
    """Context of league.html: who is behind, per dimension, in the latest complete period."""

    page: PageInfo
    """Common page facts."""
    period: PeriodView | None
    """The latest complete headline period, or None when there is none."""
    groups: tuple[LeagueGroup, ...]
    """One per dimension."""


@dataclass(frozen=True)
class PeopleContext:
    """Context of people.html (site.privacy.people): each person's figures in the latest
    complete period, a figure from fewer than `min_n` interactions shown as 'too few'."""

    page: PageInfo
    """Common page facts."""
    period: PeriodView | None
    """The latest complete headline period, or None when there is none."""
    dimension: str
    """The dimension that names people ('agent')."""
    min_n: int
    """The fewest interactions a person's figure is shown from."""
    pseudonymised: bool
    """True when the people's names are keyed pseudonyms (site.privacy.pseudonymise)."""
    table: SegmentTable | None
    """One row per person, in figures order (None without a complete period)."""


@dataclass(frozen=True)
class PeriodGroup:
    """The periods of one granularity."""

    granularity: str
    """day, week, month or quarter."""
    heading: str
    """Heading, e.g. 'Weekly'."""
    periods: tuple[Link, ...]
    """Newest first; note 'partial' where partial."""


@dataclass(frozen=True)
class PeriodsIndexContext:
    """Context of periods_index.html: `periods/index.html`."""

    page: PageInfo
    """Common page facts."""
    groups: tuple[PeriodGroup, ...]
    """One group per published granularity, headline first."""


@dataclass(frozen=True)
class SegmentGroup:
    """The segments of one dimension."""

    dimension: str
    """Dimension name."""
    anchor: str
    """The id of the group on the page ('dimension-team'), which segment pages link to."""
    heading: str
    """Heading."""
    segments: tuple[Link, ...]
    """Links to segment pages."""


@dataclass(frozen=True)
class SegmentsIndexContext:
    """Context of segments_index.html: `segments/index.html`."""

    page: PageInfo
    """Common page facts."""
    all: Link
    """Link to all interactions."""
    groups: tuple[SegmentGroup, ...]
    """One group per dimension."""


@dataclass(frozen=True)
class GoalView:
    """A goal in force from a date."""

    valid_from: str
    """'' for the base policy, else the ISO date it applies from."""
    text: str
    """'≥ 90.0%'."""
    tolerance: str
    """'5.0 pp (set)' or '3.0 min (default: 10% of the goal)'."""
    min_n: str
    """Minimum sample."""


@dataclass(frozen=True)
class MetricDefinition:
    """One metric on definitions.html."""

    id: str
    """Metric id; the anchor is `metric-<id>`."""
    anchor: str
    """Element id ('metric-frt_median')."""
    label: str
    """Label."""
    unit: str
    """Unit, in words."""
    better: str
    """'Higher is better' / 'Lower is better'."""
    definition: str
    """Definition text."""
    n: str
    """What n counts, or 'no sample (n not used)'."""
    goals: tuple[GoalView, ...]
    """Goals over time (base policy first); empty when the metric has no goal."""
    status_rule: str
    """How the status is decided."""


@dataclass(frozen=True)
class RuleRow:
    """A population (exclusion) rule."""

    name: str
    """Rule name."""
    condition: str
    """Human-readable `where`."""
    source: str
    """'built-in' or 'policy' (with valid_from for versions)."""


@dataclass(frozen=True)
class TargetRow:
    """A first-response target rule."""

    condition: str
    """Human-readable `where` ('any other interaction' for the default)."""
    within: str
    """Target as written ('60m')."""
    clock: str
    """elapsed or business."""
    calendar: str
    """Calendar name or '—'."""


@dataclass(frozen=True)
class TargetSet:
    """The first-response targets in force from a date."""

    valid_from: str
    """'' for the base policy, else the ISO date."""
    rows: tuple[TargetRow, ...]
    """Rules in order; the first match wins."""


@dataclass(frozen=True)
class PolicyVersionView:
    """One version of the policy and what it changed."""

    valid_from: str
    """'from the beginning' for the base policy, else 'from 2026-11-01'."""
    changes: tuple[str, ...]
    """What changed against the version before, e.g. 'goal of SLA attainment: ≥ 92.0% (was
    ≥ 90.0%)', 'first-response targets replaced'; the base policy lists its contents."""


@dataclass(frozen=True)
class CalendarView:
    """A business-hours calendar."""

    name: str
    """Calendar name (anchor `calendar-<slug>`)."""
    anchor: str
    """Element id."""
    timezone: str
    """IANA timezone the hours are written in."""
    days: tuple[tuple[str, str, str], ...]
    """(weekday, open intervals, open hours) per weekday, Monday first ('closed' days too)."""
    weekly_hours: str
    """Open hours per week ('53.0 h')."""
    holidays: tuple[str, ...]
    """Holiday dates (closed all day), ISO."""
    used_by: tuple[str, ...]
    """Targets on the business clock that use it ("channel is 'email': 8h")."""


@dataclass(frozen=True)
class BudgetDefinition:
    """How the error budget is computed (definitions page)."""

    metric: str
    """Metric label."""
    window: str
    """The window in words ('calendar month in Europe/London')."""
    goal: str
    """Goal in force at the current window's start, or ''."""
    steps: tuple[str, ...]
    """The arithmetic, one step per line."""


@dataclass(frozen=True)
class DefinitionsContext:
    """Context of definitions.html."""

    page: PageInfo
    """Common page facts."""
    metrics: tuple[MetricDefinition, ...]
    """Every metric shown on the site."""
    exclusions: tuple[RuleRow, ...]
    """Population rules in order (built-in no_reply_needed first)."""
    targets: tuple[TargetSet, ...]
    """First-response targets (base policy, then versions that replace them)."""
    csat: str
    """CSAT scale and satisfied set."""
    sentiment: str
    """Sentiment thresholds."""
    timezone: str
    """Reporting timezone."""
    periods: str
    """Granularities published, headline first."""
    data_through: str
    """The data-through rule and its current value."""
    blackouts: tuple[BlackoutView, ...]
    """Blackout windows."""
    calendars: tuple[CalendarView, ...]
    """Calendars, those used by business-clock targets first."""
    versions: tuple[PolicyVersionView, ...]
    """Every policy version, oldest first (one entry when the policy has no versions)."""
    budget: BudgetDefinition | None
    """The error budget's arithmetic, or None when the policy sets none."""
    tolerance_rule: str
    """The default amber tolerance rule."""


@dataclass(frozen=True)
class ReasonCount:
    """Rejected rows of one reason."""

    code: str
    """Reason code ('missing_required'), as in data/rejected.csv."""
    label: str
    """Human label ('missing required field'), from the QualityReport's reason_labels."""
    count: int
    """Rows rejected for it."""


@dataclass(frozen=True)
class DropRow:
    """Row accounting for one drop (or the totals)."""

    source: str
    """Source name ('' for totals)."""
    file: str
    """File relative to config.yaml, or 'Total'."""
    read: int
    """Rows read."""
    kept: int
    """Rows kept."""
    superseded: int
    """Rows superseded by a later drop."""
    rejected: int
    """Rows rejected."""
    reasons: tuple[ReasonCount, ...]
    """Rejections by reason (sorted by code)."""
    balanced: bool
    """read == kept + superseded + rejected + before since + retracted."""
    before_since: int = 0
    """Valid rows received before `since` (off the grid)."""
    retracted: int = 0
    """Retraction rows (`deleted` true): their interactions are in no figure."""


@dataclass(frozen=True)
class RejectionRow:
    """One rejected row."""

    source: str
    """Source name."""
    file: str
    """File."""
    position: str
    """'line 12', 'row 3', 'item 4'."""
    field: str
    """Field (or column) at fault."""
    reason: str
    """Reason code ('missing_required')."""
    message: str
    """Full message."""
    reason_label: str = ""
    """Human label of the reason ('missing required field')."""


@dataclass(frozen=True)
class DroppedFieldRow:
    """Invalid values of one optional field, for one reason, in one drop: the rows were kept
    with the field empty."""

    file: str
    """File."""
    field: str
    """Canonical field ('csat')."""
    column: str
    """Export column."""
    reason: str
    """Reason code ('not_a_number')."""
    reason_label: str
    """Human label of the reason ('not a number')."""
    count: int
    """Values dropped."""
    example: str
    """The message of the first one."""


@dataclass(frozen=True)
class ThreadRow:
    """Threading of one message-level source (SPEC §3.3)."""

    source: str
    """Source name."""
    messages: int
    """Messages kept after de-duplication."""
    conversations: int
    """Conversations (threads started by a customer)."""
    orphans: int
    """Messages whose parent is missing."""
    brand_initiated: int
    """Threads started by a brand message."""
    orphan_ids: tuple[str, ...]
    """Ids of orphaned thread tops (at most 500)."""
    brand_initiated_ids: tuple[str, ...]
    """Ids of brand-initiated thread starts (at most 500)."""
    response_ids_disagreeing: int = 0
    """Listed response ids that disagree with in_reply_to (a cross-check only: in_reply_to is
    authoritative)."""
    response_time_unknown: int = 0
    """Conversations answered by a brand reply that has no time."""


@dataclass(frozen=True)
class FoldRow:
    """A dimension with more values than site.max_segments (data-quality page)."""

    dimension: str
    """Dimension name."""
    values: int
    """Distinct values in the data."""
    published: int
    """Values published as segments of their own (the dimension's site.max_segments)."""
    folded: int
    """Values folded into the segment '(other)'."""
    interactions: int
    """Interactions of the folded values (all time)."""
    other: Link
    """The '(other)' segment's page."""


@dataclass(frozen=True)
class LookalikeValue:
    """One value of a group of probable duplicates."""

    text: str
    """The value, its invisible characters (and white space but single inner spaces) written
    as '⟨U+200B⟩'."""
    interactions: int
    """Interactions with this value (all time)."""
    letters: str
    """Its characters outside ASCII, named ('о U+043E CYRILLIC SMALL LETTER O'), or ''."""
    href: str
    """Its segment page ('' when it is folded into '(other)')."""


@dataclass(frozen=True)
class LookalikeRow:
    """Values of one dimension that probably mean the same."""

    dimension: str
    """Dimension name."""
    values: tuple[LookalikeValue, ...]
    """Most interactions first."""
    differences: str
    """What tells them apart ('case, look-alike characters')."""


@dataclass(frozen=True)
class DataQualityContext:
    """Context of data_quality.html."""

    page: PageInfo
    """Common page facts."""
    drops: tuple[DropRow, ...]
    """One row per drop, in reading order."""
    totals: DropRow
    """Totals over every drop."""
    balanced: bool
    """True when every drop satisfies read = kept + superseded + rejected (+ before since +
    retracted)."""
    exclusions: tuple[tuple[str, int], ...]
    """(rule name, interactions excluded), built-in rule first."""
    data_through: str
    """Site data-through (reporting timezone) or 'no data'."""
    data_through_explicit: bool
    """True when site.data_through sets it."""
    sources: tuple[tuple[str, str, bool], ...]
    """(source, its data-through, closed: does not hold the site back) triples."""
    fields_dropped: tuple[DroppedFieldRow, ...]
    """Invalid optional fields of kept rows, per drop, field and reason."""
    values_dropped: int
    """All of them."""
    rejections: tuple[RejectionRow, ...]
    """Rejected rows, at most MAX_REJECTIONS_SHOWN."""
    rejections_total: int
    """All rejected rows."""
    rejected_csv: Link | None
    """Link to data/rejected.csv when there are rejected rows."""
    blackouts: tuple[tuple[str, int], ...]
    """(blackout reason, actionable interactions left out of SLA attainment), policy order."""
    threads: tuple[ThreadRow, ...]
    """One row per message-level source."""
    restatements: Restatements
    """Every restated figure (capped), with the drops left out for 'old'."""
    newest_drops: tuple[str, ...]
    """Files whose absence gives the 'old' values ('' when there was only one drop)."""
    folds: tuple[FoldRow, ...] = ()
    """Dimensions whose values beyond site.max_segments fold into '(other)'."""
    lookalikes: tuple[LookalikeRow, ...] = ()
    """Groups of probable duplicates (at most MAX_LOOKALIKES_SHOWN)."""
    lookalikes_total: int = 0
    """All groups of probable duplicates."""
    beyond: tuple[tuple[str, str, int], ...] = ()
    """(source, headline period, interactions) received after data-through: left out of
    every figure."""
    beyond_total: int = 0
    """All of them."""
    since: str = ""
    """The `since` cut-off of the sources, formatted ('' when none is set); several sources
    with different ones are listed as 'name: time'."""
    show_before_since: bool = False
    """Show the 'Before since' column (a `since` is set or rows were counted so)."""
    show_retracted: bool = False
    """Show the 'Retracted' column (a drop maps `deleted` or rows were retracted)."""


class DrillRowView(NamedTuple):
    """One late, overdue or waiting interaction, formatted.

    A named tuple rather than a dataclass: a page lists up to 200, and drill.html unpacks each
    in its loop (cheaper to make and to read than attributes; ``row.id`` works as well).
    """

    id: str
    """Interaction id."""
    channel: str
    """Channel."""
    received: str
    """Received, reporting timezone ('2026-09-01 11:36')."""
    responded: str
    """First response, or '—' when unanswered."""
    minutes: str
    """First response on the target's clock ('112.2 min'), or '—'; a late reply gets the
    decimals it needs to show above its target ('60.03 min', never '60.0 min')."""
    target: str
    """Target and clock ('60 min elapsed', '8 h business')."""
    state: str
    """'late', 'overdue' or 'waiting'."""
    location: str
    """'content/exports/w36.csv:18'."""


@dataclass(frozen=True)
class DrillContext:
    """Context of drill.html: `drill/<granularity>/<period>/<dimension>/<slug>.html`."""

    page: PageInfo
    """Common page facts."""
    period: PeriodView
    """The period."""
    segment: Link
    """The segment, linked to its page."""
    figures: tuple[Card, ...]
    """The period's response figures for the segment (why the list exists); without
    sparklines or drill links."""
    counts: tuple[tuple[str, int], ...]
    """(state word, interactions) for late, overdue and waiting, in that order."""
    rows: tuple[DrillRowView, ...]
    """At most MAX_DRILL_ROWS_SHOWN interactions, oldest first."""
    total: int
    """All interactions of the list."""
    csv: Link
    """The CSV with every row."""
    up: Link
    """Back to the period page."""


@dataclass(frozen=True)
class ContentContext:
    """Context of page.html: `pages/<slug>.html` from content/*.md."""

    page: PageInfo
    """Common page facts (title from front matter)."""
    html: Markup
    """The page body (safe HTML from Markdown)."""


@dataclass(frozen=True)
class Page:
    """One page to render."""

    path: str
    """Output-relative POSIX path."""
    template: str
    """Template file name."""
    context: object
    """One of the *Context dataclasses; its fields become the template's variables."""


@dataclass(frozen=True)
class ChartJob:
    """One chart to draw: its panels go into the page that shows it (`ChartView.panels`)."""

    page: str
    """Output path of the page that shows it."""
    spec: ChartSpec
    """What to draw."""


@dataclass(frozen=True)
class CsvDownload:
    """A CSV written beside the pages (a drill-through list, the restatements)."""

    path: str
    """Output-relative POSIX path ('drill/week/2026-W46/all/all.csv')."""
    columns: tuple[str, ...]
    """Header row."""
    rows: tuple[tuple[object, ...], ...]
    """Data rows: text, numbers (written in shortest round-trip form) or None (empty)."""
    data: bytes | None = None
    """The whole CSV already made (a drill-through list), written in place of `rows`."""


@dataclass(frozen=True)
class SiteModel:
    """Every page, chart and page-level download of the site, before rendering."""

    pages: tuple[Page, ...]
    """Pages in a stable order."""
    charts: tuple[ChartJob, ...]
    """Charts in a stable order."""
    downloads: tuple[CsvDownload, ...] = ()
    """CSVs linked from pages (drill-through lists, restatements), in a stable order."""
    print_header: str = ""
    """What tops every printed sheet: 'Acme · data through 2026-11-25 14:52 GMT · policy from
    2026-11-01' (written into `assets/print-header.css`)."""

