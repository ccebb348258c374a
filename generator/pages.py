"""Build the site model: every page's template context and every chart's spec.

This module decides WHAT each page shows (which period, which figures, formatted how);
templates only lay it out. Every template receives the fields of one context dataclass below as
its variables (``page`` is always there), so these dataclasses are the documented template API.
Every ``href``/``src`` in a context is already relative to the page that shows it; ``page.root``
is the prefix back to the site root for links a template adds itself.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup

from generator.charts import ChartSpec, Marker, Panel
from generator.config import Config, Goal, Policy, TargetRule, Where
from generator.content import Content, ContentPage, render_markdown
from generator.errors import BuildError, Problem
from generator.model import (
    BuildInfo,
    Figure,
    Figures,
    MetricInfo,
    Period,
    QualityReport,
)

#: Machine-readable downloads written by the output stage (SPEC §7), linked from every page.
DOWNLOADS: tuple[tuple[str, str], ...] = (
    ("data/figures.csv", "figures.csv"),
    ("data/figures.json", "figures.json"),
    ("data/summary.json", "summary.json"),
)
#: Every rejected row, written by the output stage; linked from the data-quality page.
REJECTED_CSV = "data/rejected.csv"
#: Rejected rows listed on the data-quality page (the CSV has them all).
MAX_REJECTIONS_SHOWN = 500
STYLESHEET = "assets/carecard.css"

#: Status code -> (word, symbol). The word and symbol always accompany the colour.
STATUS_TEXT: dict[str, tuple[str, str]] = {
    "green": ("on goal", "✓"),
    "amber": ("near goal", "!"),
    "red": ("off goal", "✗"),
    "insufficient": ("too few", "?"),
    "none": ("no goal", "–"),
}
GRANULARITY_ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly",
                         "quarter": "quarterly"}
GRANULARITY_PLURAL = {"day": "days", "week": "weeks", "month": "months", "quarter": "quarters"}
NO_VALUE = "—"
BUILTIN_EXCLUSION = "no_reply_needed"


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
    """Links to data/figures.csv, data/figures.json and data/summary.json."""
    stylesheet: str
    """href of the theme stylesheet."""
    version: str
    """carecard version (BuildInfo.version)."""
    built_at: str
    """Build timestamp (BuildInfo.built_at; derived from data or SOURCE_DATE_EPOCH)."""
    data_through: str
    """Site data-through time in the reporting timezone, or 'no data'."""
    data_through_iso: str
    """Site data-through time as ISO 8601 UTC (for <time datetime>), or ''."""
    timezone: str
    """The reporting timezone (IANA name)."""


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


@dataclass(frozen=True)
class Cell:
    """One figure in a table: formatted value and status."""

    value: str
    """Formatted value or '—'."""
    status: Status
    """Its status."""


@dataclass(frozen=True)
class SegmentRow:
    """A row of a segment table: one segment's figures."""

    label: str
    """Segment value as text (escaped by the template)."""
    href: str
    """Link to the segment's page."""
    cells: tuple[Cell, ...]
    """One cell per column metric."""


@dataclass(frozen=True)
class SegmentTable:
    """Every segment of one dimension for one period (rows) by metric (columns)."""

    dimension: str
    """Dimension name ('channel', 'team')."""
    caption: str
    """Table caption."""
    columns: tuple[Link, ...]
    """Metric headings, linked to their definitions."""
    rows: tuple[SegmentRow, ...]
    """Segments in figures order."""


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
    """The partial (latest) period when it is partial, else None."""
    tables: tuple[SegmentTable, ...]
    """Segment tables for the latest complete period."""
    legend: tuple[Status, ...]
    """Every status with its word and symbol (for the legend)."""


@dataclass(frozen=True)
class ChartView:
    """A chart image and its text alternative."""

    src: str
    """Link to the SVG."""
    alt: str
    """Short text alternative of the image."""
    caption: str
    """Figure caption."""


@dataclass(frozen=True)
class TrendRow:
    """One period of a trend table."""

    period: Link
    """The period, linked to its archive page (note 'partial' when partial)."""
    cells: tuple[Cell, ...]
    """One cell per column metric."""


