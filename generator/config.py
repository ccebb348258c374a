"""Load and validate config.yaml into frozen dataclasses (one per YAML section).

The loader collects every problem before failing and names ``file:line`` and the dotted key
path of each. Unknown keys are warnings (errors with ``strict``), with a did-you-mean hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

#: Canonical fields of the interaction-level shape (SPEC §3.2).
INTERACTION_FIELDS: tuple[str, ...] = (
    "id",
    "received_at",
    "channel",
    "first_response_at",
    "resolved_at",
    "csat",
    "sentiment_start",
    "sentiment_end",
    "public",
    "moved_private",
    "reach",
    "needs_reply",
)
REQUIRED_FIELDS: tuple[str, ...] = ("id", "received_at", "channel")
TIMESTAMP_FIELDS: tuple[str, ...] = ("received_at", "first_response_at", "resolved_at")
GRANULARITIES: tuple[str, ...] = ("day", "week", "month", "quarter")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SiteConfig:
    """The `site` section: presentation and reporting-time settings."""

    title: str = "Customer Care Scorecard"
    """Title shown on every page."""
    timezone: str = "UTC"
    """Reporting timezone (IANA name); periods are cut in it."""
    periods: tuple[str, ...] = ("week", "month")
    """Granularities to publish; the first is the headline."""
    history: int = 26
    """Number of periods shown on trend charts and sparklines."""
    data_through: datetime | None = None
    """Explicit data-through cut-off (timezone-aware); derived from the data when None."""
    templates: Path | None = None
    """Absolute path of the site's template overrides folder, or None for the default theme."""
    on_bad_rows: str = "report"
    """`report` (default) keeps building when rows are rejected; `fail` exits 2 like --strict."""


@dataclass(frozen=True)
class SourceConfig:
    """One entry of `sources`: a glob of export drops of one shape."""

    name: str
    """Unique source name; ids are keyed per source."""
    path: str
    """Glob relative to config.yaml."""
    shape: str = "interactions"
    """`interactions` or `messages`."""
    format: str = "auto"
    """auto (by extension) | csv | jsonl | json | parquet | xlsx."""
    timezone: str = "UTC"
    """Timezone of timestamps that carry no offset."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """Canonical field or dimension name -> column name in the export (identity when omitted)."""
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per canonical field or dimension: export value -> canonical value."""
    dimensions: tuple[str, ...] = ()
    """Dimensions published as segments (channel always is one)."""
    channel: str | None = None
    """Channel value for every row when the export has no channel column."""
    delimiter: str | None = None
    """CSV delimiter; sniffed when None."""
    timestamp_format: str | None = None
    """strptime-style format for timestamps; ISO 8601 (with or without offset) when None."""
    line: int = 0
    """Line of this entry in config.yaml (for messages)."""


@dataclass(frozen=True)
class Calendar:
    """A business-hours calendar (`calendars.NAME`)."""

    name: str
    """The calendar's key in `calendars`."""
    timezone: str
    """IANA timezone the opening hours are written in."""
    hours: Mapping[str, tuple[tuple[time, time], ...]]
    """Weekday (mon..sun) -> open intervals, start inclusive, end exclusive."""
    holidays: tuple[date, ...] = ()
    """Dates closed all day."""


