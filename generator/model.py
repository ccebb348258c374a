"""The values handed from the engine stages to the site stages.

``metrics.compute_figures`` produces :class:`Figures`; ``sources.read_sources`` produces a
:class:`QualityReport`. Pages, charts and the machine-readable outputs are built from these alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is: id, label, unit and its written definition."""

    id: str
    """Stable id (a column value in figures.csv)."""
    label: str
    """Human label for cards and charts."""
    unit: str
    """`ratio`, `minutes`, `hours`, `count` or `score`."""
    better: str
    """`higher`, `lower` or `neutral`: which direction is an improvement."""
    definition: str
    """One-paragraph definition (population, start and stop events, aggregation)."""
    n_label: str = ""
    """What n counts (e.g. 'answered interactions'); empty when the metric has no n."""
    needs: tuple[str, ...] = ()
    """Canonical fields the metric needs; it is omitted when no source maps them."""

    @property
    def is_ratio(self) -> bool:
        """True for ratio metrics (changes in percentage points)."""
        return self.unit == "ratio"


#: The built-in metrics of SPEC §5, in display order.
METRICS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "volume", "Volume", "count", "neutral",
        "Interactions received in the period (by received_at), before any exclusion.",
    ),
    MetricInfo(
        "actionable", "Actionable", "count", "neutral",
        "Interactions received in the period that no exclusion rule removes (set A).",
    ),
    MetricInfo(
        "response_rate", "Response rate", "ratio", "higher",
        "Share of actionable interactions that have a first response.",
        "actionable interactions", ("first_response_at",),
    ),
    MetricInfo(
        "frt_median", "Median first response", "minutes", "lower",
        "Median of first_response_at − received_at over answered actionable interactions, "
        "on the clock of each interaction's target (linear interpolation, type 7).",
        "answered interactions", ("first_response_at",),
    ),
    MetricInfo(
        "frt_p90", "90th percentile first response", "minutes", "lower",
        "90th percentile (type 7) of first_response_at − received_at over answered actionable "
        "interactions, on the clock of each interaction's target.",
        "answered interactions", ("first_response_at",),
    ),
    MetricInfo(
        "frt_mean", "Mean first response", "minutes", "lower",
        "Mean of first_response_at − received_at over answered actionable interactions, on the "
        "clock of each interaction's target.",
        "answered interactions", ("first_response_at",),
    ),
    MetricInfo(
        "sla_attainment", "SLA attainment", "ratio", "higher",
        "Answered within target (inclusive) / (answered + unanswered whose target deadline is "
        "before data-through), over actionable interactions.",
        "answered or overdue interactions", ("first_response_at",),
    ),
    MetricInfo(
        "backlog", "Backlog", "count", "lower",
        "Actionable interactions received in the period with no response at data-through "
        "(a cohort figure: it shrinks when a later drop adds replies).",
        "", ("first_response_at",),
    ),
    MetricInfo(
        "resolution_rate", "Resolution rate", "ratio", "higher",
        "Share of actionable interactions that are resolved.",
        "actionable interactions", ("resolved_at",),
    ),
    MetricInfo(
        "resolution_median", "Median resolution time", "hours", "lower",
        "Median of resolved_at − received_at over resolved actionable interactions "
        "(elapsed clock, type 7).",
        "resolved interactions", ("resolved_at",),
    ),
    MetricInfo(
        "csat", "CSAT", "ratio", "higher",
        "Share of rated actionable interactions whose score is in the satisfied set.",
        "rated interactions", ("csat",),
    ),
    MetricInfo(
        "csat_mean", "Mean CSAT score", "score", "higher",
        "Mean survey score of rated actionable interactions.",
        "rated interactions", ("csat",),
    ),
    MetricInfo(
        "csat_response_rate", "Survey response rate", "ratio", "higher",
        "Resolved actionable interactions that are rated / resolved actionable interactions.",
        "resolved interactions", ("csat", "resolved_at"),
    ),
    MetricInfo(
        "net_sentiment", "Net sentiment", "ratio", "higher",
        "(positive − negative) / classified actionable interactions, on sentiment_start; "
        "numbers above policy.sentiment.positive_above are positive, below negative_below "
        "negative; labels positive/neutral/negative count as such.",
        "classified interactions", ("sentiment_start",),
    ),
    MetricInfo(
        "recovery_rate", "Recovery rate", "ratio", "higher",
        "Share of actionable interactions with a negative sentiment_start and a sentiment_end "
        "whose sentiment_end is not negative.",
        "negative-start interactions with an end sentiment", ("sentiment_start", "sentiment_end"),
    ),
    MetricInfo(
        "private_move_rate", "Moved to private", "ratio", "higher",
        "Share of public actionable interactions that the brand moved to a private channel.",
        "public interactions", ("public", "moved_private"),
    ),
    MetricInfo(
        "exposed_reach", "Exposed reach", "count", "lower",
        "Sum of reach (followers) of actionable interactions with a negative sentiment_start "
        "that got no response.",
        "", ("reach", "sentiment_start", "first_response_at"),
    ),
)