@dataclass(frozen=True)
class TrendTable:
    """The data behind a chart: periods (rows) × metrics (columns)."""

    caption: str
    """Table caption."""
    columns: tuple[Link, ...]
    """Metric headings linked to their definitions."""
    rows: tuple[TrendRow, ...]
    """Periods, oldest first (as on the chart)."""


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
    """Other segments of the same dimension."""


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
    blackouts: tuple[str, ...]
    """Blackout windows described."""
    calendars: tuple[str, ...]
    """Calendars described."""
    tolerance_rule: str
    """The default amber tolerance rule."""


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
    reasons: tuple[tuple[str, int], ...]
    """Rejections by reason code."""
    balanced: bool
    """read == kept + superseded + rejected."""


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
    """Reason code."""
    message: str
    """Full message."""


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
    """True when every drop satisfies read = kept + superseded + rejected."""
    exclusions: tuple[tuple[str, int], ...]
    """(rule name, interactions excluded), built-in rule first."""
    data_through: str
    """Site data-through (reporting timezone) or 'no data'."""
    data_through_explicit: bool
    """True when site.data_through sets it."""
    sources: tuple[tuple[str, str], ...]
    """(source, its data-through) pairs."""
    rejections: tuple[RejectionRow, ...]
    """Rejected rows, at most MAX_REJECTIONS_SHOWN."""
    rejections_total: int
    """All rejected rows."""
    rejected_csv: Link | None
    """Link to data/rejected.csv when there are rejected rows."""


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
    """One chart to draw."""

    path: str
    """Output-relative POSIX path of the SVG."""
    spec: ChartSpec
    """What to draw."""
    page: str
    """The page that shows it (for error messages)."""


@dataclass(frozen=True)
class SiteModel:
    """Every page and chart of the site, before rendering."""

    pages: tuple[Page, ...]
    """Pages in a stable order."""
    charts: tuple[ChartJob, ...]
    """Charts in a stable order."""


# --- Formatting --------------------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    """Format a value for display by unit ('87.5%', '41.5 min', '6.2 h', '12', '4.31')."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_VALUE
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "minutes":
        return f"{value:,.1f} min"
    if unit == "hours":
        return f"{value:,.1f} h"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if unit == "score":
        return f"{value:.2f}"
    return f"{value:g}"


def format_change(change: float | None, change_unit: str | None, better: str) -> tuple[str, str]:
    """Return ('▲ 3.1 pp better', 'better') for a change; ('', '') when there is none."""
    if change is None or change_unit is None:
        return "", ""
    unit = "pp" if change_unit == "pp" else "%"
    magnitude = f"{abs(change):,.1f}"
    if magnitude.strip("0.,") == "":
        return "= no change", "same"
    up = change > 0
    if better not in ("higher", "lower"):
        word = "up" if up else "down"
        sep = " " if unit == "pp" else ""
        return f"{'▲' if up else '▼'} {magnitude}{sep}{unit} {word}", "neutral"
    trend = "better" if up == (better == "higher") else "worse"
    sep = " " if unit == "pp" else ""
    return f"{'▲' if up else '▼'} {magnitude}{sep}{unit} {trend}", trend


def status_of(code: str) -> Status:
    """Return the Status view of a status code."""
    word, symbol = STATUS_TEXT.get(code, (code, "?"))
    return Status(code, word, symbol)


def slugify(text: str) -> str:
    """Lower-case ASCII slug [a-z0-9-] ('' when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def short_hash(text: str) -> str:
    """First 8 hex digits of the SHA-256 of `text`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def segment_slugs(values: Iterable[str]) -> dict[str, str]:
    """Map raw segment values to unique slugs.

    A value keeps its plain slug when no other value has the same slug, or when it IS that slug
    (so 'email' stays 'email' when 'Email' appears); otherwise '-' + 8 hex of its SHA-256 is
    appended. Empty slugs always get the hash.
    """
    values = list(dict.fromkeys(values))
    plain = {v: slugify(v) for v in values}
    groups: dict[str, list[str]] = {}
    for v in values:
        groups.setdefault(plain[v], []).append(v)
    slugs: dict[str, str] = {}
    for v in values:
        base = plain[v]
        group = groups[base]
        if base and (len(group) == 1 or v == base):
            slugs[v] = base
        else:
            slugs[v] = f"{base}-{short_hash(v)}" if base else short_hash(v)
    return slugs


def _dates(period: Period) -> str:
    last = period.end - timedelta(days=1)
    if last == period.start:
        return period.start.isoformat()
    return f"{period.start.isoformat()} – {last.isoformat()}"


