"""The reference pages: definitions (generated from the policy) and data quality.

Both explain the figures rather than show them: the definitions page says how every figure is
computed (metrics, population, targets, calendars, policy versions, the error budget); the
data-quality page accounts for every row read and lists what the newest drop restated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import time

from generator.config.loader import ExcludeRule, Goal, TargetRule
from generator.config.policy import NO_REPLY_NEEDED, Version, policy_versions
from generator.model import LookalikeGroup, MetricInfo, Restatement
from generator.site.contexts import (
    BlackoutView,
    BudgetDefinition,
    CalendarView,
    DataQualityContext,
    DefinitionsContext,
    DroppedFieldRow,
    DropRow,
    FoldRow,
    GoalView,
    Link,
    LookalikeRow,
    LookalikeValue,
    MetricDefinition,
    Page,
    PolicyVersionView,
    ReasonCount,
    RejectionRow,
    RestatementRow,
    Restatements,
    RuleRow,
    TargetRow,
    TargetSet,
    ThreadRow,
)
from generator.site.formatting import (
    NO_VALUE,
    day_span,
    format_number,
    format_pair,
    format_value,
    slugify,
    tolerance_of,
    where_text,
)
from generator.site.siteindex import SiteIndex, segment_title
from generator.sqltext import OTHER_SEGMENT
from generator.values import foreign_letters, visible

#: Every rejected row, written by the output stage; linked from the data-quality page.
REJECTED_CSV = "data/rejected.csv"
#: Rejected rows listed on the data-quality page (the CSV has them all).
MAX_REJECTIONS_SHOWN = 500
#: Groups of probable duplicates listed on the data-quality page.
MAX_LOOKALIKES_SHOWN = 200
#: Restated figures listed on the data-quality page (the CSV has them all).
MAX_RESTATEMENTS_SHOWN = 500
RESTATEMENTS_CSV = "data/restatements.csv"
RESTATEMENT_COLUMNS = ("granularity", "period", "dimension", "segment", "metric", "old_value",
                       "new_value", "old_n", "new_n")
WEEKDAYS = (("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"),
            ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday"))
_UNIT_WORDS = {"ratio": "ratio (shown as a percentage; changes in percentage points)",
               "minutes": "minutes (changes in %)", "hours": "hours (changes in %)",
               "count": "count (changes in %)", "score": "score (changes in %)"}
_BETTER_WORDS = {"higher": "Higher is better", "lower": "Lower is better"}
NEUTRAL_WORDS = "Neither direction is better"


# --- Shared pieces ------------------------------------------------------------------------------


def goal_text(goal: Goal, metric: MetricInfo) -> str:
    """'≥ 90.0%' / '≤ 30.0 min'."""
    return f"{'≥' if goal.direction == 'min' else '≤'} {format_value(goal.value, metric.unit)}"


def blackout_views(site: SiteIndex) -> tuple[BlackoutView, ...]:
    """Every blackout window of the policy, in policy order."""
    return tuple(
        BlackoutView(b.reason, day_span(b.start, b.end),
                     where_text(b.where) if b.where.conditions else "all interactions")
        for b in site.config.policy.blackouts
    )


def restatement_views(
    site: SiteIndex, items: Sequence[Restatement], root: str, cap: int, more: Link | None,
    csv: Link | None = None,
) -> Restatements:
    """Restated figures as table rows (at most `cap`), with the basis of the 'old' values."""
    rows = []
    shown_metrics = {m.id for m in site.figures.metrics}
    for r in items[:cap]:
        metric = site.metric(r.metric)
        anchor = f"metric-{r.metric}" if r.metric in shown_metrics else "metrics"
        old, new = format_pair(r.old_value, r.new_value, metric.unit)
        rows.append(RestatementRow(
            period=Link(f"{root}periods/{r.granularity}/{r.period}.html", r.period),
            segment=segment_title(r.dimension, r.segment),
            metric=Link(f"{root}definitions.html#{anchor}", metric.label),
            old=old,
            new=new,
            old_n=NO_VALUE if r.old_n is None else f"{r.old_n:,}",
            new_n=NO_VALUE if r.new_n is None else f"{r.new_n:,}",
        ))
    drops = site.quality.newest_drops
    basis = ("Old = computed from all drops except: " + ", ".join(drops) + "." if drops else "")
    return Restatements(tuple(rows), len(items), basis, more if len(items) > cap else None, csv)


# --- Definitions ---------------------------------------------------------------------------------


def _goal_views(site: SiteIndex, metric: MetricInfo) -> tuple[GoalView, ...]:
    """The metric's goal as declared by the base policy and each version that sets it."""
    policy = site.config.policy
    entries: list[tuple[str, Goal]] = []
    if metric.id in policy.goals:
        entries.append(("", policy.goals[metric.id]))
    for version in sorted(policy.versions, key=lambda v: v.valid_from):
        if metric.id in version.goals:
            entries.append((version.valid_from.isoformat(), version.goals[metric.id]))
    views = []
    for valid_from, goal in entries:
        tol = tolerance_of(goal, metric)
        tol_text = f"{tol * 100:.1f} pp" if metric.is_ratio else format_value(tol, metric.unit)
        if goal.tolerance is None:
            rule = "5 pp for ratios" if metric.is_ratio else "10% of the goal"
            tol_text += f" (default: {rule})"
        views.append(GoalView(valid_from, goal_text(goal, metric), tol_text, str(goal.min_n)))
    return tuple(views)


