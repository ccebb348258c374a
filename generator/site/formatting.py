"""Turn figures and policy facts into display text: values by unit, changes, statuses, slugs.

Everything here is a pure function of its arguments, so pages and templates format the same
value the same way everywhere (fixed number formatting keeps the site deterministic).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import cache

from generator.config.loader import Goal, Policy, Where
from generator.errors import BuildError, quote
from generator.model import Figure, MetricInfo, Period
from generator.site.contexts import Status

#: Status code -> (word, symbol). The word and symbol always accompany the colour.
STATUS_TEXT: dict[str, tuple[str, str]] = {
    "green": ("on goal", "✓"),
    "amber": ("near goal", "!"),
    "red": ("off goal", "✗"),
    "insufficient": ("too few", "?"),
    "none": ("no goal", "–"),
}
#: Error-budget state -> (status code for colour, word, symbol).
BUDGET_TEXT: dict[bool | None, tuple[str, str, str]] = {
    True: ("green", "on track", "✓"),
    False: ("red", "over budget", "✗"),
    None: ("none", "no budget", "–"),
}
GRANULARITY_ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly",
                         "quarter": "quarterly"}
GRANULARITY_PLURAL = {"day": "days", "week": "weeks", "month": "months", "quarter": "quarters"}
NO_VALUE = "—"
#: Month names under a chart's axis.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: What a person's withheld figure shows instead of a value (site.privacy.people).
TOO_FEW = "too few"
MINUS = "−"


def format_figure(fig: Figure | None, unit: str) -> str:
    """A figure's value for display: 'too few' when it is a person's withheld figure."""
    if fig is not None and fig.withheld:
        return TOO_FEW
    return format_value(fig.value if fig is not None else None, unit)


def format_value(value: float | None, unit: str, extra: int = 0) -> str:
    """Format a value for display by unit ('87.5%', '41.5 min', '6.2 h', '12', '4.31').

    `extra` adds decimals (to tell apart two values that round to the same text).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_VALUE
    if unit == "ratio":
        return f"{value * 100:.{1 + extra}f}%"
    if unit == "minutes":
        return f"{value:,.{1 + extra}f} min"
    if unit == "hours":
        return f"{value:,.{1 + extra}f} h"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{1 + extra}f}"
    if unit == "score":
        return f"{value:.{2 + extra}f}"
    return f"{value:.{6 + extra}g}"


def format_pair(old: float | None, new: float | None, unit: str) -> tuple[str, str]:
    """Format two values of a unit with just enough decimals (up to 4 more) to differ."""
    for extra in range(5):
        pair = format_value(old, unit, extra), format_value(new, unit, extra)
        if pair[0] != pair[1] or old == new:
            break
    return pair


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


@cache
def status_of(code: str) -> Status:
    """Return the Status view of a status code (one shared, immutable view per code)."""
    word, symbol = STATUS_TEXT.get(code, (code, "?"))
    return Status(code, word, symbol)


def slugify(text: str) -> str:
    """Lower-case ASCII slug [a-z0-9-] ('' when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def short_hash(text: str, digits: int = 8) -> str:
    """First `digits` hex digits of the SHA-256 of `text`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:digits]


#: Longest slug kept as it is, and longest readable part of a slug with a hash.
SLUG_LENGTH = 40
#: Hex digits of the hash in a slug: 48 bits, so that even 100,000 values whose readable parts
#: are all the same (names in a script with no ASCII letters) are unlikely to share one.
SLUG_HASH_DIGITS = 12
_PLAIN_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_HASHED_SLUG = re.compile(rf".*-[0-9a-f]{{{SLUG_HASH_DIGITS}}}")
#: Names Windows reserves for devices, whatever the extension.
_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{d}{i}" for d in ("com", "lpt") for i in range(10)]
)


def segment_slug(value: str) -> str:
    """The file name (without extension) of a segment, dimension or content page: a function
    of the value alone, so that a page's URL never moves when other values appear.

    A value that is already a short lower-case slug ([a-z0-9_-], at most SLUG_LENGTH
    characters) is its own slug ('email', 'tech-support'). Any other value gets its slugified
    text cut to SLUG_LENGTH characters plus '-' and 12 hex digits of its SHA-256 ('Orders' →
    'orders-…', a 300-character name → 40 characters and the hash, '日本' → 'x-…'). Slugs are
    lower-case ASCII, so distinct values have distinct slugs on case-insensitive file systems
    too; a plain value that looks like a hashed slug, or is a Windows device name ('con'), is
    hashed itself, so the two kinds never meet.
    """
    if (len(value) <= SLUG_LENGTH and _PLAIN_SLUG.fullmatch(value)
            and not _HASHED_SLUG.fullmatch(value) and value not in _DEVICE_NAMES):
        return value
    base = slugify(value)[:SLUG_LENGTH].rstrip("-") or "x"
    return f"{base}-{short_hash(value, SLUG_HASH_DIGITS)}"


def segment_slugs(values: Iterable[str]) -> dict[str, str]:
    """Map values to their slugs (see :func:`segment_slug`); raise BuildError in the unlikely
    case that two values share one."""
    slugs: dict[str, str] = {}
    owners: dict[str, str] = {}
    for value in dict.fromkeys(values):
        slug = segment_slug(value)
        other = owners.setdefault(slug, value)
        if other != value:
            raise BuildError(f"the values {quote(other)} and {quote(value)} have the same file "
                             f"name '{slug}'. Hint: rename one of them with sources[].values.")
        slugs[value] = slug
    return slugs


def period_dates(period: Period) -> str:
    """First and last day of a period, e.g. '2026-11-16 – 2026-11-22'."""
    last = period.end - timedelta(days=1)
    if last == period.start:
        return period.start.isoformat()
    return f"{period.start.isoformat()} – {last.isoformat()}"


