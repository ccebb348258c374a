"""The digest for the team chat: data/digest.md (and `carecard build --digest`).

Receives the figures, the row accounting and the config; hands on at most MAX_LINES lines of
Markdown that Slack, Teams and GitHub render alike (a heading, bold labels, a flat list): what
turned red or green in the latest complete headline period since the one before it, the three
segments furthest behind, restatements and rejected rows; never a person (the dimension of
site.privacy.people). Every text that comes from the data
or the config (the site title, segment values, file names, custom metric labels) is escaped for
Markdown and for HTML, so that a segment called `<img src=x>` or `[click](http://evil)` is shown
as text, never as markup or a link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from generator.config.loader import Config, Goal
from generator.figures.metrics import latest_complete
from generator.model import Figure, Figures, MetricInfo, QualityReport
from generator.site.formatting import (
    STATUS_ORDER,
    STATUS_TEXT,
    format_value,
    goal_direction,
    goal_margin,
    goals_in_force,
    goals_sentence,
    period_dates,
)

#: Most lines of the digest (a chat message, not a report).
MAX_LINES = 15
#: Figures named on one line ('Turned red'); the rest are counted.
MAX_NAMED = 4
#: Characters that can make markup, a link or a mention in running text (CommonMark's
#: escapable punctuation less '-', which never does mid-line; ':' and '.' break the autolinks of
#: 'http://…' and 'www.…'; '@' a mention).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+.!|~:@])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def md_text(text: str) -> str:
    """`text` from the data or config as literal Markdown text: control characters and line
    breaks as spaces, `&`, `<` and `>` as HTML entities, Markdown punctuation escaped."""
    text = _CONTROL.sub(" ", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)


def _segment(fig: Figure) -> str:
    if fig.dimension == "all":
        return "all interactions"
    return f"{md_text(fig.dimension)} {md_text(fig.segment)}"


def _figure_text(fig: Figure, metric: MetricInfo) -> str:
    return f"{md_text(metric.label)} of {_segment(fig)} {format_value(fig.value, metric.unit)}"


def _named(items: list[str]) -> str:
    more = len(items) - MAX_NAMED
    text = "; ".join(items[:MAX_NAMED])
    return text + (f"; and {more} more" if more > 0 else "")


def digest_markdown(config: Config, figures: Figures, quality: QualityReport) -> str:
    """The digest of the latest complete headline period, at most MAX_LINES lines."""
    headline = config.site.periods[0]
    periods = figures.periods.get(headline, ())
    title = f"### {md_text(config.site.title)}"
    period = latest_complete(periods)
    through = (quality.data_through.astimezone(ZoneInfo(config.site.timezone))
               .strftime("%Y-%m-%d %H:%M %Z") if quality.data_through else "no data")
    if period is None:
        return f"{title}\n\nNo complete {headline} yet (data through {through}).\n"
    previous = next((p for p in reversed(periods) if p.end <= period.start), None)
    metrics = {m.id: m for m in figures.metrics}
    goals = goals_in_force(config.policy, period.start)
    now: dict[tuple[str, str, str], Figure] = {}
    before: dict[tuple[str, str, str], Figure] = {}
    people = config.site.people_dimension
    for f in figures.rows:
        # A chat post names no person (site.privacy.people: the people page does).
        if (f.granularity != headline or f.metric not in metrics or f.goal is None
                or f.dimension == people):
            continue
        if f.period == period.label:
            now[(f.dimension, f.segment, f.metric)] = f
        elif previous is not None and f.period == previous.label:
            before[(f.dimension, f.segment, f.metric)] = f

    lines = [f"{title}: {headline} {period.label}",
             f"{period_dates(period)}, data through {through}"]
    overall = [f for (d, _, _), f in now.items() if d == "all"]
    if overall:
        lines.append("")
        lines.append("**All interactions:** " + goals_sentence(f.status for f in overall))
    lines.append("")
    if previous is not None:
        for status, word in (("red", "red"), ("green", "green")):
            turned = [f for key, f in _ordered(now) if f.status == status
                      and key in before and before[key].status != status]
            if turned:
                lines.append(f"- **Turned {word} since {previous.label} ({len(turned)}):** "
                             + _named([_figure_text(f, metrics[f.metric]) for f in turned]))
    worst = _worst(now, metrics, goals)
    if worst:
        lines.append("- **Furthest behind:** " + "; ".join(
            f"{i}. {_figure_text(f, metrics[f.metric])}, goal "
            f"{'≥' if goal_direction(goals, metrics[f.metric]) == 'min' else '≤'} "
            f"{format_value(f.goal, metrics[f.metric].unit)} "
            f"({STATUS_TEXT.get(f.status, (f.status, ''))[0]})"
            for i, f in enumerate(worst, 1)))
    if quality.restatements:
        files = ", ".join(md_text(name) for name in quality.newest_drops)
        lines.append(f"- **Restatements:** {len(quality.restatements):,} figure(s) of complete "
                     f"periods changed with the newest drop ({files})")
    else:
        lines.append("- **Restatements:** none")
    lines.append(f"- **Rejected rows:** {quality.rows_rejected:,} of {quality.rows_read:,} read"
                 + (" (listed on the data-quality page and in data/rejected.csv)"
                    if quality.rows_rejected else ""))
    return "\n".join(lines[:MAX_LINES]) + "\n"


def _ordered(figs: dict[tuple[str, str, str], Figure]
             ) -> Iterable[tuple[tuple[str, str, str], Figure]]:
    """Figures in figures.csv order of segment, SLA attainment first within a segment."""
    return sorted(figs.items(), key=lambda kv: (
        kv[0][0] != "all", kv[0][0], kv[0][1] != "all", kv[0][1], kv[0][2] != "sla_attainment",
        kv[0][2]))


def _worst(now: dict[tuple[str, str, str], Figure], metrics: dict[str, MetricInfo],
           goals: dict[str, Goal]) -> list[Figure]:
    """The three segments (not `all`) furthest behind: each by its worst red or amber figure
    (red before amber, SLA attainment first, then the furthest from its goal)."""
    def margin(f: Figure) -> float:  # negative: behind the goal
        return goal_margin(f, metrics[f.metric], goal_direction(goals, metrics[f.metric]))

    def badness(f: Figure) -> tuple[int, bool, float]:
        return (STATUS_ORDER[f.status], f.metric != "sla_attainment", margin(f))

    by_segment: dict[tuple[str, str], Figure] = {}
    for (dim, seg, _), f in _ordered(now):
        if dim == "all" or f.status not in ("red", "amber"):
            continue
        best = by_segment.get((dim, seg))
        if best is None or badness(f) < badness(best):
            by_segment[(dim, seg)] = f
    ranked = sorted(by_segment.values(), key=lambda f: (STATUS_ORDER[f.status], margin(f)))
    return ranked[:3]