def _metric_definition(site: SiteIndex, m: MetricInfo) -> MetricDefinition:
    goals = _goal_views(site, m)
    if goals:
        side = "at or above" if goals[0].text.startswith("≥") else "at or below"
        rule = (f"On goal (✓) when the value is {side} the goal; near goal (!) when it "
                "misses by no more than the tolerance; off goal (✗) otherwise; too few (?) "
                "when n is below the minimum sample or there is no value. Comparisons use "
                "the unrounded value.")
    else:
        rule = "No goal (–): the figure is reported without a status."
    better = _BETTER_WORDS.get(m.better, NEUTRAL_WORDS)
    if m.better not in _BETTER_WORDS:
        better += "; changes are shown as up or down."
    return MetricDefinition(
        id=m.id,
        anchor=f"metric-{m.id}",
        label=m.label,
        unit=_UNIT_WORDS.get(m.unit, m.unit),
        better=better,
        definition=m.definition,
        n=m.n_label or "no sample (n not used)",
        goals=goals,
        status_rule=rule,
    )


def _rule_rows(rules: Iterable[ExcludeRule], source: str) -> list[RuleRow]:
    return [RuleRow(r.name, where_text(r.where), source) for r in rules
            if r.name != NO_REPLY_NEEDED]


def _target_rows(rules: Iterable[TargetRule]) -> tuple[TargetRow, ...]:
    return tuple(
        TargetRow(
            condition=where_text(rule.where) if rule.where.conditions else "any other interaction",
            within=rule.text,
            clock=rule.clock,
            calendar=rule.calendar or NO_VALUE,
        )
        for rule in rules
    )


def _target_summary(rule: TargetRule) -> str:
    when = where_text(rule.where) if rule.where.conditions else "any other interaction"
    clock = f"{rule.clock} clock" + (f", calendar '{rule.calendar}'" if rule.calendar else "")
    return f"{when}: {rule.text} ({clock})"


def _goal_detail(goal: Goal, metric: MetricInfo) -> str:
    text = goal_text(goal, metric)
    if goal.tolerance is not None:
        tol = goal.tolerance * 100 if metric.is_ratio else goal.tolerance
        text += f", tolerance {tol:g}{' pp' if metric.is_ratio else ''}"
    if goal.min_n != 1:
        text += f", minimum sample {goal.min_n}"
    return text


