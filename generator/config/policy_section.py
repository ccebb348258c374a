"""The `policy` section of config.yaml: exclusions, blackouts, targets, goals, versions and
custom metrics, as written (`generator.config.policy` turns them into engine expressions)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial

import yaml

from generator.config.expressions import (
    BETTER,
    DERIVED_NAMES,
    UNITS,
    Compiled,
    CustomMetric,
    aggregate_metric,
    compile_expression,
    ratio_metric,
)
from generator.config.parsing import (
    _INVALID,
    _STR_TAG,
    LoaderBase,
    Parser,
    _Bad,
    _is_empty,
    _is_null,
    _line,
    _Reported,
)
from generator.errors import did_you_mean as _did_you_mean
from generator.errors import quoted as _quoted
from generator.model import METRICS_BY_ID

CLOCKS: tuple[str, ...] = ("elapsed", "business")
_ROLLING = re.compile(r"(\d+)\s*d")
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
_METRIC_ID = re.compile(r"[a-z][a-z0-9_]*")
_METRIC_ID_EXPECTED = "a metric id of lowercase letters, digits and '_', starting with a letter"
_BUILTIN_METRICS: frozenset[str] = frozenset(
    [*METRICS_BY_ID, "net_sentiment", "recovery_rate", "private_move_rate", "exposed_reach"]
)


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
    key: str = field(default="", compare=False)
    """Where it is written: its dotted key path (`policy.goals.csat`) …"""
    line: int = field(default=0, compare=False)
    """… and line in config.yaml (0: not from a file)."""


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


class PolicyParser(LoaderBase):
    """The parsers of the `policy` section."""

    attributes: set[str]
    """Canonical fields and the dimensions the sources declare (what a `where` may name)."""
    calendar_names: set[str]
    """Names of the calendars defined (what a target's `calendar` may name)."""
    metric_ids: set[str]
    """Built-in and custom metric ids (what a goal may name)."""

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
                goals[metric] = replace(goal, key=f"{path}.{metric}", line=_line(key_node))
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

    # --- custom metrics (the expressions: generator.config.expressions) -----------------------

    def custom_metrics(self, node: yaml.Node, path: str) -> tuple[CustomMetric, ...]:
        """Parse `custom_metrics`; goals may name every id, even of a declaration with errors."""
        seen: dict[str, int] = {}
        metrics: tuple[CustomMetric, ...] = self.list_of(partial(self.custom_metric, seen))(
            node, path
        )
        self.metric_ids.update(seen)
        return metrics

    def custom_metric(self, seen: dict[str, int], node: yaml.Node, path: str) -> CustomMetric:
        """Parse one declaration: {id, label, ratio, better?} or {id, label, aggregate, unit,
        better?}, compiling its expressions."""
        if not isinstance(node, yaml.MappingNode):
            raise _Bad("a mapping with 'id', 'label' and 'ratio' or 'aggregate'")
        reported = len(self.problems)
        values = self.fields(
            node,
            path,
            {
                "id": partial(self.new_metric_id, seen),
                "label": self.metric_label,
                "ratio": self.ratio,
                "aggregate": self.expression(
                    "aggregate", "an aggregate such as 'median(frt_minutes)'"
                ),
                "unit": self.text,  # checked below: what it may be depends on the kind
                "better": self.choice(BETTER),
            },
            required={"id": _METRIC_ID_EXPECTED, "label": "a label to show on cards and charts"},
        )
        kinds = [k for k in ("ratio", "aggregate") if _given(self.child(node, k))]
        unit_node = self.child(node, "unit")
        if not kinds:
            self.error(
                _line(node),
                f"{path}: missing required key",
                "'ratio' or 'aggregate'",
                hint="declare a share as 'ratio: {numerator: \"…\"}' or a figure as "
                "'aggregate: \"median(frt_minutes)\"'.",
            )
        elif len(kinds) > 1:
            at = self.child(node, "aggregate") or node
            self.error(_line(at), f"{path}.aggregate", "either 'ratio' or 'aggregate', not both")
        elif kinds == ["ratio"] and values.get("unit", "ratio") != "ratio":
            self.error(
                _line(unit_node or node),
                f"{path}.unit",
                "'ratio' (or no unit) for a ratio metric",
                values["unit"],
                "declare the metric with 'aggregate' for another unit.",
            )
        elif kinds == ["aggregate"] and "unit" in values:
            values["unit"] = self.parse(unit_node or node, f"{path}.unit", self.choice(UNITS))
        elif kinds == ["aggregate"] and not _given(unit_node):
            self.error(
                _line(node), f"{path}.unit: missing required key", f"one of {_quoted(UNITS)}"
            )
        if len(self.problems) > reported:
            raise _Reported
        better = values.get("better", "higher")
        if kinds == ["ratio"]:
            numerator, denominator = values["ratio"]
            return ratio_metric(values["id"], values["label"], better, numerator, denominator)
        return aggregate_metric(
            values["id"], values["label"], values["unit"], better, values["aggregate"]
        )

    def new_metric_id(self, seen: dict[str, int], node: yaml.Node, path: str) -> str:
        """Parse a custom metric's id: well-formed, and no built-in or other metric's."""
        metric = self.raw(node, _METRIC_ID_EXPECTED)
        if not _METRIC_ID.fullmatch(metric):
            candidate = re.sub(r"[^a-z0-9_]+", "_", metric.strip().lower()).strip("_")
            hint = f"did you mean '{candidate}'?" if _METRIC_ID.fullmatch(candidate) else ""
            raise _Bad(_METRIC_ID_EXPECTED, hint)
        if metric in _BUILTIN_METRICS:
            raise _Bad("an id that is not a built-in metric's", "choose another id.")
        if metric in seen:
            raise _Bad("a unique metric id", f"line {seen[metric]} already has it.")
        seen[metric] = _line(node)
        return metric

    def metric_label(self, node: yaml.Node, path: str) -> str:
        """Parse a label shown on cards and charts."""
        try:
            return self.text(node, path).strip()
        except _Bad:
            raise _Bad("a label to show on cards and charts") from None

    def ratio(self, node: yaml.Node, path: str) -> tuple[Compiled, Compiled | None]:
        """Parse a ratio's conditions: {numerator, denominator?}."""
        if not isinstance(node, yaml.MappingNode):
            raise _Bad("a mapping with 'numerator' and optionally 'denominator'")
        reported = len(self.problems)
        condition = "a condition such as \"category == 'x'\""
        values = self.fields(
            node,
            path,
            {
                "numerator": self.expression("condition", condition),
                "denominator": self.expression("condition", "a condition"),
            },
            required={"numerator": condition},
        )
        if len(self.problems) > reported:
            raise _Reported
        return values["numerator"], values.get("denominator")

    def expression(self, mode: str, expected: str) -> Parser:
        """Return a parser of an expression (a `condition` or an `aggregate`), compiled."""

        def parse(node: yaml.Node, path: str) -> Compiled:
            if not isinstance(node, yaml.ScalarNode) or node.tag != _STR_TAG:
                raise _Bad(f"{expected} as text", "quote the whole expression.")
            names = self.attributes | set(DERIVED_NAMES)
            compiled, errors = compile_expression(node.value, names, mode)
            for error in errors:
                self.error(_line(node), path, error.expected, error.found, error.hint)
            if compiled is None:
                raise _Reported
            return compiled

        return parse


def _given(node: yaml.Node | None) -> bool:
    """Tell whether a key is given a value (not absent, not null)."""
    return node is not None and not _is_null(node)


def _percent_hint(percent: float) -> str:
    """The hint for a ratio goal written as a percentage."""
    return f"write ratios as fractions: {percent / 100:g} for {percent:g}%."