def _where_text(where: Where) -> str:
    if not where.conditions:
        return "any interaction"
    parts = []
    for key, values in where.conditions.items():
        if len(values) == 1:
            parts.append(f"{key} is '{values[0]}'")
        else:
            parts.append(f"{key} is one of " + ", ".join(f"'{v}'" for v in values))
    return " and ".join(parts)


# --- Goals --------------------------------------------------------------------------------------


def goals_in_force(policy: Policy, day: date) -> dict[str, Goal]:
    """Return the goals in force on `day` (base goals merged with earlier versions)."""
    goals = dict(policy.goals)
    for version in sorted(policy.versions, key=lambda v: v.valid_from):
        if version.valid_from <= day:
            goals.update(version.goals)
    return goals


def tolerance_of(goal: Goal, metric: MetricInfo) -> float:
    """The amber tolerance: as set, else 5 pp for ratios and 10% of the goal otherwise."""
    if goal.tolerance is not None:
        return goal.tolerance
    return 0.05 if metric.is_ratio else abs(goal.value) * 0.10


# --- The builder --------------------------------------------------------------------------------


@dataclass
class _Site:
    """Indexes and shared facts used while building pages (private, mutable while building)."""

    config: Config
    figures: Figures
    quality: QualityReport
    content: Content
    info: BuildInfo
    index: dict[tuple[str, str, str, str, str], Figure] = field(default_factory=dict)
    tz: ZoneInfo | None = None
    granularities: tuple[str, ...] = ()
    dim_slugs: dict[str, str] = field(default_factory=dict)
    seg_slugs: dict[str, dict[str, str]] = field(default_factory=dict)
    page_slugs: dict[str, str] = field(default_factory=dict)

    def figure(self, g: str, period: str, dim: str, seg: str, metric: str) -> Figure | None:
        return self.index.get((g, period, dim, seg, metric))

    def segment_path(self, dim: str, seg: str) -> str:
        if dim == "all":
            return "segments/all/all.html"
        return f"segments/{self.dim_slugs[dim]}/{self.seg_slugs[dim][seg]}.html"

    def chart_path(self, dim: str, seg: str) -> str:
        if dim == "all":
            return "charts/all/all.svg"
        return f"charts/{self.dim_slugs[dim]}/{self.seg_slugs[dim][seg]}.svg"

    def format_time(self, moment: datetime | None) -> str:
        if moment is None:
            return "no data"
        local = moment.astimezone(self.tz) if self.tz else moment
        return local.strftime("%Y-%m-%d %H:%M %Z").strip()


def build_site(
    config: Config,
    figures: Figures,
    quality: QualityReport,
    content: Content,
    info: BuildInfo,
) -> SiteModel:
    """Build every page context and chart spec of the site."""
    site = _Site(config, figures, quality, content, info)
    site.index = {(f.granularity, f.period, f.dimension, f.segment, f.metric): f
                  for f in figures.rows}
    try:
        site.tz = ZoneInfo(config.site.timezone)
    except (ZoneInfoNotFoundError, ValueError):  # the config loader reports a bad zone
        site.tz = ZoneInfo("UTC")
    site.granularities = tuple(g for g in config.site.periods if g in figures.periods)
    dims = list(dict.fromkeys(d for d, _ in figures.segments if d != "all"))
    site.dim_slugs = segment_slugs(dims)
    for dim in dims:
        site.seg_slugs[dim] = segment_slugs(s for d, s in figures.segments if d == dim)
    site.page_slugs = segment_slugs(p.stem for p in content.pages)

    pages: list[Page] = [_overview(site), _periods_index(site)]
    for g in site.granularities:
        periods = figures.periods[g]
        pages += [_period_page(site, g, periods, i) for i in range(len(periods))]
    pages.append(_segments_index(site))
    charts: list[ChartJob] = []
    for dim, seg in figures.segments:
        page, chart = _segment_page(site, dim, seg)
        pages.append(page)
        if chart is not None:
            charts.append(chart)
    pages.append(_definitions(site))
    pages.append(_data_quality(site))
    for content_page in content.pages:
        pages.append(_content_page(site, content_page))
    return SiteModel(tuple(pages), tuple(charts))


def _root(path: str) -> str:
    return "../" * path.count("/")


