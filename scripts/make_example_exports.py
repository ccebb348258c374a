#!/usr/bin/env python3
"""Generate the example site's data: weekly interaction-level exports for the fictional brand Acme.

What it writes
--------------
Thirteen CSV "drops", ``social-2026-W36.csv`` ... ``social-2026-W48.csv``, in the shape that
``config.yaml`` maps (source ``social``): one row per customer conversation ("case") handled by
Acme's social care team, with the columns

    Case ID, Created, First Reply, Closed, Network, Queue, Priority, Category, Survey Score,
    Needs Reply, Sentiment Start, Sentiment End, Public, Moved To DM, Followers

Interactions are received from Tue 2026-09-01 00:00 to Wed 2026-11-25 15:00 (Europe/London).
Each drop is a snapshot taken by the (imaginary) help-desk tool: it holds every interaction
received in its ISO week, with the First Reply, Closed, Survey Score and Sentiment End known at
export time (Tuesday 06:00 of the following week; the W48 drop is taken Wed 2026-11-25 15:00,
so W48 is a partial week). A drop also RE-EXPORTS every interaction of an earlier week that has
changed since it was last exported (a late first reply, a later close, a survey answer), with
the same Case ID and the newer values: carecard keeps the row of the latest drop.

The output depends only on the seed: one ``random.Random(seed)`` stream, no clock reads, no
hash-ordered iteration, rows sorted by Case ID, LF line endings, UTF-8 without BOM. Running the
script twice gives byte-identical files (``--check`` verifies that in memory).

Format details (each mirrors a real export)
-------------------------------------------
* Timestamps are naive local wall-clock text ``YYYY-MM-DD HH:MM:SS`` in Europe/London (the
  config declares ``timezone: Europe/London`` for the source). British Summer Time ends on
  Sun 2026-10-25 at 02:00 BST = 01:00 GMT, so wall-clock 01:00-01:59 happens twice that night.
  The script hard-codes that single transition (the data covers no other) instead of reading a
  tz database, so the output cannot drift with tzdata updates. A handful of interactions are
  received between 00:30 and 02:30 local that night (an overnight maintenance shift answered
  them). Naive text cannot say which 01:xx is meant, so whenever the true instants would print a
  reply or close with an EARLIER wall-clock than the receipt (received 01:47 BST, replied 01:07
  GMT), the reply is moved to just after 02:00 GMT: under either reading of the ambiguous hour a
  reply never appears before receipt. Durations across that hour are still off by up to an
  hour depending on the reader's choice; that is inherent in offset-less exports.
* An empty cell means "none yet" (no reply, not closed, not rated, no sentiment, no followers).
* ``Network`` is Twitter, X (a few rows from after the rebrand; config maps X to twitter),
  Facebook, Instagram or Email. E-mail has no public/follower data: Public=false, Followers empty.
* ``Needs Reply`` is Yes/No (config maps it to true/false): "No" for most "thanks" rows and some
  praise, which the built-in exclusion rule removes from the actionable population.
* ``Category`` spam (~3%) is excluded by the config's ``spam`` rule; spam is closed unanswered.
* ``Priority`` urgent (~5% of actionable cases: social questions and complaints) gets the
  15-minute target.
* ``Sentiment Start``/``Sentiment End`` are scores in [-1, 1] with two decimals, sometimes
  empty; End is known once the case is closed.

The story the figures tell (all statuses appear)
------------------------------------------------
Goals in config.yaml: sla_attainment >= 0.90 (amber down to 0.85, min n 20), response_rate >=
0.95, frt_median <= 30 min, frt_p90 <= 120 min, csat >= 0.80 (min n 20), backlog <= 10. Targets:
urgent 15 min, e-mail 24 h (elapsed clock), everything else 60 min.

* Social queues are answered around the clock; a thinner night shift (23:00-07:00) is slower.
* Social Desk (the largest queue): fast and steady, green.
* Tech Support: slow and red in September, amber in most of October, green in November (a
  staffing change and a new macro library). An app outage on Tue-Wed 6-7 Oct (W41) brings a
  burst of complaints answered slowly: W41 is red.
* Billing: green through October; from Mon 2 Nov a confusing price-change e-mail brings a
  surge of complaints, replies slow down and some go unanswered for days (answered later, so
  later drops restate W45-W47): sla amber in W45, red in W46-W47 with response rate, first
  response times and CSAT slipping too; the November month is red.
* Orders runs the e-mail inbox (Mon-Fri 08:00-20:00, Sat 09:00-17:00, Sun 10:00-16:00) plus a
  little social work. E-mail replies take hours, so Orders' and e-mail's frt_median/frt_p90 are
  red against the minute goals while their 24 h SLA is mostly green; e-mails that arrive after
  the inbox closes sometimes miss the 24 h elapsed-clock target (a business-hours clock would
  not count the closed hours). E-mail also keeps the all-channel frt_p90 red.
* Instagram is small (about 10-15 interactions a week): its weekly sla_attainment and csat are
  "insufficient" (n < 20). Weekly csat of Billing/Orders/Tech Support is often insufficient
  too; the monthly view has enough ratings.
* Unanswered cases at export time appear again, answered, in a later drop (a re-export); a few
  are never answered and stay in the backlog.

Planted bad rows (every one is rejected by carecard with a reason; see plant_bad_rows)
------------------------------------------------------------------------------------
W37 an empty Case ID; W39 Created = "yesterday"; W41 a First Reply before Created; W42 a Closed
before Created; W44 one Case ID twice in the drop (two rows with different Closed values: both
copies are rejected); W45 Survey Score 7 (outside the 1-5 scale); W46 Survey Score "n/a";
W47 Queue "all" (a reserved segment value). The corrupted interactions are not re-exported later,
so each is lost from the figures, as it would be in real life until the export is fixed.

Run ``python scripts/make_example_exports.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import random
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

SEED = 20260901
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "content" / "exports"

HEADER = [
    "Case ID", "Created", "First Reply", "Closed", "Network", "Queue", "Priority", "Category",
    "Survey Score", "Needs Reply", "Sentiment Start", "Sentiment End", "Public", "Moved To DM",
    "Followers",
]

# --- time: integer seconds since the Unix epoch (UTC); local = Europe/London -------------------
EPOCH = datetime(1970, 1, 1)
HOUR = 3600
DAY = 86400


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    """Seconds since the epoch of a UTC wall-clock time."""
    return int((datetime(y, mo, d, h, mi) - EPOCH).total_seconds())


# The only DST change in range: BST (UTC+1) ends Sun 2026-10-25 01:00 UTC (02:00 BST -> 01:00 GMT).
BST_END = utc(2026, 10, 25, 1)
BST_END_LOCAL = datetime(2026, 10, 25, 2, 0)   # first unambiguous wall-clock time after it
START = utc(2026, 8, 31, 23)                   # Tue 2026-09-01 00:00 BST
END = utc(2026, 11, 25, 15)                    # Wed 2026-11-25 15:00 GMT: the last export
FIRST_WEEK, LAST_WEEK = 36, 48


def to_local(ts: int) -> datetime:
    """Naive Europe/London wall-clock time of an instant."""
    return EPOCH + timedelta(seconds=ts + (HOUR if ts < BST_END else 0))


def from_local(naive: datetime) -> int:
    """Instant of a wall-clock time; the ambiguous 01:xx of 25 Oct is read as BST (fold=0)."""
    secs = int((naive - EPOCH).total_seconds())
    return secs - HOUR if naive < BST_END_LOCAL else secs


def stamp(ts: int | None) -> str:
    return "" if ts is None else to_local(ts).strftime("%Y-%m-%d %H:%M:%S")


def iso_week(ts: int) -> int:
    return to_local(ts).isocalendar()[1]


def export_time(week: int) -> int:
    """When a week's drop is exported: Tuesday 06:00 local after the week; W48 at END."""
    if week == LAST_WEEK:
        return END
    monday = date.fromisocalendar(2026, week, 1)
    return from_local(datetime.combine(monday + timedelta(days=8), datetime.min.time())
                      + timedelta(hours=6))