METRICS_BY_ID: dict[str, MetricInfo] = {m.id: m for m in METRICS}

STATUSES: tuple[str, ...] = ("green", "amber", "red", "insufficient", "none")


@dataclass(frozen=True)
class Figure:
    """One row of figures.csv (SPEC §7); None is an empty cell."""

    granularity: str
    period: str
    period_start: date
    period_end: date
    partial: bool
    dimension: str
    segment: str
    metric: str
    value: float | None
    n: int | None
    goal: float | None
    status: str
    previous_value: float | None
    change: float | None
    change_unit: str | None
    year_ago_value: float | None
    year_ago_change: float | None
    withheld: bool = False
    """A person's figure from fewer than site.privacy.people.min_n interactions: its value and
    n (and any comparison with it) are left out, and the pages say 'too few'. Not a column of
    figures.csv: there value and n are empty and the status insufficient (none without a
    goal)."""


@dataclass(frozen=True)
class Period:
    """One period of a granularity's grid."""

    granularity: str
    label: str
    start: date
    end: date
    """Exclusive end."""
    partial: bool


@dataclass(frozen=True)
class BudgetRow:
    """The error budget of sla_attainment for one segment over the current window (SPEC §4.6)."""

    dimension: str
    segment: str
    window: str
    """`2026-11` (month), `2026-Q4` (quarter) or `28 days to 2026-11-25` (rolling)."""
    start: datetime
    """Window start (timezone-aware)."""
    end: datetime
    """Window end, exclusive (timezone-aware; data-through for rolling windows)."""
    goal: float
    eligible: int
    """The sla_attainment denominator within the window."""
    breaches: int
    allowed: float
    """(1 − goal) × eligible."""
    remaining: float
    """allowed − breaches (negative when overspent)."""
    burn_rate: float | None
    """(breaches / eligible) / (1 − goal); None when goal is 1 or nothing is eligible."""

    @property
    def on_track(self) -> bool | None:
        """Burn rate ≤ 1; None when the burn rate is undefined."""
        return None if self.burn_rate is None else self.burn_rate <= 1 + 1e-9


@dataclass(frozen=True, slots=True)
class DrillRow:
    """One interaction behind a red or amber response card (SPEC §6.7)."""

    source: str
    id: str
    channel: str
    received_at: str
    """ISO time in the reporting timezone."""
    first_response_at: str
    """ISO time in the reporting timezone, or '' when unanswered."""
    minutes: float | None
    """First response on the target's clock, None when unanswered."""
    target_minutes: float
    clock: str
    state: str
    """`late` (answered after the target), `overdue` (unanswered past its deadline) or
    `waiting` (unanswered, not yet due at data-through)."""
    file: str
    line: int


@dataclass(frozen=True)
class DrillList:
    """The breaching or unanswered interactions of one period and segment."""

    granularity: str
    period: str
    dimension: str
    segment: str
    rows: tuple[DrillRow, ...]
    """Oldest first: the first MAX_DRILL_ROWS_SHOWN interactions (`csv` holds them all)."""
    counts: tuple[tuple[str, int], ...] = ()
    """(state, interactions) of the whole list; empty when `rows` is the whole list."""
    csv: bytes | None = None
    """The whole list as CSV bytes, or None (then it is written from `rows`)."""

    @property
    def total(self) -> int:
        """Interactions in the whole list."""
        return sum(n for _, n in self.counts) if self.counts else len(self.rows)


@dataclass(frozen=True)
class SegmentFold:
    """A dimension with more values than site.max_segments: the rest fold into '(other)'."""

    dimension: str
    limit: int
    """Values published on their own (site.max_segments of the dimension)."""
    values: int
    """Distinct values the data holds."""
    folded: int
    """Values folded into '(other)'."""
    interactions: int
    """Interactions of the folded values (all time)."""


@dataclass(frozen=True, slots=True)
class HourCell:
    """One cell of the hour-of-week view (SPEC §5.1): a row of data/hourly.csv."""

    dimension: str
    segment: str
    weekday: int
    """1 = Monday … 7 = Sunday, of received_at in the reporting timezone."""
    hour: int
    """0–23, of received_at in the reporting timezone."""
    metric: str
    """`volume`, `frt_median` or `sla_attainment`."""
    value: float | None
    n: int | None
    withheld: bool = False
    """A person's cell from too few interactions (site.privacy.people): no value."""