def _page_info(site: _Site, path: str, title: str, section: str) -> PageInfo:
    root = _root(path)
    items = [
        ("index.html", "Overview", "overview"),
        ("periods/index.html", "Periods", "periods"),
        ("segments/index.html", "Segments", "segments"),
        ("definitions.html", "Definitions", "definitions"),
        ("data-quality.html", "Data quality", "data-quality"),
    ]
    items += [(f"pages/{site.page_slugs[p.stem]}.html", p.title, "page:" + p.stem)
              for p in site.content.pages]
    nav = tuple(Link(root + href, label, key == section) for href, label, key in items)
    downloads = tuple(Link(root + href, label) for href, label in DOWNLOADS)
    through = site.figures.data_through or site.quality.data_through
    return PageInfo(
        path=path,
        title=title,
        site_title=site.config.site.title,
        root=root,
        nav=nav,
        downloads=downloads,
        stylesheet=root + STYLESHEET,
        version=site.info.version,
        built_at=site.info.built_at,
        data_through=site.format_time(through),
        data_through_iso=through.isoformat() if through else "",
        timezone=site.config.site.timezone,
    )


def _period_view(site: _Site, period: Period, root: str) -> PeriodView:
    note = ""
    if period.partial:
        note = f"partial — data through {site.format_time(site.figures.data_through)}"
    return PeriodView(
        granularity=period.granularity,
        label=period.label,
        dates=_dates(period),
        partial=period.partial,
        note=note,
        href=f"{root}periods/{period.granularity}/{period.label}.html",
    )


def _heading(period: Period) -> str:
    return f"{period.granularity.capitalize()} {period.label}"