def where_text(where: Where) -> str:
    """A `where` in words: "channel is 'email' and team is one of 'A', 'B'"."""
    if not where.conditions:
        return "any interaction"
    parts = []
    for key, values in where.conditions.items():
        if len(values) == 1:
            parts.append(f"{key} is '{values[0]}'")
        else:
            parts.append(f"{key} is one of " + ", ".join(f"'{v}'" for v in values))
    return " and ".join(parts)


# --- Goals and budgets ------------------------------------------------------------------


def goals_in_force(policy: Policy, day: date) -> dict[str, Goal]:
    """Return the goals in force on `day` (base goals merged with earlier versions)."""
    goals = dict(policy.goals)
    for version in sorted(policy.versions, key=lambda v: v.valid_from):
        if version.valid_from <= day:
            goals.update(version.goals)
    return goals


#: Statuses worst first: the order of league tables, the digest and the overview's tiles.
STATUS_ORDER = {"red": 0, "amber": 1, "green": 2, "insufficient": 3, "none": 4}


def goal_direction(goals: Mapping[str, Goal], metric: MetricInfo) -> str:
    """'min' (at least the goal) or 'max': the goal's, else the metric's better side."""
    goal = goals.get(metric.id)
    if goal is not None:
        return goal.direction
    return "min" if metric.better == "higher" else "max"


def goal_margin(fig: Figure, metric: MetricInfo, direction: str) -> float:
    """How far the value is on the good side of its goal (negative: behind), relative to the
    goal for non-ratios; infinite without a value or a goal."""
    if fig.value is None or fig.goal is None:
        return math.inf
    gap = fig.value - fig.goal if direction == "min" else fig.goal - fig.value
    return gap if metric.is_ratio else gap / (abs(fig.goal) or 1.0)


def goals_sentence(statuses: Iterable[str]) -> str:
    """'4 of 6 goals met, 1 near, 1 off, 1 with too few data': the statuses of figures with
    a goal."""
    listed = list(statuses)
    counts = {code: listed.count(code) for code in STATUS_ORDER}
    words = [f"{counts['green']} of {len(listed)} goals met"]
    words += [f"{counts[code]} {word}" for code, word in
              (("amber", "near"), ("red", "off"), ("insufficient", "with too few data"))
              if counts[code]]
    return ", ".join(words)


def tolerance_of(goal: Goal, metric: MetricInfo) -> float:
    """The amber tolerance: as set, else 5 pp for ratios and 10% of the goal otherwise."""
    if goal.tolerance is not None:
        return goal.tolerance
    return 0.05 if metric.is_ratio else abs(goal.value) * 0.10



def budget_status(on_track: bool | None) -> Status:
    """Status view of an error budget: 'on track ✓', 'over budget ✗' or 'no budget –'."""
    code, word, symbol = BUDGET_TEXT[on_track]
    return Status(code, word, symbol)


def format_number(value: float) -> str:
    """A count that may be fractional (an error budget's allowed and remaining breaches), always
    with one decimal so a column lines up ('90.8', '146.0', '−41.0', '−2.3'), with a true minus
    sign when negative."""
    text = f"{abs(value):,.1f}"
    return (MINUS + text) if value < 0 and text.strip("0.,") else text


#: Most decimals `format_minutes` adds to keep a late reply from looking on time.
MAX_MINUTE_DECIMALS = 6


def format_minutes(minutes: float | None, target: float | None = None) -> str:
    """A duration in minutes for tables ('112.2 min', '2,663.0 min'); '—' for None.

    With a `target` the duration exceeds, decimals are added (up to MAX_MINUTE_DECIMALS) until
    the shown number exceeds the target too, so a reply 60.03 minutes after receipt shows as
    '60.03 min', never '60.0 min', beside a 60-minute target; past that precision the value is
    rounded up, never down to the target.
    """
    if minutes is None or math.isnan(minutes):
        return NO_VALUE
    if target is None or not minutes > target:
        return f"{minutes:,.1f} min"
    for decimals in range(1, MAX_MINUTE_DECIMALS + 1):
        if round(minutes, decimals) > target:
            return f"{minutes:,.{decimals}f} min"
    scale = 10 ** MAX_MINUTE_DECIMALS
    return f"{math.ceil(minutes * scale) / scale:,.{MAX_MINUTE_DECIMALS}f} min"


def format_target(minutes: float) -> str:
    """A first-response target ('15 min', '60 min', '8 h', '24 h')."""
    if minutes >= 120 and minutes % 60 == 0:
        return f"{minutes / 60:g} h"
    return f"{minutes:g} min"


def plural(count: int, word: str, many: str = "") -> str:
    """'1 interaction', '12 interactions' (thousands separated)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def day_span(start: datetime, end: datetime) -> str:
    """A window of naive local times: '2026-10-06 10:00 – 2026-10-07 16:00'."""
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def period_tick(granularity: str, label: str) -> tuple[str, str]:
    """A period's short label under a chart's axis and the group it belongs to: ('W47',
    '2026'), ('Nov', '2026'), ('Q4', '2026'), ('16', 'Nov 2026'); the label itself otherwise."""
    parts = label.split("-")
    try:
        if granularity == "week" and len(parts) == 2 and parts[1].startswith("W"):
            return parts[1], parts[0]
        if granularity == "quarter" and len(parts) == 2 and parts[1].startswith("Q"):
            return parts[1], parts[0]
        if granularity == "month" and len(parts) == 2:
            return MONTHS[int(parts[1]) - 1], parts[0]
        if granularity == "day" and len(parts) == 3:
            return str(int(parts[2])), f"{MONTHS[int(parts[1]) - 1]} {parts[0]}"
    except (ValueError, IndexError):
        pass
    return label, ""