# Opening hours (local, minutes from midnight) per weekday Mon=0 .. Sun=6.
EMAIL_HOURS = ({d: [(8 * 60, 20 * 60)] for d in range(5)}
               | {5: [(9 * 60, 17 * 60)], 6: [(10 * 60, 16 * 60)]})
ALWAYS = {d: [(0, 24 * 60)] for d in range(7)}
NIGHT = (23, 7)     # social queues are covered overnight by a thinner night shift (slower)


def advance_open(ts: int, seconds: float, hours: dict[int, list[tuple[int, int]]]) -> int:
    """The instant reached after `seconds` of open time from `ts` (waits for the next opening)."""
    remaining = seconds
    day = to_local(ts).date()
    for _ in range(400):
        midnight = datetime.combine(day, datetime.min.time())
        for a, b in hours[day.weekday()]:
            s = from_local(midnight + timedelta(minutes=a))
            e = from_local(midnight + timedelta(minutes=b))
            if e <= ts:
                continue
            start = max(s, ts)
            if start + remaining <= e:
                return int(start + remaining)
            remaining -= e - start
            ts = e
        day += timedelta(days=1)
    raise RuntimeError("advance_open did not converge")


# --- randomness: only rng.random(), transformed here (stable across Python versions) ---------
class Rand:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def u(self) -> float:
        return self.r.random()

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def normal(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        u1 = 1.0 - self.r.random()
        u2 = self.r.random()
        return mu + sigma * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(self.normal(0.0, sigma))

    def pick(self, weights: dict[str, float]) -> str:
        total = sum(weights.values())
        x = self.r.random() * total
        for key, w in weights.items():
            x -= w
            if x < 0:
                return key
        return key

    def poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.r.random()
            if p <= limit:
                return k
            k += 1

    def between(self, a: float, b: float) -> float:
        return a + (b - a) * self.r.random()


# --- volume ---------------------------------------------------------------------------------
HOUR_WEIGHT = [0.25, 0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.4, 1.5, 1.5,
               1.6, 1.5, 1.4, 1.4, 1.3, 1.3, 1.3, 1.3, 1.2, 1.0, 0.7, 0.45]
DAY_WEIGHT = [1.15, 1.1, 1.05, 1.05, 1.0, 0.7, 0.65]
WEEK_WEIGHT_SUM = sum(HOUR_WEIGHT) * sum(DAY_WEIGHT)


def base_weekly(week: int) -> float:
    """Ordinary weekly volume: about 320 a week, growing slowly over the quarter."""
    return 320 + 4 * (week - FIRST_WEEK)


# Billing surge after the price-change e-mail of Mon 2 Nov (extra interactions per week).
BILLING_SURGE = {45: 30, 46: 55, 47: 60, 48: 45}
BILLING_SURGE_FROM = utc(2026, 11, 2, 8)
# Tech Support: app outage Tue 6 Oct 10:00 - Wed 7 Oct 16:00 BST (extra complaints in total).
OUTAGE_FROM, OUTAGE_TO, OUTAGE_EXTRA = utc(2026, 10, 6, 9), utc(2026, 10, 7, 15), 55
# Clock-change night: received at these UTC instants (local 00:40 BST .. 02:25 GMT).
DST_NIGHT = [utc(2026, 10, 24, 23, 40), utc(2026, 10, 24, 23, 58), utc(2026, 10, 25, 0, 14),
             utc(2026, 10, 25, 0, 31), utc(2026, 10, 25, 0, 47), utc(2026, 10, 25, 1, 9),
             utc(2026, 10, 25, 1, 36), utc(2026, 10, 25, 2, 25)]


def arrivals(rng: Rand) -> list[tuple[int, str]]:
    """(received instant, kind) for every interaction, sorted; kind selects the mix."""
    out: list[tuple[int, str]] = []
    outage_weight = sum(
        HOUR_WEIGHT[to_local(t).hour] for t in range(OUTAGE_FROM, OUTAGE_TO, HOUR))
    for t in range(START, END, HOUR):
        loc = to_local(t)
        week = loc.isocalendar()[1]
        w = HOUR_WEIGHT[loc.hour] * DAY_WEIGHT[loc.weekday()] / WEEK_WEIGHT_SUM
        lambdas = [("base", base_weekly(week) * w)]
        if t >= BILLING_SURGE_FROM:
            lambdas.append(("billing", BILLING_SURGE.get(week, 0) * w))
        if OUTAGE_FROM <= t < OUTAGE_TO:
            lambdas.append(("outage", OUTAGE_EXTRA * HOUR_WEIGHT[loc.hour] / outage_weight))
        for kind, lam in lambdas:
            for _ in range(rng.poisson(lam)):
                out.append((min(t + int(rng.u() * HOUR), END - 1), kind))
    out.extend((t, "dst") for t in DST_NIGHT)
    out.sort()
    return out


# --- the interaction model ------------------------------------------------------------------
@dataclass
class Interaction:
    case_id: str
    created: int
    week: int
    network: str
    queue: str
    priority: str
    category: str
    needs_reply: bool
    sentiment_start: float | None
    sentiment_end: float | None
    public: bool
    moved: bool
    followers: int | None
    first_reply: int | None = None
    closed: int | None = None
    survey_at: int | None = None
    score: int | None = None
    bad: str | None = None          # set when one of its rows is deliberately corrupted


def widx(week: int) -> int:
    return week - FIRST_WEEK        # 0 (W36) .. 12 (W48)


def response_profile(it: Interaction) -> tuple[float, float, float, float]:
    """(p answered promptly, median minutes of open time, sigma, p answered late otherwise)."""
    w = widx(it.week)
    if it.network == "Email":
        return 0.975, 150.0, 0.75, 0.7
    if it.queue == "Social Desk":
        return 0.98, 11.0, 0.85, 0.6
    if it.queue == "Tech Support":
        return 0.955 + 0.003 * w, 30.0 - 1.8 * w, 0.85, 0.5
    if it.queue == "Billing":
        median = {9: 15.0, 10: 30.0, 11: 33.0, 12: 28.0}.get(w, 12.0)
        prompt = {9: 0.97, 10: 0.89, 11: 0.88, 12: 0.92}.get(w, 0.98)
        late = {10: 0.3, 11: 0.25}.get(w, 0.6)
        return prompt, median, 0.95, late
    return 0.97, 18.0, 0.9, 0.5       # Orders, social side


def satisfied_base(it: Interaction) -> float:
    w = widx(it.week)
    return {
        "Social Desk": 0.92,
        "Tech Support": 0.68 + 0.018 * w,
        "Billing": {9: 0.84, 10: 0.70, 11: 0.66, 12: 0.70}.get(w, 0.88),
        "Orders": 0.85,
    }[it.queue]


def target_minutes(it: Interaction) -> float:
    if it.priority == "urgent":
        return 15
    return 24 * 60 if it.network == "Email" else 60


def clamp(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


def wall_order_fix(rng: Rand, earlier: int, later: int) -> int:
    """Move `later` past 02:00 GMT if its wall-clock text would sort before `earlier`'s."""
    if to_local(later) < to_local(earlier):
        return from_local(BST_END_LOCAL) + int(rng.between(60, 600))
    return later


CHANNEL_MIX = {"Twitter": 0.41, "X": 0.02, "Facebook": 0.365, "Instagram": 0.035, "Email": 0.17}
SOCIAL_QUEUE_MIX = {"Social Desk": 0.45, "Tech Support": 0.28, "Billing": 0.17, "Orders": 0.10}
CATEGORY_MIX = {"question": 0.46, "complaint": 0.24, "praise": 0.08, "thanks": 0.16, "spam": 0.03}
SENTIMENT = {"complaint": (-0.55, 0.25), "question": (-0.05, 0.3), "praise": (0.7, 0.15),
             "thanks": (0.6, 0.2), "spam": (0.0, 0.3)}


def make_interaction(rng: Rand, n: int, created: int, kind: str) -> Interaction:
    # who, where, what
    if kind == "billing":
        network = rng.pick({"Twitter": 0.47, "Facebook": 0.47, "X": 0.03, "Instagram": 0.03})
        queue = "Billing"
        category = rng.pick({"complaint": 0.65, "question": 0.35})
    elif kind == "outage":
        network = rng.pick({"Twitter": 0.55, "Facebook": 0.35, "X": 0.05, "Instagram": 0.05})
        queue = "Tech Support"
        category = rng.pick({"complaint": 0.8, "question": 0.2})
    elif kind == "dst":
        network = rng.pick({"Twitter": 0.6, "Facebook": 0.4})
        queue = "Tech Support"
        category = rng.pick({"complaint": 0.5, "question": 0.5})
    else:
        network = rng.pick(CHANNEL_MIX)
        queue = "Orders" if network == "Email" else rng.pick(SOCIAL_QUEUE_MIX)
        category = rng.pick(CATEGORY_MIX)
    needs_reply = not rng.chance({"thanks": 0.88, "praise": 0.35, "spam": 0.5}.get(category, 0.01))
    urgent = network != "Email" and category in ("complaint", "question") and rng.chance(
        0.09 if category == "complaint" else 0.05)
    mu, sd = SENTIMENT[category]
    s_start = None if rng.chance(0.07) else round(clamp(rng.normal(mu, sd)), 2)
    public = network != "Email" and rng.chance(0.78)
    followers = None if network == "Email" else min(2_500_000, int(rng.lognormal(350, 1.6)))
    it = Interaction(
        case_id=f"AC-{100000 + n}", created=created, week=iso_week(created), network=network,
        queue=queue, priority="urgent" if urgent else "normal", category=category,
        needs_reply=needs_reply, sentiment_start=s_start, sentiment_end=None, public=public,
        moved=False, followers=followers)

    # first reply
    hours = EMAIL_HOURS if network == "Email" else ALWAYS
    local_hour = to_local(created).hour
    at_night = network != "Email" and (local_hour >= NIGHT[0] or local_hour < NIGHT[1])
    if category == "spam":
        pass                                           # never answered
    elif not needs_reply:
        if rng.chance(0.35):                           # a like or a short "you're welcome"
            it.first_reply = advance_open(created, rng.lognormal(30, 1.0) * 60, hours)
    elif kind == "dst":                                # the maintenance night shift
        it.first_reply = created + int(rng.lognormal(14, 0.6) * 60)
    else:
        p_prompt, median, sigma, p_late = response_profile(it)
        if kind == "outage":
            median *= 2.5
        if urgent:
            median *= 0.45
        if at_night:
            median = max(median, 20.0) * 1.3
        if rng.chance(p_prompt):
            it.first_reply = advance_open(created, rng.lognormal(median, sigma) * 60, hours)
        elif rng.chance(p_late):                       # found days later in a queue sweep
            it.first_reply = advance_open(created + int(rng.between(26, 120) * HOUR), 0, hours)
    if it.first_reply is not None:
        it.first_reply = wall_order_fix(rng, created, it.first_reply)

    # close
    answered_in_time = (it.first_reply is not None
                        and (it.first_reply - created) / 60 <= target_minutes(it))
    if category == "spam":
        if rng.chance(0.9):
            it.closed = created + int(rng.lognormal(30, 1.0) * 60)
    elif not needs_reply:
        if rng.chance(0.95):
            it.closed = max(created, it.first_reply or created) + int(rng.lognormal(20, 1.0) * 60)
    elif it.first_reply is not None and rng.chance(0.93):
        median_h = {"complaint": 8.0, "question": 2.0}.get(category, 1.0)
        if network == "Email":
            median_h = 20.0
        it.closed = it.first_reply + int(rng.lognormal(median_h, 1.0) * HOUR)
    if it.closed is not None:
        it.closed = wall_order_fix(rng, it.first_reply or created, it.closed)

    # sentiment at the end, public-to-private move, survey
    if it.closed is not None and s_start is not None and rng.chance(0.75):
        lift = rng.normal(0.45, 0.3) if answered_in_time else rng.normal(0.1, 0.35)
        it.sentiment_end = round(clamp(s_start + lift), 2)
    if public and it.first_reply is not None and needs_reply and category in ("complaint",
                                                                               "question"):
        it.moved = rng.chance(0.65 if category == "complaint" else 0.45)
    if it.closed is not None and needs_reply and category != "spam" and rng.chance(
            0.40 if category == "complaint" else 0.30):
        p = satisfied_base(it)
        p += {"praise": 0.08, "complaint": -0.06}.get(category, 0.0)
        if not answered_in_time:
            p -= 0.15
        p = clamp(p, 0.05, 0.98)
        if rng.chance(p):
            it.score = 5 if rng.chance(0.6) else 4
        else:
            it.score = int(rng.pick({"3": 0.45, "2": 0.25, "1": 0.30}))
        it.survey_at = it.closed + int(rng.lognormal(10, 1.3) * HOUR)
    return it


# --- rows and drops ---------------------------------------------------------------------------
def num(x: float | None) -> str:
    if x is None:
        return ""
    text = f"{x:.2f}"
    return "0.00" if text == "-0.00" else text


def snapshot(it: Interaction, at: int) -> list[str]:
    """The export row of an interaction as the help-desk tool saw it at instant `at`."""
    fr = it.first_reply if it.first_reply is not None and it.first_reply <= at else None
    closed = it.closed if it.closed is not None and it.closed <= at else None
    score = it.score if it.survey_at is not None and it.survey_at <= at else None
    return [
        it.case_id, stamp(it.created), stamp(fr), stamp(closed), it.network, it.queue,
        it.priority, it.category, "" if score is None else str(score),
        "Yes" if it.needs_reply else "No", num(it.sentiment_start),
        num(it.sentiment_end if closed is not None else None),
        "true" if it.public else "false", "true" if it.moved and fr is not None else "false",
        "" if it.followers is None else str(it.followers),
    ]


COL = {name: i for i, name in enumerate(HEADER)}


def _first(rows: list[list[str]], start: int, cond) -> int:
    for i in range(start, len(rows)):
        if cond(rows[i]):
            return i
    raise RuntimeError("no row fits a planted bad row")


def plant_bad_rows(week: int, rows: list[list[str]], by_id: dict[str, Interaction]
                   ) -> list[tuple[int, str, str]]:
    """Corrupt rows of this drop in place (new rows only); returns (row index, Case ID, what)."""
    planted: list[tuple[int, str, str]] = []

    def new(r: list[str]) -> bool:
        return by_id[r[COL["Case ID"]]].week == week

    def answered(r: list[str]) -> bool:
        return new(r) and r[COL["First Reply"]] != ""

    def closed(r: list[str]) -> bool:
        return (new(r) and r[COL["Closed"]] != "" and r[COL["Needs Reply"]] == "Yes"
                and r[COL["Category"]] != "spam")

    def mark(i: int, what: str) -> None:
        by_id[rows[i][COL["Case ID"]]].bad = what
        planted.append((i, rows[i][COL["Case ID"]], what))

    if week == 37:      # the export tool lost the id of one case: missing required field
        i = _first(rows, len(rows) // 3, answered)
        mark(i, "empty Case ID (missing required field)")
        rows[i][COL["Case ID"]] = ""
    elif week == 39:    # a hand-edited row: a relative date instead of a timestamp
        i = _first(rows, len(rows) // 2, new)
        mark(i, 'Created is "yesterday" (unparseable timestamp)')
        rows[i][COL["Created"]] = "yesterday"
    elif week == 41:    # a reply stamped in the wrong zone: 47 minutes before the receipt
        i = _first(rows, len(rows) // 4, answered)
        created = datetime.strptime(rows[i][COL["Created"]], "%Y-%m-%d %H:%M:%S")
        rows[i][COL["First Reply"]] = (created - timedelta(minutes=47)).strftime(
            "%Y-%m-%d %H:%M:%S")
        mark(i, "First Reply 47 minutes before Created (reply before receipt)")
    elif week == 42:    # a case closed by a bulk action with a bad date: a day before receipt
        i = _first(rows, len(rows) // 2, closed)
        created = datetime.strptime(rows[i][COL["Created"]], "%Y-%m-%d %H:%M:%S")
        rows[i][COL["Closed"]] = (created - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
        mark(i, "Closed one day before Created (resolution before receipt)")
    elif week == 44:    # the same case exported twice with different Closed: both copies rejected
        i = _first(rows, len(rows) // 3, closed)
        twin = list(rows[i])
        closed_at = datetime.strptime(twin[COL["Closed"]], "%Y-%m-%d %H:%M:%S")
        twin[COL["Closed"]] = (closed_at + timedelta(hours=2, minutes=13)).strftime(
            "%Y-%m-%d %H:%M:%S")
        mark(i, "duplicate Case ID in the drop (first copy)")
        rows.append(twin)
        planted.append((len(rows) - 1, twin[COL["Case ID"]],
                        "duplicate Case ID in the drop (second copy, Closed 2h13m later)"))
    elif week == 45:    # a survey on a 0-10 scale leaked into the 1-5 column
        i = _first(rows, len(rows) // 2, closed)
        rows[i][COL["Survey Score"]] = "7"
        mark(i, "Survey Score 7 (outside the 1-5 scale)")
    elif week == 46:    # a survey tool placeholder
        i = _first(rows, len(rows) // 3, closed)
        rows[i][COL["Survey Score"]] = "n/a"
        mark(i, 'Survey Score "n/a" (not a number)')
    elif week == 47:    # a case routed to a catch-all queue named "all": reserved value
        i = _first(rows, len(rows) // 2, new)
        rows[i][COL["Queue"]] = "all"
        mark(i, 'Queue "all" (reserved segment value)')
    return planted


@dataclass
class Drop:
    week: int
    name: str
    text: str
    rows: int
    new: int
    reexports: int
    bad: list[tuple[int, str, str]]     # (CSV line number, Case ID, what is wrong)


def build(seed: int) -> list[Drop]:
    rng = Rand(seed)
    interactions = [make_interaction(rng, n, t, kind)
                    for n, (t, kind) in enumerate(arrivals(rng), start=1)]
    by_id = {it.case_id: it for it in interactions}
    last_seen: dict[str, list[str]] = {}
    drops: list[Drop] = []
    for week in range(FIRST_WEEK, LAST_WEEK + 1):
        at = export_time(week)
        rows: list[list[str]] = []
        new = reexports = 0
        for it in interactions:                       # already in Case ID order
            if it.week > week or it.created > at:
                continue
            row = snapshot(it, at)
            if it.week == week:
                new += 1
            elif it.bad is None and row != last_seen[it.case_id]:
                reexports += 1
            else:
                continue
            rows.append(row)
            last_seen[it.case_id] = row
        planted = plant_bad_rows(week, rows, by_id)
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
        bad = [(i + 2, cid, what) for i, cid, what in planted]   # header is line 1
        drops.append(Drop(week, f"social-2026-W{week}.csv", buf.getvalue(), len(rows), new,
                          reexports, bad))
    return drops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the example site's weekly exports (social-2026-W36.csv .. W48.csv) "
                    "for the fictional brand Acme. Deterministic: same seed, same bytes.",
        epilog="Details (the quirks and why they are there): see the module docstring.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default: {DEFAULT_OUT.relative_to(REPO)} in the "
                             "repository)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"random seed (default {SEED}; the committed files use it)")
    parser.add_argument("--check", action="store_true",
                        help="generate twice in memory and fail unless identical; write nothing")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)

    drops = build(args.seed)
    if args.check:
        again = build(args.seed)
        same = [a.text == b.text for a, b in zip(drops, again)]
        print("deterministic: yes" if all(same) else "deterministic: NO", file=sys.stderr)
        return 0 if all(same) else 1

    args.out.mkdir(parents=True, exist_ok=True)
    for d in drops:
        (args.out / d.name).write_bytes(d.text.encode("utf-8"))
    if not args.quiet:
        total_rows = sum(d.rows for d in drops)
        total_bytes = sum(len(d.text.encode("utf-8")) for d in drops)
        print(f"{'drop':<22}{'rows':>6}{'new':>6}{'re-exp':>8}{'bad':>5}")
        for d in drops:
            print(f"{d.name:<22}{d.rows:>6}{d.new:>6}{d.reexports:>8}{len(d.bad):>5}")
        print(f"{'total':<22}{total_rows:>6}{sum(d.new for d in drops):>6}"
              f"{sum(d.reexports for d in drops):>8}{sum(len(d.bad) for d in drops):>5}"
              f"   ({total_bytes} bytes in {args.out})")
        for d in drops:
            for line, cid, what in d.bad:
                print(f"  bad: {d.name} line {line} {cid or '(empty id)'}: {what}")
        stray = sorted(p.name for p in args.out.glob("social-*.csv")
                       if p.name not in {d.name for d in drops})
        if stray:
            print(f"note: other drops in {args.out} are not from this script: {stray}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