def _version_changes(site: SiteIndex, before: Version | None, version: Version) -> list[str]:
    """What `version` changed against `before` (the base policy: what it holds)."""
    if before is None:
        goals = [f"{site.metric(k).label} {_goal_detail(g, site.metric(k))}"
                 for k, g in version.goals.items()]
        return [
            "goals: " + ("; ".join(goals) if goals else "none"),
            "exclusion rules: " + (", ".join(r.name for r in version.exclude) or "none")
            + f" (and the built-in {NO_REPLY_NEEDED})",
            "first-response targets: " + "; ".join(_target_summary(r)
                                                   for r in version.first_response),
        ]
    changes = []
    for metric_id, goal in version.goals.items():
        old = before.goals.get(metric_id)
        if old == goal:
            continue
        metric = site.metric(metric_id)
        was = f" (was {_goal_detail(old, metric)})" if old else " (new goal)"
        changes.append(f"goal of {metric.label}: {_goal_detail(goal, metric)}{was}")
    if version.exclude != before.exclude:
        changes.append("exclusion rules replaced: "
                       + (", ".join(f"{r.name} ({where_text(r.where)})" for r in version.exclude)
                          or "none") + f" (and the built-in {NO_REPLY_NEEDED})")
    if version.first_response != before.first_response:
        changes.append("first-response targets replaced: "
                       + "; ".join(_target_summary(r) for r in version.first_response))
    return changes or ["no change"]


def _version_views(site: SiteIndex) -> tuple[PolicyVersionView, ...]:
    views = []
    before: Version | None = None
    for version in policy_versions(site.config.policy):
        when = (f"from {version.valid_from.isoformat()}" if version.valid_from
                else "from the beginning")
        views.append(PolicyVersionView(when, tuple(_version_changes(site, before, version))))
        before = version
    return tuple(views)


def _open_minutes(start: time, end: time) -> int:
    end_minutes = 24 * 60 if end == time(0) else end.hour * 60 + end.minute
    return end_minutes - (start.hour * 60 + start.minute)


def _calendar_views(site: SiteIndex) -> tuple[CalendarView, ...]:
    used: dict[str, list[str]] = {}
    before: tuple[TargetRule, ...] | None = None
    for version in policy_versions(site.config.policy):
        if version.first_response == before:
            continue  # this version keeps the targets of the one before
        before = version.first_response
        since = f" (from {version.valid_from.isoformat()})" if version.valid_from else ""
        for rule in version.first_response:
            if rule.clock == "business" and rule.calendar:
                entry = (where_text(rule.where) if rule.where.conditions
                         else "any other interaction") + f": {rule.text}{since}"
                used.setdefault(rule.calendar, [])
                if entry not in used[rule.calendar]:
                    used[rule.calendar].append(entry)
    calendars = sorted(site.config.calendars.values(), key=lambda c: c.name not in used)
    views = []
    for c in calendars:
        days = []
        week = 0
        for key, name in WEEKDAYS:
            spans = c.hours.get(key, ())
            minutes = sum(_open_minutes(a, b) for a, b in spans)
            week += minutes
            text = ", ".join(f"{a:%H:%M}–{'24:00' if b == time(0) else f'{b:%H:%M}'}"
                             for a, b in spans) or "closed"
            days.append((name, text, f"{minutes / 60:.1f} h"))
        views.append(CalendarView(
            name=c.name, anchor=f"calendar-{slugify(c.name) or 'x'}", timezone=c.timezone,
            days=tuple(days), weekly_hours=f"{week / 60:.1f} h",
            holidays=tuple(d.isoformat() for d in c.holidays),
            used_by=tuple(used.get(c.name, ())),
        ))
    return tuple(views)