@dataclass(frozen=True, slots=True)
class BracketCount:
    """Actionable interactions of one period and segment in one first-response bracket: a row
    of data/brackets.csv (SPEC §5.1)."""

    granularity: str
    period: str
    period_start: date
    period_end: date
    partial: bool
    dimension: str
    segment: str
    bracket: str
    """`<=15m` (an edge), `later`, `unanswered_in_time` or `unanswered_overdue`."""
    upper_minutes: float | None
    """The bracket's upper edge (inclusive); None for the last three."""
    count: int


@dataclass(frozen=True)
class Figures:
    """Every figure of the site plus what is needed to navigate them."""

    rows: tuple[Figure, ...]
    """Sorted as figures.csv (SPEC §7)."""
    metrics: tuple[MetricInfo, ...]
    """The metrics present (inputs mapped), in display order."""
    periods: dict[str, tuple[Period, ...]]
    """Granularity -> its complete grid, oldest first."""
    segments: tuple[tuple[str, str], ...]
    """(dimension, segment) pairs, `('all', 'all')` first, in figures.csv order."""
    data_through: datetime | None
    """The site's data-through time (timezone-aware, UTC), None when there is no data."""
    budgets: tuple[BudgetRow, ...] = ()
    """Error budget per segment (all first), empty when the policy sets none."""
    drill: tuple[DrillList, ...] = ()
    """Late and unanswered interactions of every red or amber response figure of the
    headline granularity's last `history` periods (keys sorted like figures.csv)."""
    recomputed: tuple[tuple[str, str], ...] = ()
    """(granularity, period label) of every period whose figures this build computed from its
    rows; the others came from the build cache (their rows and the config were unchanged)."""
    folds: tuple[SegmentFold, ...] = ()
    """The dimensions whose values beyond site.max_segments fold into '(other)'."""
    hourly: tuple[HourCell, ...] = ()
    """The hour-of-week view over the last `history` headline periods: 168 cells × 3 metrics
    per segment, sorted like data/hourly.csv."""
    brackets: tuple[BracketCount, ...] = ()
    """First-response brackets per period and segment, sorted like data/brackets.csv."""


@dataclass(frozen=True)
class Rejection:
    """One rejected row."""

    source: str
    file: str
    """Path relative to config.yaml."""
    position: str
    """`line 12`, `row 3` or `item 4`."""
    field: str
    """The canonical field (or column) at fault."""
    column: str
    """The export column name."""
    reason: str
    """Reason code, e.g. `missing_required`, `unparseable_timestamp`."""
    message: str
    """The full one-line message (STYLE template)."""


@dataclass(frozen=True)
class DroppedField:
    """Invalid values of one optional field, for one reason, in one drop's valid rows: each row
    is kept with the field empty (SPEC §3.4)."""

    source: str
    file: str
    """Path relative to config.yaml."""
    field: str
    """The canonical field ('csat', 'reach', 'sentiment_start', …)."""
    column: str
    """The export column name."""
    reason: str
    """Reason code, e.g. `not_a_number`, `csat_outside_scale`."""
    count: int
    """Values dropped."""
    example: str
    """The message of the first one (STYLE template)."""


@dataclass(frozen=True)
class DropStats:
    """Row accounting for one drop: read = kept + superseded + rejected + before_since +
    retracted."""

    source: str
    file: str
    """Path relative to config.yaml."""
    sha256: str
    read: int
    kept: int
    superseded: int
    rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    before_since: int = 0
    """Valid rows received before the source's `since` (not on the grid, in no figure)."""
    retracted: int = 0
    """Rows with `deleted` true: the interaction is taken back from every figure."""

    @property
    def balanced(self) -> bool:
        """True when every row read is accounted for."""
        return self.read == (self.kept + self.superseded + self.rejected + self.before_since
                             + self.retracted)


@dataclass(frozen=True)
class Restatement:
    """A figure of a complete period that the newest drop changed (SPEC §6.6)."""

    granularity: str
    period: str
    dimension: str
    segment: str
    metric: str
    old_value: float | None
    """Computed from all drops except each source's newest."""
    new_value: float | None
    old_n: int | None
    new_n: int | None


