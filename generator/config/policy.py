"""Turn the policy into engine expressions: exclusions, first-response targets and goals.

Every interaction is judged by the policy version in force at its received_at (reporting
timezone); a period's goals are those in force at the period's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from generator.config.loader import Config, ExcludeRule, Goal, Policy, TargetRule, Where
from generator.config.sources_section import INTERACTION_FIELDS
from generator.sqltext import attribute_column, sql_ident, sql_str

#: The built-in exclusion rule (SPEC §4.2): items that need no answer.
NO_REPLY_NEEDED = "no_reply_needed"
NUMERIC_FIELDS = ("csat", "reach", "sentiment_start", "sentiment_end")
BOOLEAN_FIELDS = ("public", "moved_private", "needs_reply")


@dataclass(frozen=True)
class Version:
    """The whole policy in force from `valid_from` (None = from the beginning)."""

    valid_from: date | None
    exclude: tuple[ExcludeRule, ...]
    first_response: tuple[TargetRule, ...]
    goals: Mapping[str, Goal]


def policy_versions(policy: Policy) -> tuple[Version, ...]:
    """Resolve `policy.versions` into complete versions, oldest first.

    Maps (goals) merge key by key; lists (targets, exclusions) replace whole.
    """
    current = Version(None, policy.exclude, policy.first_response, dict(policy.goals))
    versions = [current]
    for change in sorted(policy.versions, key=lambda v: v.valid_from):
        current = replace(
            current,
            valid_from=change.valid_from,
            exclude=change.exclude if change.exclude is not None else current.exclude,
            first_response=(
                change.first_response if change.first_response is not None
                else current.first_response
            ),
            goals={**current.goals, **change.goals},
        )
        versions.append(current)
    return tuple(versions)


def where_sql(where: Where) -> str:
    """SQL condition that holds when every condition of `where` holds."""
    parts = []
    for name, values in sorted(where.conditions.items()):
        column = sql_ident(name if name in INTERACTION_FIELDS else attribute_column(name))
        if name in NUMERIC_FIELDS:
            numbers = ", ".join(str(float(v)) for v in values)
            parts.append(f"{column} IN ({numbers})")
        elif name in BOOLEAN_FIELDS:
            words = ", ".join(sql_str(v.lower()) for v in values)
            parts.append(f"lower(CAST({column} AS VARCHAR)) IN ({words})")
        else:
            parts.append(f"CAST({column} AS VARCHAR) IN ({', '.join(sql_str(v) for v in values)})")
    return "(" + " AND ".join(parts) + ")" if parts else "true"


def _by_version(versions: tuple[Version, ...], local_ts: str, expression) -> str:  # type: ignore[no-untyped-def]
    """CASE choosing `expression(version)` by the version in force at `local_ts`."""
    if len(versions) == 1:
        return expression(versions[0])
    cases = " ".join(
        f"WHEN {local_ts} >= TIMESTAMP {sql_str(v.valid_from.isoformat())} THEN {expression(v)}"
        for v in reversed(versions[1:])
        if v.valid_from is not None
    )
    return f"(CASE {cases} ELSE {expression(versions[0])} END)"


def exclusion_sql(versions: tuple[Version, ...], local_ts: str) -> str:
    """SQL giving the name of the first exclusion rule that matches, or NULL (actionable)."""

    def one(version: Version) -> str:
        cases = [f"WHEN needs_reply = false THEN {sql_str(NO_REPLY_NEEDED)}"]
        cases += [f"WHEN {where_sql(r.where)} THEN {sql_str(r.name)}" for r in version.exclude]
        return "(CASE " + " ".join(cases) + " END)"

    return _by_version(versions, local_ts, one)


def target_sql(versions: tuple[Version, ...], local_ts: str, attribute: str) -> str:
    """SQL giving `attribute` of the first matching target rule.

    `attribute` is `within_minutes`, `rule` (its index), `clock` or `calendar`.
    """

    def value(index: int, rule: TargetRule) -> str:
        if attribute == "within_minutes":
            return f"CAST({float(rule.within_minutes)!r} AS DOUBLE)"
        if attribute == "rule":
            return str(index)
        if attribute == "clock":
            return sql_str(rule.clock)
        return sql_str(rule.calendar) if rule.calendar else "CAST(NULL AS VARCHAR)"

    def one(version: Version) -> str:
        cases = [
            f"WHEN {where_sql(rule.where)} THEN {value(index, rule)}"
            for index, rule in enumerate(version.first_response)
        ]
        return "(CASE " + " ".join(cases) + " END)"

    return _by_version(versions, local_ts, one)


def uses_business_clock(policy: Policy) -> bool:
    """True when any version has a first-response target on the business clock."""
    return any(
        rule.clock == "business" for v in policy_versions(policy) for rule in v.first_response
    )


def blackout_sql(policy: Policy, local_ts: str) -> str:
    """SQL giving the reason of the first blackout window holding `local_ts`, or NULL."""
    if not policy.blackouts:
        return "CAST(NULL AS VARCHAR)"
    cases = " ".join(
        f"WHEN {local_ts} >= TIMESTAMP {sql_str(b.start.isoformat(sep=' '))} "
        f"AND {local_ts} < TIMESTAMP {sql_str(b.end.isoformat(sep=' '))} "
        f"AND {where_sql(b.where)} THEN {sql_str(b.reason)}"
        for b in policy.blackouts
    )
    return f"(CASE {cases} END)"


def goal_rows(config: Config) -> list[tuple[object, ...]]:
    """Rows (valid_from, metric, direction, goal, tolerance, min_n) of every version's goals."""
    rows: list[tuple[object, ...]] = []
    for version in policy_versions(config.policy):
        for metric, goal in version.goals.items():
            rows.append(
                (version.valid_from, metric, goal.direction, goal.value, goal.tolerance, goal.min_n)
            )
    return rows