def _budget_definition(site: SiteIndex) -> BudgetDefinition | None:
    budget = site.config.policy.error_budget
    if budget is None:
        return None
    metric = site.metric(budget.metric)
    tz = site.config.site.timezone
    window = {"month": f"the calendar month in {tz} that holds data-through",
              "quarter": f"the calendar quarter in {tz} that holds data-through"}.get(
        budget.window, f"the {budget.days} days ending at data-through")
    steps = [
        (f"eligible = the {metric.label} denominator within the window: answered interactions "
         "plus unanswered ones whose deadline passed before data-through (actionable, outside "
         "blackout windows)"),
        "allowed breaches = (1 − goal) × eligible",
        "used = breaches: eligible interactions not answered within their target",
        "remaining = allowed − used (negative when the budget is overspent)",
        ("burn rate = (breaches ÷ eligible) ÷ (1 − goal): the share of interactions breached "
         "relative to the share the goal allows"),
        ("on track (✓) when the burn rate is at most 1; over budget (✗) above 1; no budget (–) "
         "when the goal is 100% or nothing is eligible (the burn rate is undefined)"),
    ]
    goal = ""
    row = site.budgets.get(("all", "all"))
    if row is not None:
        goal = f"≥ {format_value(row.goal, 'ratio')}"
        burn = "undefined" if row.burn_rate is None else f"{row.burn_rate:.2f}"
        steps.append(
            f"for all interactions in {row.window}: (1 − {format_value(row.goal, 'ratio')}) × "
            f"{row.eligible:,} = {format_number(row.allowed)} allowed; {row.breaches:,} used; "
            f"remaining {format_number(row.remaining)}; burn rate {burn}")
    return BudgetDefinition(metric.label, window, goal, tuple(steps))


def definitions_page(site: SiteIndex) -> Page:
    """The definitions page, generated from the policy in force."""
    path = "definitions.html"
    policy = site.config.policy
    exclusions = [RuleRow(NO_REPLY_NEEDED, "needs_reply is 'false'", "built-in")]
    exclusions += _rule_rows(policy.exclude, "policy")
    for version in policy.versions:
        if version.exclude is not None:
            exclusions += _rule_rows(version.exclude,
                                     f"policy from {version.valid_from.isoformat()}")
    targets = [TargetSet("", _target_rows(policy.first_response))]
    targets += [TargetSet(v.valid_from.isoformat(), _target_rows(v.first_response))
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
                "its kept rows (for a message-level source, its latest kept message, follow-ups "
                "included); the site's data-through is the earliest of those of the sources "
                "not marked closed (a lagging source holds the site back). Currently "
                f"{site.format_time(through)}. The period holding it is partial. Every figure "
                "is as of data-through: interactions received after it are left out (the "
                "data-quality page counts them), and a response or resolution after it has "
                "not happened yet.")
    periods = site.config.site.periods
    context = DefinitionsContext(
        page=site.page_info(path, "Definitions", "definitions"),
        metrics=tuple(_metric_definition(site, m) for m in site.figures.metrics),
        exclusions=tuple(exclusions),
        targets=tuple(targets),
        csat=csat,
        sentiment=sentiment,
        timezone=site.config.site.timezone,
        periods=", ".join(periods) + f" (headline: {periods[0]})" if periods else "",
        data_through=rule,
        blackouts=blackout_views(site),
        calendars=_calendar_views(site),
        versions=_version_views(site),
        budget=_budget_definition(site),
        tolerance_rule=("Unless a goal sets its own tolerance, a missed goal is amber within 5 "
                        "percentage points for ratios and within 10% of the goal otherwise."),
    )
    return Page(path, "definitions.html", context)


# --- Data quality --------------------------------------------------------------------------------


def reason_label(code: str, labels: dict[str, str]) -> str:
    """The human label of a rejection reason code ('missing required field')."""
    return labels.get(code) or code.replace("_", " ")


def _reason_counts(counts: dict[str, int], labels: dict[str, str]) -> tuple[ReasonCount, ...]:
    return tuple(ReasonCount(code, reason_label(code, labels), n)
                 for code, n in sorted(counts.items()))


