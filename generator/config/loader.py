"""Load and validate config.yaml into frozen dataclasses (one per YAML section).

The loader collects every problem before failing and names ``file:line`` and the dotted key
path of each. Unknown keys are warnings (errors with ``strict``), with a did-you-mean hint; when
the file has errors, they are listed among them, as a misspelt key is often the cause.
"""

from __future__ import annotations

import difflib
import glob
import math
import os
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache, partial
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, available_timezones

import yaml

from generator.errors import ConfigError, Problem, quote
from generator.model import METRICS_BY_ID

if TYPE_CHECKING:
    from generator.config.expressions import CustomMetric

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
#: Canonical fields of the message-level shape (SPEC §3.3).
MESSAGE_FIELDS: tuple[str, ...] = (
    "message_id",
    "author",
    "inbound",
    "created_at",
    "in_reply_to",
    "text",
    "channel",
    "response_ids",
)
SHAPES: tuple[str, ...] = ("interactions", "messages")
FORMATS: tuple[str, ...] = ("auto", "csv", "jsonl", "json", "parquet", "xlsx")
CLOCKS: tuple[str, ...] = ("elapsed", "business")
#: The steps of sources[].normalize (generator.values applies them).
NORMALIZE_OPTIONS: tuple[str, ...] = ("trim", "casefold", "nfkc")
#: Values a dimension publishes as segments unless site.max_segments says otherwise.
MAX_SEGMENTS = 200


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
    interactions_csv: bool = False
    """Also write data/interactions.csv: every interaction with its computed durations."""
    max_segments: Mapping[str, int] = field(default_factory=dict)
    """Most values a dimension publishes as segments, by dimension name or 'default' (else
    MAX_SEGMENTS); the rest fold into '(other)'."""

    def segment_limit(self, dimension: str) -> int:
        """The most values `dimension` publishes (site.max_segments)."""
        return self.max_segments.get(dimension, self.max_segments.get("default", MAX_SEGMENTS))


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
    """Dimensions published as segments (channel always is one and is not listed here)."""
    channel: str | None = None
    """Channel value for every row when the export has no channel column."""
    delimiter: str | None = None
    """CSV delimiter; sniffed when None."""
    timestamp_format: str | None = None
    """strptime-style format for timestamps; ISO 8601 (with or without offset) when None."""
    normalize: tuple[str, ...] = ()
    """Steps folding the channel and dimension values: `trim`, `casefold`, `nfkc`."""
    max_future: str = "2d"
    """A timestamp more than this duration after the latest received_at of the other rows of
    its drop is implausible and its row rejected (as written, e.g. '2d')."""
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
    """Open weekday (mon..sun, in week order; closed days absent) -> open intervals sorted by
    start, start inclusive, end exclusive; an end of 00:00 means the day's end ('24:00')."""
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

    @property
    def whole_scores(self) -> bool:
        """True when the scale's bounds and satisfied scores are whole numbers: a score must be
        one too (4.5 is not on a 1-5 scale)."""
        return all(float(v).is_integer() for v in (*self.scale, *self.satisfied))


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
    custom_metrics: tuple[CustomMetric, ...] = ()
    """Custom metrics, parsed and compiled by carecard's expression language."""


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
    label = os.fspath(path)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            Problem(
                label,
                "file not found",
                hint="pass the path of a config.yaml with --config, or create a site with "
                "'carecard init DIR'.",
            )
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            Problem(label, "cannot read the file", "UTF-8 text", hint="save it as UTF-8.")
        ) from None
    except OSError as exc:
        if file.is_dir():
            example = os.fspath(file / "config.yaml")
            raise ConfigError(
                Problem(
                    label,
                    "cannot read the file (it is a folder)",
                    hint=f"--config takes the config file (e.g. '{example}'), not its folder.",
                )
            ) from None
        raise ConfigError(Problem(label, f"cannot read the file ({exc.strerror})")) from None
    try:
        loader = _Loader(label, file.resolve().parent, text, strict)
    except yaml.reader.ReaderError as exc:  # a control character the YAML reader refuses
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(Problem(
            f"{label}:{line}", "invalid YAML", "printable text",
            f"the character #x{exc.character:04x}",
            "remove the control character; a config.yaml holds text only.",
        )) from None
    try:
        return loader.load(file.resolve())
    except YamlTooDeep as exc:
        raise ConfigError(exc.problem(
            f"{label}:{exc.line + 1}", "", "check the indentation and the brackets; a config "
            "needs a few levels.",
        )) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(
            Problem(
                f"{label}:{line}",
                f"invalid YAML: {exc.problem or exc.context}",
                hint="check the indentation, and quote values that contain ': ' or start with "
                "a special character.",
            )
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(label, f"invalid YAML: {exc}")) from None
    finally:
        loader.yaml.dispose()


#: Years of plausible dates and times, in config.yaml and in exports (SPEC §3.4): others are
#: typing or export errors, and would stretch the period grid over centuries.
PLAUSIBLE_YEARS = (1970, 2100)
#: Deepest nesting of mappings and lists accepted in config.yaml and in front matter; a config
#: needs a few levels, and a file nested hundreds deep would exhaust the YAML composer's stack.
MAX_YAML_DEPTH = 50