@dataclass(frozen=True)
class Where:
    """A condition: every field/dimension named must equal one of its listed values."""

    conditions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field or dimension name -> accepted values (as text; booleans are 'true'/'false')."""


@dataclass(frozen=True)
class ExcludeRule:
    """An exclusion rule of `policy.exclude`."""

    name: str
    """Rule name, shown in the data-quality page and figures."""
    where: Where
    """Which interactions the rule excludes."""


@dataclass(frozen=True)
class Blackout:
    """A blackout window of `policy.blackouts` (times in the reporting timezone)."""

    start: datetime
    """Start, naive, in the reporting timezone."""
    end: datetime
    """End (exclusive), naive, in the reporting timezone."""
    reason: str
    """Why, shown on charts and pages."""
    where: Where = field(default_factory=Where)
    """Optional scope."""


@dataclass(frozen=True)
class TargetRule:
    """A first-response target of `policy.first_response`."""

    within_minutes: float
    """Target duration in minutes (on the rule's clock)."""
    where: Where = field(default_factory=Where)
    """Which interactions the rule applies to (empty = all: the default rule)."""
    clock: str = "elapsed"
    """`elapsed` or `business`."""
    calendar: str | None = None
    """Calendar name, required for the business clock."""
    text: str = "60m"
    """The duration as written in the config (for display)."""


@dataclass(frozen=True)
class Goal:
    """A goal of `policy.goals` for one metric."""

    metric: str
    """Metric id."""
    direction: str
    """`min` (higher is better) or `max` (lower is better)."""
    value: float
    """The goal value, in the metric's unit (ratios as fractions)."""
    tolerance: float | None = None
    """Amber tolerance; None = default (0.05 for ratios, 10% of the goal otherwise)."""
    min_n: int = 1
    """Minimum sample below which the status is `insufficient`."""


@dataclass(frozen=True)
class CsatPolicy:
    """`policy.csat`: the survey scale and the satisfied set."""

    scale: tuple[float, float] = (1, 5)
    """Lowest and highest valid score."""
    satisfied: tuple[float, ...] = (4, 5)
    """Scores counted as satisfied."""


@dataclass(frozen=True)
class SentimentPolicy:
    """`policy.sentiment`: thresholds for numeric sentiment."""

    positive_above: float = 0.05
    """Numbers above this are positive."""
    negative_below: float = -0.05
    """Numbers below this are negative."""


@dataclass(frozen=True)
class ErrorBudget:
    """`policy.error_budget`."""

    metric: str = "sla_attainment"
    """The metric whose goal defines the budget."""
    window: str = "month"
    """`month`, `quarter` or `rolling`."""
    days: int = 28
    """Length of a rolling window."""


@dataclass(frozen=True)
class PolicyVersion:
    """One entry of `policy.versions`: changes from `valid_from` on."""

    valid_from: date
    """First day (reporting timezone) the version is in force."""
    exclude: tuple[ExcludeRule, ...] | None = None
    """Replacement exclusion rules, or None to keep the previous ones."""
    first_response: tuple[TargetRule, ...] | None = None
    """Replacement targets, or None to keep the previous ones."""
    goals: Mapping[str, Goal] = field(default_factory=dict)
    """Goals merged metric by metric over the previous version's."""


@dataclass(frozen=True)
class Policy:
    """The `policy` section."""

    exclude: tuple[ExcludeRule, ...] = ()
    """Exclusion rules in order; the built-in `no_reply_needed` rule comes first."""
    blackouts: tuple[Blackout, ...] = ()
    """Blackout windows."""
    first_response: tuple[TargetRule, ...] = (TargetRule(within_minutes=60.0),)
    """First-response targets; first match wins, the last has no `where`."""
    csat: CsatPolicy = field(default_factory=CsatPolicy)
    """CSAT scale and satisfied set."""
    sentiment: SentimentPolicy = field(default_factory=SentimentPolicy)
    """Sentiment thresholds."""
    goals: Mapping[str, Goal] = field(default_factory=dict)
    """Metric id -> goal."""
    error_budget: ErrorBudget | None = None
    """Error budget settings, or None."""
    versions: tuple[PolicyVersion, ...] = ()
    """Later policy versions, ordered by valid_from."""
    custom_metrics: tuple[Mapping[str, object], ...] = ()
    """Custom metric declarations (validated by the policy issue; kept raw here)."""


@dataclass(frozen=True)
class Config:
    """A whole, validated config.yaml."""

    path: Path
    """Absolute path of config.yaml."""
    site: SiteConfig
    """The `site` section."""
    sources: tuple[SourceConfig, ...]
    """The `sources` section."""
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    """The `calendars` section."""
    policy: Policy = field(default_factory=Policy)
    """The `policy` section."""
    warnings: tuple[str, ...] = ()
    """Non-fatal problems (unknown keys…), already formatted."""

    @property
    def root(self) -> Path:
        """The folder of config.yaml; every relative path is relative to it."""
        return self.path.parent


def load_config(path: Path | str, strict: bool = False) -> Config:
    """Read, validate and return config.yaml; raise ConfigError listing every problem."""
    raise NotImplementedError
