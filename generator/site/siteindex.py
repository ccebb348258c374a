"""The indexes every page builder shares: figures by key, metrics by id, URLs of pages.

:class:`SiteIndex` is built once per site from the stage outputs (figures, quality report,
config, content) and answers the look-ups page builders need in O(1): a figure by its key, a
metric by id (built-in or custom), the drill-through list or error budget of a segment, and the
output path of every page, chart and download.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from generator.config.loader import Config
from generator.model import (
    METRICS_BY_ID,
    BracketCount,
    BudgetRow,
    BuildInfo,
    DrillList,
    Figure,
    Figures,
    HourCell,
    MetricInfo,
    Period,
    QualityReport,
    Restatement,
)
from generator.site.content import Content
from generator.site.contexts import Link, PageInfo, PeriodView
from generator.site.formatting import period_dates, segment_slugs

#: Machine-readable downloads written by the output stage (SPEC §7), linked from every page.
DOWNLOADS: tuple[tuple[str, str], ...] = (
    ("data/figures.csv", "figures.csv"),
    ("data/figures.json", "figures.json"),
    ("data/summary.json", "summary.json"),
    ("data/badge.svg", "badge.svg"),
    ("data/hourly.csv", "hourly.csv"),
    ("data/brackets.csv", "brackets.csv"),
    ("data/digest.md", "digest.md"),
)
STYLESHEET = "assets/carecard.css"
#: Made by the build: the print header of every sheet (an @page rule with the site's text).
PRINT_STYLESHEET = "assets/print-header.css"


@dataclass
class SiteIndex:
    """Indexes and shared facts used while building pages (mutable only while being built)."""

    config: Config
    figures: Figures
    quality: QualityReport
    content: Content
    info: BuildInfo
    index: dict[tuple[str, str, str, str, str], Figure] = field(default_factory=dict)
    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    drills: dict[tuple[str, str, str, str], DrillList] = field(default_factory=dict)
    budgets: dict[tuple[str, str], BudgetRow] = field(default_factory=dict)
    restated: dict[tuple[str, str], list[Restatement]] = field(default_factory=dict)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    granularities: tuple[str, ...] = ()
    dim_slugs: dict[str, str] = field(default_factory=dict)
    seg_slugs: dict[str, dict[str, str]] = field(default_factory=dict)
    """Dimension -> its segments (in figures.csv order) -> their slugs."""
    seg_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Dimension -> its segments in figures.csv order."""
    seg_positions: dict[str, dict[str, int]] = field(default_factory=dict)
    """Dimension -> segment -> its index in seg_lists."""
    page_slugs: dict[str, str] = field(default_factory=dict)
    hourly: dict[tuple[str, str], list[HourCell]] = field(default_factory=dict)
    """(dimension, segment) -> its hour-of-week cells."""
    brackets: dict[tuple[str, str, str, str], list[BracketCount]] = field(default_factory=dict)
    """(granularity, period, dimension, segment) -> its bracket counts, in bracket order."""
    shown: tuple[tuple[str, str], ...] = ()
    """(dimension, segment) of the segments the pages show (see `_shown_segments`)."""
    paged: set[tuple[str, str]] = field(default_factory=set)
    """(granularity, label) of the periods that have a page (see `_paged_periods`)."""

    @classmethod
    def create(
        cls, config: Config, figures: Figures, quality: QualityReport, content: Content,
        info: BuildInfo,
    ) -> SiteIndex:
        """Index the stage outputs for page building."""
        site = cls(config, figures, quality, content, info)
        site.index = {(f.granularity, f.period, f.dimension, f.segment, f.metric): f
                      for f in figures.rows}
        # Custom metrics arrive only in figures.metrics; built-ins are the fallback for ids
        # that rows mention but the metric list does not (e.g. restatements of a dropped one).
        site.metrics = {**METRICS_BY_ID, **{m.id: m for m in figures.metrics}}
        site.drills = {(d.granularity, d.period, d.dimension, d.segment): d
                       for d in figures.drill}
        site.budgets = {(b.dimension, b.segment): b for b in figures.budgets}
        for r in quality.restatements:
            site.restated.setdefault((r.granularity, r.period), []).append(r)
        try:
            site.tz = ZoneInfo(config.site.timezone)
        except (ZoneInfoNotFoundError, ValueError):  # the config loader reports a bad zone
            site.tz = ZoneInfo("UTC")
        site.granularities = tuple(g for g in config.site.periods if g in figures.periods)
        site.shown = site._shown_segments()
        dims = list(dict.fromkeys(d for d, _ in site.shown if d != "all"))
        site.dim_slugs = segment_slugs(dims)
        for dim in dims:
            site.seg_lists[dim] = tuple(s for d, s in site.shown if d == dim)
            site.seg_positions[dim] = {s: i for i, s in enumerate(site.seg_lists[dim])}
            site.seg_slugs[dim] = segment_slugs(site.seg_lists[dim])
        site.page_slugs = segment_slugs(p.stem for p in content.pages)
        for cell in figures.hourly:
            site.hourly.setdefault((cell.dimension, cell.segment), []).append(cell)
        for b in figures.brackets:
            site.brackets.setdefault((b.granularity, b.period, b.dimension, b.segment),
                                     []).append(b)
        site.paged = site._paged_periods()
        return site

    def _volume(self, g: str, label: str, dim: str, seg: str) -> float:
        fig = self.index.get((g, label, dim, seg, "volume"))
        if fig is not None and fig.withheld:
            return 1  # a person's volume from too few interactions: some, not none
        return fig.value if fig is not None and fig.value is not None else 0

    def _shown_segments(self) -> tuple[tuple[str, str], ...]:
        """The segments the pages show: 'all', and those with interactions in the shown
        history (the headline granularity's last `history` periods). figures.csv keeps the
        others; a value seen only in stray old rows gets no page, chart or table row."""
        periods = self.figures.periods.get(self.headline, ()) if self.headline else ()
        window = [p.label for p in periods[-max(1, self.config.site.history):]]
        return tuple((dim, seg) for dim, seg in self.figures.segments
                     if dim == "all"
                     or any(self._volume(self.headline, label, dim, seg) for label in window))

    def _paged_periods(self) -> set[tuple[str, str]]:
        """The periods that get a page: those with interactions, commentary or restated
        figures, the last `history` of each granularity (trend tables link to them) and the
        latest complete one. Empty periods of the grid between stray old rows get none, so the
        pages grow with the data rather than with the grid."""
        paged = set()
        history = max(1, self.config.site.history)
        for g in self.granularities:
            periods = self.figures.periods[g]
            complete = [p for p in periods if not p.partial]
            for i, p in enumerate(periods):
                if (i >= len(periods) - history or (complete and p is complete[-1])
                        or self._volume(g, p.label, "all", "all")
                        or (g, p.label) in self.restated
                        or self.content.commentary_for(p.label) is not None):
                    paged.add((g, p.label))
        return paged

    def has_period_page(self, period: Period) -> bool:
        """True when the period has an archive page."""
        return (period.granularity, period.label) in self.paged

    # --- Look-ups ---------------------------------------------------------------------------

    def figure(self, g: str, period: str, dim: str, seg: str, metric: str) -> Figure | None:
        """The figure with this key, or None."""
        return self.index.get((g, period, dim, seg, metric))

    def metric(self, metric_id: str) -> MetricInfo:
        """The metric (built-in or custom); an unknown id gets a plain stand-in."""
        found = self.metrics.get(metric_id)
        if found is None:
            return MetricInfo(metric_id, metric_id, "", "neutral", "")
        return found

    @property
    def people(self) -> str:
        """The dimension that names people (site.privacy.people), or ''."""
        return self.config.site.people_dimension

    @property
    def team_dims(self) -> tuple[str, ...]:
        """The dimensions of the team-wide views (segment tables, league, budgets): every
        published dimension but the people's, whose figures only the people page lists."""
        return tuple(d for d in self.dim_slugs if d != self.people)

    @property
    def headline(self) -> str:
        """The headline granularity ('' when there are no periods)."""
        return self.granularities[0] if self.granularities else ""

    def has_segment(self, dim: str, seg: str) -> bool:
        """True when the segment has pages."""
        return dim == "all" or seg in self.seg_slugs.get(dim, {})

    # --- Paths --------------------------------------------------------------------------------

    def _slug(self, dim: str, seg: str) -> str:
        if dim == "all":
            return "all/all"
        return f"{self.dim_slugs[dim]}/{self.seg_slugs[dim][seg]}"

    def segments_anchor(self, dim: str) -> str:
        """The id of a dimension's list on the segments index ('dimension-team')."""
        return f"dimension-{self.dim_slugs[dim]}"

    def segment_path(self, dim: str, seg: str) -> str:
        """Output path of a segment page."""
        return f"segments/{self._slug(dim, seg)}.html"

    def hours_path(self, dim: str, seg: str) -> str:
        """Output path of a segment's hour-of-week page."""
        return f"hours/{self._slug(dim, seg)}.html"

    def chart_path(self, dim: str, seg: str) -> str:
        """Output path of a segment's trend chart."""
        return f"charts/{self._slug(dim, seg)}.svg"

    def drill_path(self, g: str, period: str, dim: str, seg: str, ext: str = "html") -> str:
        """Output path of a drill-through page (or its CSV with ext='csv')."""
        return f"drill/{g}/{period}/{self._slug(dim, seg)}.{ext}"

    def period_path(self, period: Period) -> str:
        """Output path of a period's archive page."""
        return f"periods/{period.granularity}/{period.label}.html"

    # --- Shared views -------------------------------------------------------------------------

    def format_time(self, moment: datetime | None) -> str:
        """A time in the reporting timezone ('2026-11-18 12:00 GMT'), or 'no data'."""
        if moment is None:
            return "no data"
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z").strip()

    def segment_link(self, dim: str, seg: str, root: str) -> Link:
        """The segment's title linked to its page (to the segments index if it has none)."""
        href = self.segment_path(dim, seg) if self.has_segment(dim, seg) else "segments/index.html"
        return Link(root + href, segment_title(dim, seg))

    def page_info(self, path: str, title: str, section: str) -> PageInfo:
        """Common facts of the page at `path`."""
        root = root_of(path)
        items = [
            ("index.html", "Overview", "overview"),
            ("periods/index.html", "Periods", "periods"),
            ("segments/index.html", "Segments", "segments"),
            ("league.html", "League", "league"),
            *([("people.html", "People", "people")] if self.people else []),
            ("definitions.html", "Definitions", "definitions"),
            ("data-quality.html", "Data quality", "data-quality"),
        ]
        items += [(f"pages/{self.page_slugs[p.stem]}.html", p.title, "page:" + p.stem)
                  for p in self.content.pages]
        nav = tuple(Link(root + href, label, key == section) for href, label, key in items)
        downloads = tuple(Link(root + href, label) for href, label in DOWNLOADS)
        through = self.figures.data_through or self.quality.data_through
        built = ""
        if self.info.date_source == "SOURCE_DATE_EPOCH":
            built = self.format_time(datetime.fromisoformat(self.info.built_at))
        return PageInfo(
            path=path,
            title=title,
            site_title=self.config.site.title,
            root=root,
            nav=nav,
            downloads=downloads,
            stylesheet=root + STYLESHEET,
            version=self.info.version,
            built_at=built,
            data_through=self.format_time(through),
            data_through_iso=through.isoformat() if through else "",
            timezone=self.config.site.timezone,
            policy_version=self.policy_version(through),
            print_stylesheet=root + PRINT_STYLESHEET,
        )

    def print_header(self) -> str:
        """What tops every printed sheet: the site, the data-through time, the policy version."""
        through = self.figures.data_through or self.quality.data_through
        return (f"{self.config.site.title} · data through {self.format_time(through)} · "
                f"{self.policy_version(through)}")

    def policy_version(self, moment: datetime | None) -> str:
        """'policy from 2026-11-01': the newest policy version in force at `moment` (in the
        reporting timezone), or 'base policy'."""
        if moment is None:
            return "base policy"
        day = moment.astimezone(self.tz).date()
        started = [v.valid_from for v in self.config.policy.versions if v.valid_from <= day]
        return f"policy from {max(started).isoformat()}" if started else "base policy"

    def period_view(self, period: Period, root: str) -> PeriodView:
        """A period described for people, linked to its page."""
        note = ""
        if period.partial:
            note = f"partial — data through {self.format_time(self.figures.data_through)}"
        return PeriodView(
            granularity=period.granularity,
            label=period.label,
            dates=period_dates(period),
            partial=period.partial,
            note=note,
            href=root + self.period_path(period),
        )


def root_of(path: str) -> str:
    """Relative prefix from the page at `path` back to the site root ('', '../', …)."""
    return "../" * path.count("/")


def segment_title(dim: str, seg: str) -> str:
    """'All interactions' or 'Channel: email'."""
    return "All interactions" if dim == "all" else f"{dim.capitalize()}: {seg}"