@dataclass(frozen=True)
class ThreadStats:
    """Threading of one message-level source (SPEC §3.3)."""

    source: str
    messages: int
    """Messages kept after de-duplication across drops."""
    conversations: int
    orphans: int
    """Messages whose parent (or an ancestor's parent) is missing from the data."""
    brand_initiated: int
    """Threads started by a brand message with an empty in_reply_to."""
    orphan_ids: tuple[str, ...] = ()
    """Message ids of orphaned thread tops (their parent is missing), at most 500."""
    brand_initiated_ids: tuple[str, ...] = ()
    """Message ids of brand-initiated thread starts, at most 500."""
    response_ids_disagreeing: int = 0
    """Listed response ids that do not reply to the message listing them (a cross-check only:
    in_reply_to is authoritative)."""
    response_time_unknown: int = 0
    """Conversations whose first brand reply has no time: answered, time unknown (SPEC §3.3b)."""
    shape: str = "messages"
    """The source's shape: for `events`, messages are events, conversations cases and orphans
    the events of cases with no receipt event."""


@dataclass(frozen=True)
class LookalikeGroup:
    """Values of one dimension that probably mean the same (generator.values)."""

    dimension: str
    values: tuple[tuple[str, int], ...]
    """(value, interactions), most interactions first."""
    differences: tuple[str, ...]
    """What tells them apart: 'spaces or invisible characters', 'case', 'compatibility
    forms', 'look-alike characters'."""


@dataclass(frozen=True)
class BeyondPeriod:
    """Kept interactions of one source received after the site's data-through time, in one
    headline period: as of data-through they have not happened yet, so no figure counts them
    (SPEC §4.1)."""

    source: str
    period: str
    """Label of the headline period they were received in."""
    interactions: int


@dataclass(frozen=True)
class QualityReport:
    """What happened to every row read."""

    drops: tuple[DropStats, ...]
    rejections: tuple[Rejection, ...]
    """Every rejected row (sorted by source, drop order, position)."""
    exclusions: dict[str, int]
    """Exclusion rule name -> interactions excluded (all time)."""
    data_through: datetime | None
    """Site data-through (UTC)."""
    data_through_by_source: dict[str, datetime | None]
    data_through_explicit: bool
    threads: tuple[ThreadStats, ...] = ()
    """One entry per message-level source."""
    restatements: tuple[Restatement, ...] = ()
    """Figures of complete periods the newest drops changed, sorted like figures.csv."""
    newest_drops: tuple[str, ...] = ()
    """Files whose absence gives the 'old' values of restatements."""
    blackouts: dict[str, int] = field(default_factory=dict)
    """Blackout reason -> actionable interactions left out of sla_attainment (all time)."""
    mapped_fields: frozenset[str] = frozenset()
    """Canonical fields that at least one drop has a column for (metrics need them)."""
    lookalikes: tuple[LookalikeGroup, ...] = ()
    """Values of a published dimension that differ only by case, spaces, invisible or
    look-alike characters (probable duplicates), most interactions first."""
    fields_dropped: tuple[DroppedField, ...] = ()
    """Invalid optional fields of kept rows, per drop, field and reason (in drop order)."""
    beyond: tuple[BeyondPeriod, ...] = ()
    """Kept interactions received after data-through, by source and headline period (sorted):
    left out of every figure, the grid ends at the period holding data-through."""
    closed_sources: tuple[str, ...] = ()
    """Sources marked `closed`: their data-through does not hold the site back."""

    @property
    def values_dropped(self) -> int:
        """All optional field values dropped across drops."""
        return sum(d.count for d in self.fields_dropped)

    @property
    def rows_read(self) -> int:
        """All rows read across drops."""
        return sum(d.read for d in self.drops)

    @property
    def rows_rejected(self) -> int:
        """All rows rejected across drops."""
        return sum(d.rejected for d in self.drops)

    @property
    def rows_before_since(self) -> int:
        """All rows received before `since` across drops."""
        return sum(d.before_since for d in self.drops)

    @property
    def rows_retracted(self) -> int:
        """All retraction rows across drops."""
        return sum(d.retracted for d in self.drops)
    reason_labels: dict[str, str] = field(default_factory=dict)
    """Rejection reason code -> its label on the data-quality page ('missing required
    field'); a code without one is shown with spaces for underscores."""


@dataclass(frozen=True)
class BuildInfo:
    """Facts about the build shown in page footers and summary.json."""

    version: str
    """carecard version."""
    built_at: str
    """ISO timestamp from SOURCE_DATE_EPOCH, else the data-through time (never the clock)."""
    config_name: str
    """File name of the config (e.g. 'config.yaml')."""
    date_source: str = "data"
    """Where `built_at` comes from: 'SOURCE_DATE_EPOCH', 'data' (the data-through time) or
    'none' (no data: the epoch)."""