def data_quality_page(site: SiteIndex) -> Page:
    """The data-quality page: row accounting, exclusions, blackouts, threads, restatements."""
    path = "data-quality.html"
    q = site.quality
    drops = tuple(
        DropRow(d.source, d.file, d.read, d.kept, d.superseded, d.rejected,
                _reason_counts(d.rejected_by_reason, q.reason_labels), d.balanced,
                d.before_since, d.retracted)
        for d in q.drops
    )
    reasons: dict[str, int] = {}
    for d in q.drops:
        for k, v in d.rejected_by_reason.items():
            reasons[k] = reasons.get(k, 0) + v
    read, kept = sum(d.read for d in drops), sum(d.kept for d in drops)
    superseded, rejected = sum(d.superseded for d in drops), sum(d.rejected for d in drops)
    before_since, retracted = q.rows_before_since, q.rows_retracted
    balanced = all(d.balanced for d in drops) and read == (
        kept + superseded + rejected + before_since + retracted)
    totals = DropRow("", "Total", read, kept, superseded, rejected,
                     _reason_counts(reasons, q.reason_labels), balanced, before_since, retracted)
    config = site.config
    cutoffs = {s.name: s.since or config.site.since for s in config.sources}
    shown = {site.format_time(t) for t in cutoffs.values() if t is not None}
    since = (next(iter(shown)) if len(shown) == 1 and None not in cutoffs.values()
             else ", ".join(f"{name}: {site.format_time(t)}" for name, t in cutoffs.items()
                            if t is not None))
    policy = site.config.policy
    names = [NO_REPLY_NEEDED] + [r.name for r in policy.exclude]
    for version in policy.versions:
        names += [r.name for r in version.exclude or ()]
    names += sorted(q.exclusions)
    exclusions = tuple((name, q.exclusions.get(name, 0)) for name in dict.fromkeys(names))
    reasons_out = [b.reason for b in policy.blackouts] + sorted(q.blackouts)
    blackouts = tuple((r, q.blackouts.get(r, 0)) for r in dict.fromkeys(reasons_out))
    rejections = tuple(
        RejectionRow(r.source, r.file, r.position, r.field or r.column, r.reason, r.message,
                     reason_label(r.reason, q.reason_labels))
        for r in q.rejections[:MAX_REJECTIONS_SHOWN]
    )
    csv = Link(RESTATEMENTS_CSV, "restatements.csv") if q.restatements else None
    threads = tuple(
        ThreadRow(t.source, t.messages, t.conversations, t.orphans, t.brand_initiated,
                  t.orphan_ids, t.brand_initiated_ids, t.response_ids_disagreeing,
                  t.response_time_unknown)
        for t in q.threads
    )
    context = DataQualityContext(
        page=site.page_info(path, "Data quality", "data-quality"),
        drops=drops,
        totals=totals,
        balanced=totals.balanced,
        since=since,
        show_before_since=bool(since) or before_since > 0,
        show_retracted="deleted" in q.mapped_fields or retracted > 0,
        exclusions=exclusions,
        data_through=site.format_time(q.data_through),
        data_through_explicit=q.data_through_explicit,
        sources=tuple((name, site.format_time(t), name in q.closed_sources)
                      for name, t in q.data_through_by_source.items()),
        beyond=tuple((b.source, b.period, b.interactions) for b in q.beyond),
        beyond_total=sum(b.interactions for b in q.beyond),
        fields_dropped=tuple(
            DroppedFieldRow(d.file, d.field, d.column, d.reason,
                            reason_label(d.reason, q.reason_labels), d.count, d.example)
            for d in q.fields_dropped
        ),
        values_dropped=q.values_dropped,
        rejections=rejections,
        rejections_total=len(q.rejections),
        rejected_csv=Link(REJECTED_CSV, "rejected.csv") if q.rejections else None,
        blackouts=blackouts,
        threads=threads,
        restatements=restatement_views(site, q.restatements, "", MAX_RESTATEMENTS_SHOWN,
                                       csv, csv),
        newest_drops=q.newest_drops,
        folds=tuple(
            FoldRow(f.dimension, f.values, f.limit, f.folded, f.interactions,
                    site.segment_link(f.dimension, OTHER_SEGMENT, ""))
            for f in site.figures.folds
        ),
        lookalikes=tuple(_lookalike_row(site, g) for g in q.lookalikes[:MAX_LOOKALIKES_SHOWN]),
        lookalikes_total=len(q.lookalikes),
    )
    return Page(path, "data_quality.html", context)


def _lookalike_row(site: SiteIndex, group: LookalikeGroup) -> LookalikeRow:
    """A group of probable duplicates for the data-quality page."""
    dim = group.dimension
    return LookalikeRow(dim, tuple(
        LookalikeValue(visible(value), count, foreign_letters(value),
                       site.segment_path(dim, value) if site.has_segment(dim, value) else "")
        for value, count in group.values
    ), ", ".join(group.differences))