class YamlTooDeep(yaml.YAMLError):
    """A YAML document nests mappings and lists deeper than :data:`MAX_YAML_DEPTH`."""

    def __init__(self, line: int) -> None:
        super().__init__(f"nested deeper than {MAX_YAML_DEPTH} levels at line {line}")
        self.line = line
        """0-based line of the mapping or list one level too deep."""

    def problem(self, where: str, what: str, hint: str) -> Problem:
        """The house-style message, `where` being the file:line of the offending level."""
        return Problem(where, what, f"at most {MAX_YAML_DEPTH} levels of nested mappings and "
                       "lists", f"{MAX_YAML_DEPTH + 1} levels", hint)


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents nested deeper than :data:`MAX_YAML_DEPTH`
    (its composer recurses once per level) with :class:`YamlTooDeep`."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose one node, counting how deep the collections above it go."""
        if self._depth >= MAX_YAML_DEPTH and self.check_event(
            yaml.MappingStartEvent, yaml.SequenceStartEvent
        ):
            raise YamlTooDeep(self.peek_event().start_mark.line)
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def parse_duration(text: str) -> float:
    """Return the minutes in a duration written like '90s', '15m', '4h', '2d' or '1.5h'."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)] / 60


# --- the loader -------------------------------------------------------------------------------

Parser = Callable[[yaml.Node, str], Any]
"""Turns a YAML node at a dotted key path into a value, or raises _Bad (or _Reported)."""

_INVALID: Any = object()
"""What _Loader.parse returns for a value it could not parse."""

_NULL_TAG = "tag:yaml.org,2002:null"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([smhd])")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_ROLLING = re.compile(r"(\d+)\s*d")
_DAY_MINUTES = 24 * 60
_RESERVED_RULES = ("no_reply_needed",)
"""Names of built-in exclusion rules, which a configured rule may not reuse."""
_RATIO_RANGES: dict[str, tuple[float, float]] = {
    **{m.id: (0.0, 1.0) for m in METRICS_BY_ID.values() if m.is_ratio},
    "net_sentiment": (-1.0, 1.0),
    "recovery_rate": (0.0, 1.0),
    "private_move_rate": (0.0, 1.0),
}
"""Valid goal range of each built-in ratio metric."""
_BETTER: dict[str, str] = {
    m.id: "min" if m.better == "higher" else "max"
    for m in METRICS_BY_ID.values() if m.better in ("higher", "lower")
}
"""The goal direction each built-in metric with a better direction needs."""
_PERCENT = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*%")
_BUILTIN_METRICS: frozenset[str] = frozenset(
    [*METRICS_BY_ID, "net_sentiment", "recovery_rate", "private_move_rate", "exposed_reach"]
)


class _Bad(Exception):
    """A value is not what its key expects; _Loader.parse reports it at the node's line."""

    def __init__(
        self,
        expected: str,
        hint: str = "",
        *,
        node: yaml.Node | None = None,
        what: str | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint
        self.node = node
        self.what = what
        self.found = found


class _Reported(Exception):
    """A parser gives up after reporting its problems itself."""


class _Loader:
    """One config file being validated: its YAML tree, its folder and the problems so far."""

    def __init__(self, label: str, root: Path, text: str, strict: bool) -> None:
        self.label = label
        self.root = root
        self.document = text
        self.strict = strict
        self.yaml = SafeLoader(text)
        self.problems: list[tuple[int, Problem]] = []
        self.warnings: list[tuple[int, Problem]] = []
        self.timezone = "UTC"
        self.attributes: set[str] = set(INTERACTION_FIELDS)
        self.calendar_names: set[str] = set()
        self.overlaps: set[tuple[str, str]] = set()
        self.metric_ids: set[str] = set(_BUILTIN_METRICS)

    def load(self, path: Path) -> Config:
        """Validate the whole file; raise ConfigError when anything is wrong."""
        root = self.yaml.get_single_node()
        if not isinstance(root, yaml.MappingNode):
            self.error(
                _line(root) if root else 1,
                "top level",
                "a mapping with the sections 'site', 'sources', 'calendars' and 'policy'",
                self.found(root) if root else "",
            )
            raise ConfigError([p for _, p in self.problems])
        values = self.fields(
            root,
            "",
            {
                "site": self.site,
                "sources": self.sources,
                "calendars": self.calendars,
                "policy": self.policy,
            },
            required={"sources": "a list of sources, each with a 'name' and a 'path'"},
        )
        site = values.get("site") or self.site(None, "site")
        self.check_segment_limits(self.child(root, "site"), values.get("sources", ()))
        if self.problems:
            # A misspelt key is often the cause of an error (`calender` leaves `calendar`
            # missing), so its did-you-mean is listed with the errors; first on a shared line.
            raise ConfigError(_by_line(self.warnings + self.problems))
        return Config(
            path=path,
            site=site,
            sources=values["sources"],
            calendars=values.get("calendars", {}),
            policy=values.get("policy", Policy()),
            warnings=tuple(str(w) for w in _by_line(self.warnings)),
        )

    # --- reporting -----------------------------------------------------------------------------

    def error(
        self, line: int, what: str, expected: str = "", found: str | None = None, hint: str = ""
    ) -> None:
        """Record a problem at a line of the file."""
        self.problems.append((line, Problem(f"{self.label}:{line}", what, expected, found, hint)))

    def unknown(self, node: yaml.Node, what: str, hint: str) -> None:
        """Record an unknown key: a warning, or an error in strict mode."""
        line = _line(node)
        problem = Problem(f"{self.label}:{line}", what, hint=hint)
        (self.problems if self.strict else self.warnings).append((line, problem))

    def found(self, node: yaml.Node) -> str:
        """Return a node as written (collections on one line) for a message."""
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        return " ".join(self.document[node.start_mark.index : node.end_mark.index].split())

    # --- structure -----------------------------------------------------------------------------

    def parse(self, node: yaml.Node, path: str, parser: Parser) -> Any:
        """Run a parser on a node; report what it rejects and return _INVALID then."""
        try:
            return parser(node, path)
        except _Bad as bad:
            at = bad.node or node
            found = self.found(at) if bad.found is None else bad.found
            self.error(_line(at), bad.what or path, bad.expected, found, bad.hint)
        except _Reported:
            pass
        return _INVALID

    def pairs(self, node: yaml.Node, path: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """Return a mapping's (key, key node, value node) triples; report duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            raise _Bad("a mapping of keys to values")
        try:
            self.yaml.flatten_mapping(node)
        except yaml.YAMLError as exc:
            raise _Bad("a mapping of keys to values", str(exc)) from None
        seen: dict[str, int] = {}
        triples: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(_line(key_node), path or "top level", "a key", self.found(key_node))
                continue
            key = str(key_node.value)
            if key in seen:
                self.error(
                    _line(key_node),
                    f"{_join(path, key)}: duplicate key",
                    hint=f"'{key}' is already set on line {seen[key]}; keep one.",
                )
                continue
            seen[key] = _line(key_node)
            triples.append((key, key_node, value))
        return triples

    def child(self, node: yaml.Node | None, key: str) -> yaml.Node | None:
        """Return the value node of a key of a mapping node, if any (for cross-key checks)."""
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                    return value  # type: ignore[no-any-return]
        return None

    def fields(
        self,
        node: yaml.Node | None,
        path: str,
        spec: Mapping[str, Parser],
        required: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Parse a section's keys, one parser per key in spec order; return the valid values.

        Unknown keys are reported with a did-you-mean hint; a null value counts as absent.
        """
        present: dict[str, yaml.Node] = {}
        nulls: dict[str, int] = {}
        for key, key_node, value in self.pairs(node, path) if node is not None else []:
            if key not in spec:
                hint = _did_you_mean(key, spec) or f"the known keys are {_quoted(spec)}."
                self.unknown(key_node, f"{_join(path, key)}: unknown key", hint)
            elif _is_null(value):
                nulls[key] = _line(key_node)
            else:
                present[key] = value
        values: dict[str, Any] = {}
        for key, parser in spec.items():
            if key in present:
                value = self.parse(present[key], _join(path, key), parser)
                if value is not _INVALID:
                    values[key] = value
            elif required and key in required:
                line = nulls.get(key) or (_line(node) if node is not None else 1)
                self.error(line, f"{_join(path, key)}: missing required key", required[key])
        return values

    def items(
        self, node: yaml.Node, path: str, parser: Parser, non_empty: bool = False
    ) -> list[tuple[int, yaml.Node, Any]]:
        """Parse each entry of a list; return (index, node, value) of the valid ones."""
        if not isinstance(node, yaml.SequenceNode):
            raise _Bad("a list")
        if non_empty and not node.value:
            raise _Bad("a list with at least one entry")
        parsed = [(i, n, self.parse(n, f"{path}[{i}]", parser)) for i, n in enumerate(node.value)]
        return [entry for entry in parsed if entry[2] is not _INVALID]

    def list_of(
        self,
        parser: Parser,
        *,
        non_empty: bool = False,
        unique: str = "",
        key: Callable[[Any], Hashable | None] = lambda value: value,
        suffix: str = "",
    ) -> Parser:
        """Return a parser of a list whose entries `parser` reads (`unique`: what a repeat is)."""

        def parse(node: yaml.Node, path: str) -> tuple[Any, ...]:
            seen: dict[Hashable, int] = {}
            values = []
            for i, child, value in self.items(node, path, parser, non_empty):
                name = key(value) if unique else None
                if unique and name is not None and name in seen:
                    self.error(
                        _line(child),
                        f"{path}[{i}]{suffix}",
                        unique,
                        str(name),
                        f"line {seen[name]} already has it.",
                    )
                    continue
                if name is not None:
                    seen[name] = _line(child)
                values.append(value)
            return tuple(values)

        return parse

    # --- scalars -------------------------------------------------------------------------------

    def raw(self, node: yaml.Node, expected: str) -> str:
        """Return a scalar as written, or raise _Bad(expected) for null and collections."""
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            raise _Bad(expected)
        return str(node.value)

    def value(self, node: yaml.Node, expected: str) -> Any:
        """Return a scalar as YAML types it (str, int, float, bool, date, datetime)."""
        self.raw(node, expected)
        try:
            return self.yaml.construct_object(node)
        except yaml.YAMLError:
            raise _Bad(expected) from None

    def text(self, node: yaml.Node, path: str) -> str:
        """Parse any non-empty scalar, as written."""
        text = self.raw(node, "a text")
        if not text.strip():
            raise _Bad("a non-empty text")
        return text

    def identifier(self, node: yaml.Node, path: str) -> str:
        """Parse a name usable in expressions: letters, digits and '_'."""
        name = self.raw(node, "a name of letters, digits and '_'")
        if not _IDENTIFIER.fullmatch(name):
            raise _Bad("a name of letters, digits and '_'")
        return name

    def choice(self, options: tuple[str, ...]) -> Parser:
        """Return a parser of one of `options`."""
        expected = f"one of {_quoted(options)}"

        def parse(node: yaml.Node, path: str) -> str:
            value = self.raw(node, expected)
            if value not in options:
                raise _Bad(expected, _did_you_mean(value, options))
            return value

        return parse

    def number_in(self, low: float | None = None, high: float | None = None) -> Parser:
        """Return a parser of a finite number within [low, high] (either bound optional)."""
        if low is not None and high is not None:
            expected = f"a number between {low:g} and {high:g}"
        elif low is not None:
            expected = f"a number ≥ {low:g}"
        else:
            expected = "a number"

        def parse(node: yaml.Node, path: str) -> int | float:
            value = self.value(node, expected)
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise _Bad(expected) from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _Bad(expected)
            if not math.isfinite(value):
                raise _Bad(expected)
            if (low is not None and value < low) or (high is not None and value > high):
                raise _Bad(expected)
            return value

        return parse

    def whole(self, minimum: int) -> Parser:
        """Return a parser of a whole number ≥ minimum."""
        expected = f"a whole number ≥ {minimum}"

        def parse(node: yaml.Node, path: str) -> int:
            value = self.value(node, expected)
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise _Bad(expected)
            return value

        return parse

    def boolean(self, node: yaml.Node, path: str) -> bool:
        """Parse true or false."""
        value = self.value(node, "true or false")
        if not isinstance(value, bool):
            raise _Bad("true or false")
        return value

    def timezone_name(self, node: yaml.Node, path: str) -> str:
        """Parse an IANA timezone name."""
        expected = "an IANA timezone name"
        name = self.raw(node, expected)
        if not _is_timezone(name):
            raise _Bad(expected, _timezone_hint(name))
        return name

    def datetime_value(
        self,
        node: yaml.Node,
        path: str,
        expected: str = "an ISO 8601 date and time like '2026-11-30T00:00:00+00:00'",
    ) -> datetime:
        """Parse an ISO 8601 date and time, with or without an offset."""
        value = self.value(node, expected)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise _Bad(expected) from None
        if not isinstance(value, datetime):
            raise _Bad(expected)
        _check_year(value)
        return value

    def local_datetime(self, node: yaml.Node, path: str) -> datetime:
        """Parse a naive date-time in the reporting timezone (a bare date means midnight)."""
        expected = "a local date and time like '2026-10-14T09:00'"
        day = _as_date(self.value(node, expected))
        if day is not None:
            _check_year(day)
            return datetime.combine(day, time())
        moment = self.datetime_value(node, path, expected)
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
        return moment

    def date_value(self, node: yaml.Node, path: str) -> date:
        """Parse an ISO date like 2026-11-01."""
        day = _as_date(self.value(node, "a date like 2026-11-01"))
        if day is None:
            raise _Bad("a date like 2026-11-01")
        _check_year(day)
        return day

    def duration(self, node: yaml.Node, path: str) -> tuple[float, str]:
        """Parse a duration like '90s', '15m', '4h' or '2d' into (minutes, text as written)."""
        expected = "a duration like '60m' or '4h'"
        text = self.raw(node, expected)
        try:
            minutes = parse_duration(text)
        except ValueError:
            unitless = re.fullmatch(r"\d+(\.\d+)?", text.strip())
            hint = f"add a unit (s, m, h or d), e.g. '{text.strip()}m'." if unitless else ""
            raise _Bad(expected, hint) from None
        if not math.isfinite(minutes):
            raise _Bad(expected)
        if minutes <= 0:
            raise _Bad("a duration longer than zero")
        return minutes, text

    def duration_text(self, node: yaml.Node, path: str) -> str:
        """Parse a duration like '2d' and keep it as written."""
        return self.duration(node, path)[1].strip()

    def value_text(self, node: yaml.Node, path: str) -> str:
        """Parse a canonical or matched value as text: booleans 'true'/'false', numbers str()."""
        value = self.value(node, "a value")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        return str(node.value)

    # --- site ----------------------------------------------------------------------------------

    def site(self, node: yaml.Node | None, path: str) -> SiteConfig:
        """Parse the `site` section (None: absent)."""
        values = self.fields(
            node,
            path,
            {
                "title": self.text,
                "timezone": self.timezone_name,
                "periods": self.list_of(
                    self.choice(GRANULARITIES), non_empty=True, unique="each granularity once"
                ),
                "history": self.whole(1),
                "data_through": self.datetime_value,
                "templates": self.templates,
                "on_bad_rows": self.choice(("report", "fail")),
                "interactions_csv": self.boolean,
                "max_segments": self.max_segments,
            },
        )
        self.timezone = values.get("timezone", self.timezone)
        moment = values.get("data_through")
        if moment is not None and moment.tzinfo is None:
            values["data_through"] = moment.replace(tzinfo=ZoneInfo(self.timezone))
        if "templates" not in values:
            values["templates"] = self.default_templates()
        return SiteConfig(**values)

    def max_segments(self, node: yaml.Node, path: str) -> dict[str, int]:
        """Parse `max_segments`: a number for every dimension, or a map of dimension names (and
        'default') to numbers. Whether the names are dimensions is checked with the sources."""
        expected = "a whole number ≥ 1, or a map like {default: 200, team: 500}"
        if isinstance(node, yaml.ScalarNode):
            try:
                return {"default": self.whole(1)(node, path)}
            except _Bad:
                raise _Bad(expected) from None
        if not isinstance(node, yaml.MappingNode):
            raise _Bad(expected)
        limits = {}
        for name, _key_node, value in self.pairs(node, path):
            limit = self.parse(value, f"{path}.{name}", self.whole(1))
            if limit is not _INVALID:
                limits[name] = limit
        return limits

    def check_segment_limits(self, site: yaml.Node | None, sources: Iterable[SourceConfig]) -> None:
        """Report names in site.max_segments that no source publishes as a dimension (like an
        unknown key: a warning, an error when strict)."""
        node = self.child(site, "max_segments")
        if not isinstance(node, yaml.MappingNode):
            return
        dimensions = ["default", "channel"]
        for source in sources:
            dimensions += [d for d in source.dimensions if d not in dimensions]
        for key_node, _value in node.value:
            name = getattr(key_node, "value", None)
            if isinstance(name, str) and name not in dimensions:
                hint = _did_you_mean(name, dimensions) or (
                    f"the keys are 'default' and the dimensions {_quoted(dimensions[1:])}.")
                self.unknown(key_node, f"site.max_segments.{name}: unknown dimension", hint)

    def templates(self, node: yaml.Node, path: str) -> Path | None:
        """Parse the templates folder; None when it is the default theme itself."""
        expected = "an existing folder"
        folder = (self.root / self.raw(node, expected)).resolve()
        if not folder.is_dir():
            raise _Bad(expected, f"paths are relative to the folder of config.yaml, '{self.root}'.")
        return None if _is_default_theme(folder) else folder

    def default_templates(self) -> Path | None:
        """Return `templates/` next to config.yaml when it exists and is not the default theme."""
        folder = (self.root / "templates").resolve()
        return folder if folder.is_dir() and not _is_default_theme(folder) else None

    # --- sources -------------------------------------------------------------------------------

    def sources(self, node: yaml.Node, path: str) -> tuple[SourceConfig, ...]:
        """Parse `sources` and learn the attributes they declare (for `where`)."""
        sources: tuple[SourceConfig, ...] = self.list_of(
            self.source,
            non_empty=True,
            unique="a unique source name",
            key=lambda source: source.name or None,
            suffix=".name",
        )(node, path)
        for source in sources:
            self.attributes.update(source.columns, source.dimensions)
            if source.shape == "messages":
                self.attributes.add("brand")
        return sources

    def source(self, node: yaml.Node, path: str) -> SourceConfig:
        """Parse one entry of `sources`."""
        values = self.fields(
            node,
            path,
            {
                "name": self.text,
                "path": self.glob,
                "shape": self.choice(SHAPES),
                "format": self.choice(FORMATS),
                "timezone": self.timezone_name,
                "columns": self.columns,
                "values": self.value_maps,
                "dimensions": self.list_of(self.dimension, unique="each dimension once"),
                "channel": self.text,
                "delimiter": self.delimiter,
                "timestamp_format": self.text,
                "normalize": self.list_of(self.choice(NORMALIZE_OPTIONS),
                                          unique="each step once"),
                "max_future": self.duration_text,
            },
            required={
                "name": "a unique source name",
                "path": "a glob of export files, relative to config.yaml",
            },
        )
        values["dimensions"] = tuple(d for d in values.get("dimensions", ()) if d != "channel")
        return SourceConfig(**{"name": "", "path": "", **values}, line=_line(node))

    def glob(self, node: yaml.Node, path: str) -> str:
        """Parse a glob relative to config.yaml that matches at least one file."""
        expected = "a glob matching at least one file"
        pattern = self.raw(node, expected)
        matches = glob.glob(pattern, root_dir=self.root, recursive=True)
        if not any((self.root / match).is_file() for match in matches):
            folder = Path(pattern).parent
            if not glob.has_magic(str(folder)) and not (self.root / folder).is_dir():
                hint = f"the folder '{folder}' does not exist in '{self.root}'."
            else:
                hint = f"paths are relative to the folder of config.yaml, '{self.root}'."
            raise _Bad(expected, hint)
        return pattern

    def columns(self, node: yaml.Node, path: str) -> dict[str, str]:
        """Parse `columns`: canonical field or dimension name -> column name in the export."""
        columns = {}
        canonical = (*INTERACTION_FIELDS, *MESSAGE_FIELDS)
        for name, key_node, value in self.pairs(node, path):
            if not _IDENTIFIER.fullmatch(name):
                self.error(
                    _line(key_node),
                    path,
                    "a field or dimension name of letters, digits and '_'",
                    name,
                    f"the canonical name comes first, e.g. 'id: {name}'.",
                )
                continue
            if name not in canonical and (near := _did_you_mean(name, canonical, cutoff=0.75)):
                self.unknown(key_node, f"{path}.{name}: unknown field", near)
            column = self.parse(value, f"{path}.{name}", self.text)
            if column is not _INVALID:
                columns[name] = column
        return columns

    def value_maps(self, node: yaml.Node, path: str) -> dict[str, dict[str, str]]:
        """Parse `values`: field -> {export value (as written): canonical value}."""
        maps = {}
        for name, key_node, value in self.pairs(node, path):
            if not _IDENTIFIER.fullmatch(name):
                self.error(
                    _line(key_node),
                    path,
                    "a field or dimension name of letters, digits and '_'",
                    name,
                )
                continue
            mapping = self.parse(value, f"{path}.{name}", self.value_map)
            if mapping is not _INVALID:
                maps[name] = mapping
        return maps

    def value_map(self, node: yaml.Node, path: str) -> dict[str, str]:
        """Parse one field's value mapping; keys stay as written ('Yes' is not a boolean)."""
        mapping = {}
        for key, _key_node, value in self.pairs(node, path):
            try:
                mapping[key] = self.value_text(value, path)
            except _Bad:
                self.error(
                    _line(value),
                    f"{path}.{key}",
                    "a canonical value",
                    self.found(value),
                    "write '' to map it to an empty value." if _is_null(value) else "",
                )
        return mapping

    def dimension(self, node: yaml.Node, path: str) -> str:
        """Parse a dimension name: not 'all', not a canonical field other than channel."""
        name = self.identifier(node, path)
        if name == "all":
            raise _Bad("a dimension name other than 'all'", "'all' stands for every segment.")
        if name in INTERACTION_FIELDS and name != "channel":
            raise _Bad(
                "a dimension name, not a canonical field",
                f"'{name}' is a canonical field; dimensions are other columns (team, category…).",
            )
        return name

    def delimiter(self, node: yaml.Node, path: str) -> str:
        """Parse a CSV delimiter: one character ('tab' or '\\t' for a tab)."""
        text = self.raw(node, "a single character")
        text = "\t" if text in ("tab", "\\t") else text
        if len(text) != 1:
            raise _Bad("a single character", "quote it, e.g. ';' or '|'.")
        return text

    # --- calendars -----------------------------------------------------------------------------

    def calendars(self, node: yaml.Node, path: str) -> dict[str, Calendar]:
        """Parse `calendars`: name -> calendar."""
        calendars = {}
        for name, _key_node, value in self.pairs(node, path):
            calendar = self.parse(value, f"{path}.{name}", partial(self.calendar, name))
            if calendar is not _INVALID:
                calendars[name] = calendar
        self.calendar_names.update(calendars)
        return calendars

    def calendar(self, name: str, node: yaml.Node, path: str) -> Calendar:
        """Parse one calendar; its timezone defaults to the reporting timezone."""
        values = self.fields(
            node,
            path,
            {
                "timezone": self.timezone_name,
                "hours": self.hours,
                "holidays": self.list_of(self.date_value, unique="each date once"),
            },
            required={"hours": "weekly opening hours like {mon-fri: ['09:00-17:00']}"},
        )
        return Calendar(
            name=name,
            timezone=values.get("timezone", self.timezone),
            hours=values.get("hours", {}),
            holidays=values.get("holidays", ()),
        )

    def hours(self, node: yaml.Node, path: str) -> dict[str, tuple[tuple[time, time], ...]]:
        """Parse weekly hours: keys 'mon', 'mon-fri' or 'sat,sun'; values lists of 'HH:MM-HH:MM'."""
        by_day: dict[str, list[tuple[int, int, str, int, str]]] = {day: [] for day in WEEKDAYS}
        reported = len(self.problems)
        for key, key_node, value in self.pairs(node, path):
            days = _weekdays(key)
            if days is None:
                self.error(
                    _line(key_node),
                    path,
                    "a weekday like 'mon' or a range like 'mon-fri'",
                    key,
                    f"the days are {_quoted(WEEKDAYS)}.",
                )
                continue
            if isinstance(value, yaml.ScalarNode):  # one interval need not be a list
                entries = [(f"{path}.{key}", value)]
            elif isinstance(value, yaml.SequenceNode):
                entries = [(f"{path}.{key}[{i}]", n) for i, n in enumerate(value.value)]
            else:
                self.error(
                    _line(value),
                    f"{path}.{key}",
                    "a list of intervals like '09:00-17:00'",
                    self.found(value),
                )
                continue
            for where, entry in entries:
                interval = self.parse(entry, where, self.interval)
                if interval is not _INVALID:
                    for day in days:
                        by_day[day].append((*interval, _line(entry), where))
        if not any(by_day.values()) and len(self.problems) == reported:
            raise _Bad("at least one open interval")
        return {day: self.day_intervals(day, spans) for day, spans in by_day.items() if spans}

    def day_intervals(
        self, day: str, intervals: list[tuple[int, int, str, int, str]]
    ) -> tuple[tuple[time, time], ...]:
        """Sort a day's intervals (minutes) into times; report overlaps."""
        intervals.sort()
        for previous, current in pairwise(intervals):
            clash = (previous[4], current[4])
            if current[0] < previous[1] and clash not in self.overlaps:  # once per range key
                self.overlaps.add(clash)
                self.error(
                    current[3],
                    current[4],
                    "intervals that do not overlap",
                    current[2],
                    f"it overlaps '{previous[2]}' on {day}.",
                )
        return tuple((_clock(start), _clock(end)) for start, end, *_ in intervals)

    def interval(self, node: yaml.Node, path: str) -> tuple[int, int, str]:
        """Parse 'HH:MM-HH:MM' into (start minute, end minute, text); an end of 24:00 is 1440."""
        expected = "an interval like '09:00-17:00'"
        text = self.raw(node, expected)
        match = _INTERVAL.fullmatch(text.strip())
        if not match:
            raise _Bad(expected)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise _Bad(expected)
        start, end = h1 * 60 + m1, h2 * 60 + m2
        end = end or _DAY_MINUTES  # '22:00-00:00' runs to midnight
        if end <= start:
            raise _Bad(
                "an interval that ends after it starts",
                "split an overnight interval at midnight: '22:00-24:00' and '00:00-06:00'.",
            )
        return start, end, text

    # --- policy --------------------------------------------------------------------------------

    def policy(self, node: yaml.Node, path: str) -> Policy:
        """Parse the `policy` section."""
        values = self.fields(
            node,
            path,
            {
                "custom_metrics": self.custom_metrics,  # first: goals may name them
                "exclude": self.exclude_rules,
                "blackouts": self.list_of(self.blackout),
                "first_response": self.target_rules,
                "csat": self.csat,
                "sentiment": self.sentiment,
                "goals": self.goals,
                "versions": self.versions,
                "error_budget": self.error_budget,
            },
        )
        budget: ErrorBudget | None = values.get("error_budget")
        with_goals = set(values.get("goals", {}))
        with_goals.update(m for version in values.get("versions", ()) for m in version.goals)
        if budget is not None and budget.metric not in with_goals:
            budget_node = self.child(node, "error_budget")
            at = self.child(budget_node, "metric") or budget_node
            self.error(
                _line(at) if at else _line(node),
                f"{path}.error_budget.metric",
                "a metric with a goal in policy.goals",
                budget.metric,
                f"add a goal such as '{budget.metric}: {{min: 0.9}}' under policy.goals.",
            )
        return Policy(**values)

    def where(self, node: yaml.Node, path: str) -> Where:
        """Parse a `where`: field or dimension -> one value or a list of values."""
        conditions = {}
        known = sorted(self.attributes)
        for name, key_node, value in self.pairs(node, path):
            if name not in self.attributes:
                self.error(
                    _line(key_node),
                    path,
                    "a canonical field or a dimension declared by a source",
                    name,
                    _did_you_mean(name, known) or f"declare '{name}' in a source's 'dimensions'.",
                )
                continue
            values = self.parse(value, f"{path}.{name}", self.where_values)
            if values is not _INVALID:
                conditions[name] = values
        return Where(conditions=conditions)

    def where_values(self, node: yaml.Node, path: str) -> tuple[str, ...]:
        """Parse one value or a non-empty list of values, as text."""
        if isinstance(node, yaml.SequenceNode):
            values = self.list_of(self.value_text, non_empty=True)(node, path)
            return tuple(dict.fromkeys(values))
        try:
            return (self.value_text(node, path),)
        except _Bad:
            raise _Bad("a value or a list of values") from None

    def exclude_rules(self, node: yaml.Node, path: str) -> tuple[ExcludeRule, ...]:
        """Parse a list of exclusion rules with unique names."""
        rules: tuple[ExcludeRule, ...] = self.list_of(
            self.exclude_rule,
            unique="a unique rule name",
            key=lambda rule: rule.name or None,
            suffix=".name",
        )(node, path)
        return rules

    def exclude_rule(self, node: yaml.Node, path: str) -> ExcludeRule:
        """Parse one exclusion rule: a name and a non-empty `where`."""
        values = self.fields(
            node,
            path,
            {"name": self.rule_name, "where": self.where},
            required={"name": "a rule name", "where": "the conditions the rule excludes"},
        )
        where_node = self.child(node, "where")
        if where_node is not None and _is_empty(where_node) and not _is_null(where_node):
            self.error(
                _line(where_node), f"{path}.where", "at least one condition", self.found(where_node)
            )
        return ExcludeRule(name=values.get("name", ""), where=values.get("where", Where()))

    def rule_name(self, node: yaml.Node, path: str) -> str:
        """Parse an exclusion rule name (not a built-in rule's)."""
        name = self.text(node, path)
        if name in _RESERVED_RULES:
            raise _Bad("a rule name", f"'{name}' is the built-in rule; choose another name.")
        return name

    def blackout(self, node: yaml.Node, path: str) -> Blackout:
        """Parse one blackout window."""
        values = self.fields(
            node,
            path,
            {
                "start": self.local_datetime,
                "end": self.local_datetime,
                "reason": self.text,
                "where": self.where,
            },
            required={
                "start": "a local date and time like 2026-10-14T09:00",
                "end": "a local date and time like 2026-10-14T13:00",
                "reason": "a reason shown on charts",
            },
        )
        if not {"start", "end", "reason"} <= values.keys():
            raise _Reported
        if values["end"] <= values["start"]:
            end_node = self.child(node, "end")
            assert end_node is not None
            raise _Bad(
                f"a time after start ({values['start'].isoformat()})",
                node=end_node,
                what=f"{path}.end",
            )
        return Blackout(**values)

    def target_rules(self, node: yaml.Node, path: str) -> tuple[TargetRule, ...]:
        """Parse first-response targets: only the last rule (the default) has no `where`."""
        entries = self.items(node, path, self.target_rule, non_empty=True)
        last = len(node.value) - 1
        for i, child, _rule in entries:
            where_node = self.child(child, "where")
            has_where = where_node is not None and not _is_empty(where_node)
            if i == last and has_where:
                self.error(
                    _line(where_node or child),
                    f"{path}[{i}].where",
                    "no 'where' on the last rule (the default)",
                    hint="end the list with a default rule such as '- {within: 60m}'.",
                )
            elif i < last and not has_where:
                self.error(
                    _line(child),
                    f"{path}[{i}].where",
                    "a 'where' on every rule but the last",
                    hint="a rule without 'where' matches everything, so later rules never apply.",
                )
        return tuple(rule for _, _, rule in entries)

    def target_rule(self, node: yaml.Node, path: str) -> TargetRule:
        """Parse one first-response target."""
        values = self.fields(
            node,
            path,
            {
                "where": self.where,
                "within": self.duration,
                "clock": self.choice(CLOCKS),
                "calendar": self.calendar_ref,
            },
            required={"within": "a duration like '60m' or '4h'"},
        )
        clock = values.get("clock", "elapsed")
        calendar_node = self.child(node, "calendar")
        if clock == "business" and calendar_node is None:
            self.error(
                _line(node),
                f"{path}.calendar: missing required key",
                "a calendar name for the business clock",
                hint="define opening hours under 'calendars' and name them here.",
            )
        if clock == "elapsed" and "calendar" in values and calendar_node is not None:
            self.error(
                _line(calendar_node),
                f"{path}.calendar",
                "no calendar on the elapsed clock",
                values["calendar"],
                "add 'clock: business' to measure in opening hours.",
            )
        minutes, text = values.pop("within", (60.0, "60m"))
        return TargetRule(within_minutes=minutes, text=text, **values)

    def calendar_ref(self, node: yaml.Node, path: str) -> str:
        """Parse the name of a calendar defined under `calendars`."""
        expected = "the name of a calendar in 'calendars'"
        name = self.raw(node, expected)
        if name not in self.calendar_names:
            hint = _did_you_mean(name, sorted(self.calendar_names))
            raise _Bad(expected, hint or f"define '{name}' under 'calendars'.")
        return name

    def csat(self, node: yaml.Node, path: str) -> CsatPolicy:
        """Parse `csat`: the scale and the satisfied scores within it."""
        values = self.fields(
            node,
            path,
            {
                "scale": self.scale,
                "satisfied": self.list_of(
                    self.number_in(), non_empty=True, unique="each score once"
                ),
            },
        )
        policy = CsatPolicy(**values)
        low, high = policy.scale
        satisfied_node = self.child(node, "satisfied")
        if satisfied_node is None:
            if not all(low <= score <= high for score in policy.satisfied):
                self.error(
                    _line(node),
                    f"{path}.satisfied: missing required key",
                    f"the satisfied scores on the scale {low:g} to {high:g}",
                )
        elif "satisfied" in values:
            for score in policy.satisfied:
                if not low <= score <= high:
                    self.error(
                        _line(satisfied_node),
                        f"{path}.satisfied",
                        f"scores within the scale {low:g} to {high:g}",
                        f"{score:g}",
                    )
        return policy

    def scale(self, node: yaml.Node, path: str) -> tuple[float, float]:
        """Parse [lowest, highest]."""
        expected = "two numbers [lowest, highest]"
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != 2:
            raise _Bad(expected)
        try:
            low, high = (self.number_in()(n, path) for n in node.value)
        except _Bad:
            raise _Bad(expected) from None
        if low >= high:
            raise _Bad("a lowest score below the highest")
        return low, high

    def sentiment(self, node: yaml.Node, path: str) -> SentimentPolicy:
        """Parse the sentiment thresholds (negative_below ≤ positive_above)."""
        threshold = self.number_in(-1, 1)
        values = self.fields(node, path, {"positive_above": threshold, "negative_below": threshold})
        policy = SentimentPolicy(**values)
        if policy.negative_below > policy.positive_above:
            at = self.child(node, "negative_below") or node
            raise _Bad(
                f"a number ≤ positive_above ({policy.positive_above:g})",
                node=at,
                what=f"{path}.negative_below",
                found=f"{policy.negative_below:g}",
            )
        return policy

    def goals(self, node: yaml.Node, path: str) -> dict[str, Goal]:
        """Parse `goals`: metric id -> {min|max, tolerance, min_n}."""
        goals = {}
        for metric, key_node, value in self.pairs(node, path):
            if metric not in self.metric_ids:
                self.error(
                    _line(key_node),
                    path,
                    "a metric id",
                    metric,
                    _did_you_mean(metric, sorted(self.metric_ids)),
                )
                continue
            goal = self.parse(value, f"{path}.{metric}", partial(self.goal, metric))
            if goal is not _INVALID:
                goals[metric] = goal
        return goals

    def goal(self, metric: str, node: yaml.Node, path: str) -> Goal:
        """Parse one goal: exactly one of min and max."""
        values = self.fields(
            node,
            path,
            {
                "min": partial(self.goal_value, metric),
                "max": partial(self.goal_value, metric),
                "tolerance": self.number_in(0),
                "min_n": self.whole(1),
            },
        )
        given = [d for d in ("min", "max") if self.child(node, d) is not None]
        if not given:
            self.error(
                _line(node),
                f"{path}: missing required key",
                "'min' (higher is better) or 'max' (lower is better)",
            )
            raise _Reported
        if len(given) > 1:
            raise _Bad("either 'min' or 'max', not both")
        direction = given[0]
        better = _BETTER.get(metric)
        if better is not None and direction != better:
            wanted = better
            word = "higher" if wanted == "min" else "lower"
            key_node, value_node = next(
                (k, v) for k, v in node.value if getattr(k, "value", None) == direction)
            raise _Bad(
                f"'{wanted}' ({word} is better for {metric})",
                f"write '{metric}: {{{wanted}: {self.found(value_node)}}}'; "
                f"'{direction}' would call the worse value on goal.",
                node=key_node,
                what=path,
                found=direction,
            )
        if direction not in values:
            raise _Reported
        goal = values[direction]
        low, high = _RATIO_RANGES.get(metric, (-math.inf, math.inf))
        if not low <= goal <= high:
            raise _Bad(
                f"a ratio between {low:g} and {high:g}",
                _percent_hint(goal) if goal > 1 else "",
                node=self.child(node, direction),
                what=f"{path}.{direction}",
            )
        return Goal(
            metric=metric,
            direction=direction,
            value=float(goal),
            tolerance=values.get("tolerance"),
            min_n=values.get("min_n", 1),
        )

    def goal_value(self, metric: str, node: yaml.Node, path: str) -> float:
        """Parse a goal's number; a percentage ('95%') of a ratio metric gets the hint that
        ratios are fractions."""
        try:
            return float(self.number_in()(node, path))
        except _Bad:
            percent = _PERCENT.fullmatch(self.raw(node, "a number").strip())
            if percent is None or metric not in _RATIO_RANGES:
                raise
            low, high = _RATIO_RANGES[metric]
            raise _Bad(f"a ratio between {low:g} and {high:g}",
                       _percent_hint(float(percent.group(1)))) from None

    def metric_ref(self, node: yaml.Node, path: str) -> str:
        """Parse a metric id (built-in or custom)."""
        metric = self.raw(node, "a metric id")
        if metric not in self.metric_ids:
            raise _Bad("a metric id", _did_you_mean(metric, sorted(self.metric_ids)))
        return metric

    def error_budget(self, node: yaml.Node, path: str) -> ErrorBudget:
        """Parse `error_budget`; `window: 28d` is short for a rolling window of 28 days."""
        values = self.fields(
            node,
            path,
            {"metric": self.metric_ref, "window": self.budget_window, "days": self.whole(1)},
        )
        window, window_days = values.pop("window", ("month", None))
        days = values.get("days")
        days_node = self.child(node, "days")
        if days is not None and window_days is not None and days != window_days:
            raise _Bad(f"{window_days} as in 'window'", node=days_node, what=f"{path}.days")
        if days is not None and window != "rolling":
            raise _Bad(
                "no 'days' for a calendar window",
                "set 'window: rolling' for a rolling window of that many days.",
                node=days_node,
                what=f"{path}.days",
            )
        values["days"] = window_days or days or ErrorBudget.days
        return ErrorBudget(window=window, **values)

    def budget_window(self, node: yaml.Node, path: str) -> tuple[str, int | None]:
        """Parse a budget window into (window, days written in it)."""
        expected = "'month', 'quarter', 'rolling' or a number of days like '28d'"
        text = self.raw(node, expected).strip()
        if text in ("month", "quarter", "rolling"):
            return text, None
        match = _ROLLING.fullmatch(text)
        if not match or int(match.group(1)) < 1:
            raise _Bad(expected, _did_you_mean(text, ("month", "quarter", "rolling")))
        return "rolling", int(match.group(1))

    def versions(self, node: yaml.Node, path: str) -> tuple[PolicyVersion, ...]:
        """Parse `versions`, ordered by valid_from (which must differ)."""
        versions = self.list_of(
            self.version,
            unique="a valid_from date no other version has",
            key=lambda version: version.valid_from,
            suffix=".valid_from",
        )(node, path)
        return tuple(sorted(versions, key=lambda version: version.valid_from))

    def version(self, node: yaml.Node, path: str) -> PolicyVersion:
        """Parse one policy version."""
        values = self.fields(
            node,
            path,
            {
                "valid_from": self.date_value,
                "goals": self.goals,
                "first_response": self.target_rules,
                "exclude": self.exclude_rules,
            },
            required={"valid_from": "the first day the version is in force, like 2026-11-01"},
        )
        if "valid_from" not in values:
            raise _Reported
        return PolicyVersion(**values)

    def custom_metrics(self, node: yaml.Node, path: str) -> tuple[CustomMetric, ...]:
        """Parse `custom_metrics` and compile their expressions (generator.config.expressions)."""
        from generator.config.expressions import DERIVED_NAMES, parse_custom_metrics

        metrics: tuple[dict[str, Any], ...] = self.list_of(
            self.custom_metric,
            unique="a unique metric id",
            key=lambda metric: metric["id"],
            suffix=".id",
        )(node, path)
        self.metric_ids.update(metric["id"] for metric in metrics)
        items = node.value if isinstance(node, yaml.SequenceNode) else []

        def where(index: int, key: str) -> str:
            line = _line(items[index]) if index < len(items) else _line(node)
            return f"{self.label}:{line}: {path}[{index}]" + (f".{key}" if key else "")

        try:
            return parse_custom_metrics(
                metrics, set(self.attributes) | set(DERIVED_NAMES), where
            )
        except ConfigError as error:
            for problem in error.problems:
                line = _line(node)
                if isinstance(problem, Problem):
                    head = problem.where.split(":")
                    line = int(head[1]) if len(head) > 1 and head[1].isdigit() else line
                self.problems.append((line, problem))  # type: ignore[arg-type]
            raise _Reported from None

    def custom_metric(self, node: yaml.Node, path: str) -> dict[str, Any]:
        """Parse one custom metric declaration: a mapping with a new `id`."""
        self.pairs(node, path)
        id_node = self.child(node, "id")
        if id_node is None or _is_null(id_node):
            self.error(
                _line(id_node or node),
                f"{path}.id: missing required key",
                "a metric id of letters, digits and '_'",
            )
            raise _Reported
        metric = self.parse(id_node, f"{path}.id", self.identifier)
        if metric is _INVALID:
            raise _Reported
        if metric in _BUILTIN_METRICS:
            raise _Bad(
                "an id that is not a built-in metric's",
                "choose another id.",
                node=id_node,
                what=f"{path}.id",
            )
        try:
            declaration = self.yaml.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise _Bad("a mapping of plain values") from None
        return {str(key): value for key, value in declaration.items()}


# --- helpers ----------------------------------------------------------------------------------


def _percent_hint(percent: float) -> str:
    """The hint for a ratio goal written as a percentage."""
    return f"write ratios as fractions: {percent / 100:g} for {percent:g}%."


def _check_year(value: date) -> None:
    """Refuse a date outside PLAUSIBLE_YEARS (as timestamps in exports are refused)."""
    low, high = PLAUSIBLE_YEARS
    if not low <= value.year <= high:
        raise _Bad(f"a date from {low} to {high}", "a date this far off is a typing error.")


def _line(node: yaml.Node) -> int:
    """Return the 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def _join(path: str, key: str) -> str:
    """Return the dotted path of a key below path."""
    return f"{path}.{key}" if path else key


def _is_null(node: yaml.Node) -> bool:
    """Tell whether a node is YAML null (`~`, `null` or nothing)."""
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _is_empty(node: yaml.Node) -> bool:
    """Tell whether a node is null or an empty mapping or list."""
    return _is_null(node) or (not isinstance(node, yaml.ScalarNode) and not node.value)


def _by_line(entries: list[tuple[int, Problem]]) -> list[Problem]:
    """Return the problems in file order (stable for one line)."""
    return [problem for _, problem in sorted(entries, key=lambda entry: entry[0])]


def _quoted(options: Iterable[str]) -> str:
    """Return options as 'a', 'b', 'c'."""
    return ", ".join(quote(option) for option in options)


def _did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """Return "did you mean 'x'?" for the closest option, or ''."""
    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f"did you mean '{matches[0]}'?" if matches else ""


def _is_timezone(name: str) -> bool:
    """Tell whether name is an IANA timezone known to zoneinfo."""
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


@lru_cache(maxsize=1)
def _timezones() -> tuple[str, ...]:
    """Return every IANA timezone name, sorted."""
    return tuple(sorted(available_timezones()))


def _timezone_hint(name: str) -> str:
    """Suggest the timezone a wrong name probably meant ('london' -> 'Europe/London')."""
    wanted = name.strip().replace(" ", "_").lower()
    for zone in _timezones():
        if zone.lower() == wanted or zone.lower().endswith("/" + wanted):
            return f"did you mean '{zone}'?"
    return _did_you_mean(name, _timezones(), cutoff=0.8) or "use a name like 'Europe/London'."


def _as_date(value: object) -> date | None:
    """Return a YAML date or an ISO date text as a date; None for anything else."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _weekdays(key: str) -> tuple[str, ...] | None:
    """Expand 'mon', 'mon-fri' (ranges may wrap: 'fri-mon') or 'sat,sun'; None if invalid."""
    days: list[str] = []
    for part in key.lower().split(","):
        ends = [end.strip() for end in part.split("-")]
        if len(ends) > 2 or not all(end in WEEKDAYS for end in ends):
            return None
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        days.extend(WEEKDAYS[(first + k) % 7] for k in range((last - first) % 7 + 1))
    return tuple(dict.fromkeys(days))


def _clock(minutes: int) -> time:
    """Return minutes since midnight as a time; 1440 (24:00) becomes 00:00, the day's end."""
    return time(minutes // 60 % 24, minutes % 60)


def _default_theme() -> Path:
    """Return the default theme folder, from a checkout or from an installed package."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "theme"
    return installed if installed.is_dir() else package.parent / "templates"


def _is_default_theme(folder: Path) -> bool:
    """Tell whether folder is the default theme itself (not a site's overrides)."""
    return folder.resolve() == _default_theme().resolve()