def _sparkline(
    site: _Site, metric: MetricInfo, periods: tuple[Period, ...], upto: int, dim: str, seg: str
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


def _goal_text(site: _Site, metric: MetricInfo, fig: Figure | None, period: Period) -> str:
    if fig is None or fig.goal is None:
        return ""
    goal = goals_in_force(site.config.policy, period.start).get(metric.id)
    direction = goal.direction if goal else ("min" if metric.better == "higher" else "max")
    return f"goal {'≥' if direction == 'min' else '≤'} {format_value(fig.goal, metric.unit)}"


def _card(
    site: _Site, metric: MetricInfo, periods: tuple[Period, ...], i: int, dim: str, seg: str,
    root: str,
) -> Card:
    period = periods[i]
    fig = site.figure(period.granularity, period.label, dim, seg, metric.id)
    status = status_of(fig.status if fig else "insufficient")
    change, trend = ("", "")
    previous = ""
    year_ago = ""
    n = ""
    if fig is not None:
        change, trend = format_change(fig.change, fig.change_unit, metric.better)
        if fig.previous_value is not None and i > 0:
            previous = f"{format_value(fig.previous_value, metric.unit)} in {periods[i - 1].label}"
            if not change:
                change = ("no % change from a baseline of 0"
                          if fig.previous_value == 0 and not metric.is_ratio
                          else "change not computed (sample too small)")
        if fig.year_ago_value is not None:
            year_change, _ = format_change(fig.year_ago_change, fig.change_unit, metric.better)
            year_ago = f"{format_value(fig.year_ago_value, metric.unit)} a year ago"
            if year_change:
                year_ago += f" ({year_change})"
        if fig.n is not None and metric.n_label:
            n = f"n = {fig.n:,} {metric.n_label}"
        elif fig.n is not None:
            n = f"n = {fig.n:,}"
    return Card(
        metric=metric.id,
        label=metric.label,
        unit=metric.unit,
        value=format_value(fig.value if fig else None, metric.unit),
        status=status,
        goal=_goal_text(site, metric, fig, period),
        change=change,
        change_trend=trend,
        previous=previous,
        year_ago=year_ago,
        n=n,
        sparkline=_sparkline(site, metric, periods, i, dim, seg),
        definition_href=f"{root}definitions.html#metric-{metric.id}",
    )


def _scorecards(
    site: _Site, periods: tuple[Period, ...], i: int, root: str, dim: str = "all",
    seg: str = "all", heading: str = "",
) -> Scorecards:
    period = periods[i]
    cards = tuple(_card(site, m, periods, i, dim, seg, root) for m in site.figures.metrics)
    return Scorecards(heading or _heading(period), _period_view(site, period, root), cards)


def _metric_columns(site: _Site, root: str) -> tuple[Link, ...]:
    return tuple(Link(f"{root}definitions.html#metric-{m.id}", m.label)
                 for m in site.figures.metrics)


def _cell(site: _Site, fig: Figure | None, metric: MetricInfo) -> Cell:
    if fig is None:
        return Cell(NO_VALUE, status_of("insufficient"))
    return Cell(format_value(fig.value, metric.unit), status_of(fig.status))


def _segment_tables(site: _Site, period: Period, root: str) -> tuple[SegmentTable, ...]:
    tables = []
    for dim in site.dim_slugs:
        rows = []
        for d, seg in site.figures.segments:
            if d != dim:
                continue
            cells = tuple(
                _cell(site, site.figure(period.granularity, period.label, dim, seg, m.id), m)
                for m in site.figures.metrics
            )
            rows.append(SegmentRow(seg, root + site.segment_path(dim, seg), cells))
        caption = f"By {dim}, {period.granularity} {period.label}"
        if period.partial:
            caption += " (partial)"
        tables.append(SegmentTable(dim, caption, _metric_columns(site, root), tuple(rows)))
    return tuple(tables)


def _legend() -> tuple[Status, ...]:
    return tuple(status_of(code) for code in STATUS_TEXT)


def _overview(site: _Site) -> Page:
    path = "index.html"
    info = _page_info(site, path, "Overview", "overview")
    latest = partial = None
    tables: tuple[SegmentTable, ...] = ()
    headline = site.granularities[0] if site.granularities else ""
    if headline:
        periods = site.figures.periods[headline]
        complete = [i for i, p in enumerate(periods) if not p.partial]
        if complete:
            i = complete[-1]
            latest = _scorecards(site, periods, i, "",
                                 heading=f"Latest complete {headline}: {periods[i].label}")
            tables = _segment_tables(site, periods[i], "")
        if periods and periods[-1].partial:
            partial = _scorecards(site, periods, len(periods) - 1, "",
                                  heading=f"This {headline} so far: {periods[-1].label}")
    context = OverviewContext(info, headline, latest, partial, tables, _legend())
    return Page(path, "overview.html", context)


def _period_page(site: _Site, g: str, periods: tuple[Period, ...], i: int) -> Page:
    period = periods[i]
    path = f"periods/{g}/{period.label}.html"
    root = _root(path)
    info = _page_info(site, path, _heading(period), "periods")
    commentary = Markup("")
    commentary_title = "Commentary"
    note = site.content.commentary_for(period.label)
    if note is not None:
        commentary_title = note.title or commentary_title
        text = _expand_figures(site, note.markdown, note.source, g, period.label)
        commentary = Markup(render_markdown(text, root))

    def link(j: int, word: str) -> Link | None:
        if 0 <= j < len(periods):
            other = periods[j]
            return Link(f"{root}periods/{g}/{other.label}.html", f"{word}: {other.label}",
                        note="partial" if other.partial else "")
        return None

    context = PeriodContext(
        page=info,
        scorecards=_scorecards(site, periods, i, root),
        tables=_segment_tables(site, period, root),
        commentary=commentary,
        commentary_title=commentary_title,
        previous=link(i - 1, "Previous"),
        next=link(i + 1, "Next"),
        up=Link(f"{root}periods/index.html", "All periods"),
    )
    return Page(path, "period.html", context)


def _periods_index(site: _Site) -> Page:
    path = "periods/index.html"
    root = _root(path)
    groups = []
    for g in site.granularities:
        links = tuple(
            Link(f"{root}periods/{g}/{p.label}.html", p.label, note=_dates(p)
                 + (" · partial" if p.partial else ""))
            for p in reversed(site.figures.periods[g])
        )
        groups.append(PeriodGroup(g, GRANULARITY_ADJECTIVE.get(g, g).capitalize(), links))
    info = _page_info(site, path, "Periods", "periods")
    return Page(path, "periods_index.html", PeriodsIndexContext(info, tuple(groups)))


def _segment_title(dim: str, seg: str) -> str:
    return "All interactions" if dim == "all" else f"{dim.capitalize()}: {seg}"


def _segments_index(site: _Site) -> Page:
    path = "segments/index.html"
    root = _root(path)
    groups = []
    for dim in site.dim_slugs:
        links = tuple(Link(root + site.segment_path(dim, s), s)
                      for d, s in site.figures.segments if d == dim)
        groups.append(SegmentGroup(dim, f"By {dim}", links))
    info = _page_info(site, path, "Segments", "segments")
    context = SegmentsIndexContext(info, Link(root + site.segment_path("all", "all"),
                                              "All interactions"), tuple(groups))
    return Page(path, "segments_index.html", context)


def _markers(site: _Site, window: tuple[Period, ...], dim: str, seg: str) -> tuple[Marker, ...]:
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
        day = blackout.start.date()
        for i, p in enumerate(window):
            if p.start <= day < p.end:
                markers.append(Marker(i, "blackout", "blackout"))
                break
    return tuple(markers)


def _segment_page(site: _Site, dim: str, seg: str) -> tuple[Page, ChartJob | None]:
    path = site.segment_path(dim, seg)
    root = _root(path)
    title = _segment_title(dim, seg)
    info = _page_info(site, path, title, "segments")
    headline = site.granularities[0] if site.granularities else ""
    periods = site.figures.periods.get(headline, ()) if headline else ()
    window = periods[-max(1, site.config.site.history):] if periods else ()
    scorecards = None
    complete = [i for i, p in enumerate(periods) if not p.partial]
    if complete:
        scorecards = _scorecards(site, periods, complete[-1], root, dim, seg,
                                 heading=f"Latest complete {headline}: "
                                 f"{periods[complete[-1]].label}")

    rows = []
    for p in window:
        cells = tuple(_cell(site, site.figure(headline, p.label, dim, seg, m.id), m)
                      for m in site.figures.metrics)
        rows.append(TrendRow(Link(f"{root}periods/{headline}/{p.label}.html", p.label,
                                  note="partial" if p.partial else ""), cells))
    plural = GRANULARITY_PLURAL.get(headline, "periods")
    table = TrendTable(
        caption=f"{title}: {GRANULARITY_ADJECTIVE.get(headline, headline)} figures, "
                f"last {len(window)} {plural}",
        columns=_metric_columns(site, root),
        rows=tuple(rows),
    )

    chart_view = None
    job = None
    panels = []
    for m in site.figures.metrics:
        figs = [site.figure(headline, p.label, dim, seg, m.id) for p in window]
        values = tuple(f.value if f else None for f in figs)
        if all(v is None for v in values):
            continue
        goals = tuple(f.goal if f else None for f in figs)
        bands: list[tuple[float, float] | None] = []
        for p, g in zip(window, goals):
            conf = goals_in_force(site.config.policy, p.start).get(m.id)
            if g is None:
                bands.append(None)
                continue
            tol = tolerance_of(conf, m) if conf else (0.05 if m.is_ratio else abs(g) * 0.1)
            direction = conf.direction if conf else ("min" if m.better == "higher" else "max")
            bands.append((g - tol, g) if direction == "min" else (g, g + tol))
        panels.append(Panel(m.label, m.unit, values, goals, tuple(bands)))
    if panels:
        spec = ChartSpec(
            title=f"{title} — {GRANULARITY_ADJECTIVE.get(headline, headline)}",
            x_labels=tuple(p.label for p in window),
            partial=tuple(p.partial for p in window),
            panels=tuple(panels),
            markers=_markers(site, window, dim, seg),
        )
        chart_path = site.chart_path(dim, seg)
        job = ChartJob(chart_path, spec, path)
        names = ", ".join(p.title for p in panels)
        chart_view = ChartView(
            src=root + chart_path,
            alt=(f"Trend charts for {title} over the last {len(window)} {plural} ({names}); "
                 "the table below lists every value."),
            caption=(f"{title}: value per {headline} (solid line), goal (dashed line) and amber "
                     "band (within tolerance of the goal); a hollow point is a partial period."),
        )
    siblings = tuple(
        Link(root + site.segment_path(d, s), s, current=(s == seg))
        for d, s in site.figures.segments if d == dim and dim != "all"
    )
    context = SegmentContext(info, dim, seg, scorecards, chart_view, table, siblings)
    return Page(path, "segment.html", context), job


def _goal_views(site: _Site, metric: MetricInfo) -> tuple[GoalView, ...]:
    policy = site.config.policy
    entries: list[tuple[str, Goal]] = []
    if metric.id in policy.goals:
        entries.append(("", policy.goals[metric.id]))
    for version in sorted(policy.versions, key=lambda v: v.valid_from):
        if metric.id in version.goals:
            entries.append((version.valid_from.isoformat(), version.goals[metric.id]))
    views = []
    for valid_from, goal in entries:
        sign = "≥" if goal.direction == "min" else "≤"
        tol = tolerance_of(goal, metric)
        tol_text = f"{tol * 100:.1f} pp" if metric.is_ratio else format_value(tol, metric.unit)
        if goal.tolerance is None:
            rule = "5 pp for ratios" if metric.is_ratio else "10% of the goal"
            tol_text += f" (default: {rule})"
        views.append(GoalView(valid_from, f"{sign} {format_value(goal.value, metric.unit)}",
                              tol_text, str(goal.min_n)))
    return tuple(views)


_UNIT_WORDS = {"ratio": "ratio (shown as a percentage; changes in percentage points)",
               "minutes": "minutes (changes in %)", "hours": "hours (changes in %)",
               "count": "count (changes in %)", "score": "score (changes in %)"}


def _definitions(site: _Site) -> Page:
    path = "definitions.html"
    policy = site.config.policy
    metrics = []
    for m in site.figures.metrics:
        goals = _goal_views(site, m)
        if goals:
            better = "at or above" if goals[0].text.startswith("≥") else "at or below"
            rule = (f"On goal (✓) when the value is {better} the goal; near goal (!) when it "
                    "misses by no more than the tolerance; off goal (✗) otherwise; too few (?) "
                    "when n is below the minimum sample or there is no value. Comparisons use "
                    "the unrounded value.")
        else:
            rule = "No goal (–): the figure is reported without a status."
        metrics.append(MetricDefinition(
            id=m.id,
            anchor=f"metric-{m.id}",
            label=m.label,
            unit=_UNIT_WORDS.get(m.unit, m.unit),
            better={"higher": "Higher is better", "lower": "Lower is better"}.get(
                m.better, "Neither higher nor lower is better"),
            definition=m.definition,
            n=m.n_label or "no sample (n not used)",
            goals=goals,
            status_rule=rule,
        ))
    exclusions = [RuleRow(BUILTIN_EXCLUSION, "needs_reply is 'false'", "built-in")]
    exclusions += [RuleRow(r.name, _where_text(r.where), "policy") for r in policy.exclude
                   if r.name != BUILTIN_EXCLUSION]
    for version in policy.versions:
        if version.exclude is not None:
            exclusions += [RuleRow(r.name, _where_text(r.where),
                                   f"policy from {version.valid_from.isoformat()}")
                           for r in version.exclude]

    def target_rows(rules: Iterable[TargetRule]) -> tuple[TargetRow, ...]:
        return tuple(
            TargetRow(
                condition=(_where_text(rule.where) if rule.where.conditions
                           else "any other interaction"),
                within=rule.text,
                clock=rule.clock,
                calendar=rule.calendar or NO_VALUE,
            )
            for rule in rules
        )

    targets = [TargetSet("", target_rows(policy.first_response))]
    targets += [TargetSet(v.valid_from.isoformat(), target_rows(v.first_response))
                for v in policy.versions if v.first_response is not None]
    scale = policy.csat.scale
    csat = (f"Scores on a scale of {scale[0]:g} to {scale[1]:g}; satisfied: "
            + ", ".join(f"{s:g}" for s in policy.csat.satisfied) + ".")
    sentiment = (f"Numeric sentiment above {policy.sentiment.positive_above:g} is positive, "
                 f"below {policy.sentiment.negative_below:g} negative; labels positive, neutral "
                 "and negative are used as given.")
    through = site.figures.data_through or site.quality.data_through
    if site.config.site.data_through is not None or site.quality.data_through_explicit:
        rule = (f"Set explicitly in config (site.data_through): {site.format_time(through)}. "
                "Rows with a timestamp after it are rejected.")
    else:
        rule = ("For each source, the latest received_at, first_response_at or resolved_at of "
                "its kept rows; the site's data-through is the earliest of those (a lagging "
                f"source holds the site back). Currently {site.format_time(through)}. A period "
                "ending after it is partial.")
    blackouts = tuple(
        f"{b.start:%Y-%m-%d %H:%M} to {b.end:%Y-%m-%d %H:%M}: {b.reason}"
        + (f" ({_where_text(b.where)})" if b.where.conditions else "")
        for b in policy.blackouts
    )
    calendars = tuple(
        f"{c.name} ({c.timezone}): " + "; ".join(
            f"{day} " + ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in spans)
            for day, spans in c.hours.items()
        ) + (f"; closed on {', '.join(d.isoformat() for d in c.holidays)}" if c.holidays else "")
        for c in site.config.calendars.values()
    )
    context = DefinitionsContext(
        page=_page_info(site, path, "Definitions", "definitions"),
        metrics=tuple(metrics),
        exclusions=tuple(exclusions),
        targets=tuple(targets),
        csat=csat,
        sentiment=sentiment,
        timezone=site.config.site.timezone,
        periods=", ".join(site.config.site.periods) + f" (headline: {site.config.site.periods[0]})"
        if site.config.site.periods else "",
        data_through=rule,
        blackouts=blackouts,
        calendars=calendars,
        tolerance_rule=("Unless a goal sets its own tolerance, a missed goal is amber within 5 "
                        "percentage points for ratios and within 10% of the goal otherwise."),
    )
    return Page(path, "definitions.html", context)


def _data_quality(site: _Site) -> Page:
    path = "data-quality.html"
    q = site.quality
    drops = tuple(
        DropRow(d.source, d.file, d.read, d.kept, d.superseded, d.rejected,
                tuple(sorted(d.rejected_by_reason.items())),
                d.read == d.kept + d.superseded + d.rejected)
        for d in q.drops
    )
    reasons: dict[str, int] = {}
    for d in q.drops:
        for k, v in d.rejected_by_reason.items():
            reasons[k] = reasons.get(k, 0) + v
    totals = DropRow(
        "", "Total", sum(d.read for d in q.drops), sum(d.kept for d in q.drops),
        sum(d.superseded for d in q.drops), sum(d.rejected for d in q.drops),
        tuple(sorted(reasons.items())), all(d.balanced for d in drops),
    )
    totals = DropRow(totals.source, totals.file, totals.read, totals.kept, totals.superseded,
                     totals.rejected, totals.reasons,
                     totals.balanced and totals.read == totals.kept + totals.superseded
                     + totals.rejected)
    names = [BUILTIN_EXCLUSION] + [r.name for r in site.config.policy.exclude]
    for version in site.config.policy.versions:
        names += [r.name for r in version.exclude or ()]
    names += sorted(q.exclusions)
    exclusions = tuple((name, q.exclusions.get(name, 0)) for name in dict.fromkeys(names))
    rejections = tuple(
        RejectionRow(r.source, r.file, r.position, r.field or r.column, r.reason, r.message)
        for r in q.rejections[:MAX_REJECTIONS_SHOWN]
    )
    context = DataQualityContext(
        page=_page_info(site, path, "Data quality", "data-quality"),
        drops=drops,
        totals=totals,
        balanced=totals.balanced,
        exclusions=exclusions,
        data_through=site.format_time(q.data_through),
        data_through_explicit=q.data_through_explicit,
        sources=tuple((name, site.format_time(t)) for name, t in q.data_through_by_source.items()),
        rejections=rejections,
        rejections_total=len(q.rejections),
        rejected_csv=Link(REJECTED_CSV, "rejected.csv") if q.rejections else None,
    )
    return Page(path, "data_quality.html", context)


def _content_page(site: _Site, content_page: ContentPage) -> Page:
    stem = content_page.stem
    path = f"pages/{site.page_slugs[stem]}.html"
    text = _expand_figures(site, content_page.markdown, content_page.source, None, None)
    html = Markup(render_markdown(text, _root(path)))
    info = _page_info(site, path, content_page.title, "page:" + stem)
    return Page(path, "page.html", ContentContext(info, html))


# --- Live figures in content --------------------------------------------------------------------

_FIGURE_CALL = re.compile(r"\{\{\s*figure\((?P<args>[^)]*)\)\s*\}\}")
_ARG = re.compile(
    r"""\s*(?:(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?(?P<q>['"])(?P<val>.*?)(?P=q)\s*"""
)


def _expand_figures(
    site: _Site, text: str, source: str, granularity: str | None, period: str | None
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
        return format_value(fig.value, metric.unit)

    return _FIGURE_CALL.sub(replace, text)


def context_fields(context: object) -> Mapping[str, object]:
    """Return a context dataclass's fields as template variables (shallow)."""
    return {name: getattr(context, name) for name in context.__dataclass_fields__}  # type: ignore[attr-defined]
