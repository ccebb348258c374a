"""data/hourly.csv and data/brackets.csv of the example site (content/exports, config.yaml),
recomputed independently: plain Python over the example rows, importing nothing from
`generator` (the site is built with the CLI in a subprocess). The rules re-implemented here are
the example policy's, written out by hand from config.yaml; every cell is compared."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")
HISTORY = 13  # site.history
CHANNELS = {"Twitter": "twitter", "X": "twitter", "Facebook": "facebook",
            "Instagram": "instagram", "Email": "email"}
DIMENSIONS = ("channel", "team", "category")
EDGES = (5.0, 15.0, 60.0, 240.0, 1440.0)
LABELS = ("<=5m", "<=15m", "<=60m", "<=4h", "<=24h", "later", "unanswered_in_time",
          "unanswered_overdue")
#: calendars.uk-office: weekday (0 = Monday) -> open intervals; no holiday falls in the data.
OPEN = {d: [(time(8), time(12, 30)), (time(13, 30), time(18))] for d in range(5)}
OPEN[5] = [(time(9), time(13))]
BLACKOUT = (datetime(2026, 10, 6, 10, tzinfo=LONDON).astimezone(timezone.utc),
            datetime(2026, 10, 7, 16, tzinfo=LONDON).astimezone(timezone.utc))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("example-views") / "out"
    subprocess.run([sys.executable, "-m", "generator", "build", "--config",
                    str(REPO / "config.yaml"), "--output", str(out), "--no-cache"],
                   cwd=REPO, check=True, capture_output=True)
    return out


def _local(text: str) -> datetime | None:
    try:
        # In UTC: Python compares and subtracts times of one zone by their wall clocks.
        return (datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=LONDON)
                .astimezone(timezone.utc))
    except ValueError:
        return None


def kept_rows() -> list[dict[str, object]]:
    """The rows each id's latest drop holds, valid ones only (the example's rejections: a
    missing id, an unparseable time, a reply or closure before receipt, an id twice in a drop,
    the reserved value 'all')."""
    latest: dict[str, dict[str, object]] = {}
    for path in sorted((REPO / "content" / "exports").glob("social-*.csv")):
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        counts: dict[str, int] = defaultdict(int)
        for row in rows:
            counts[row["Case ID"]] += 1
        for row in rows:
            received = _local(row["Created"])
            reply = _local(row["First Reply"]) if row["First Reply"] else None
            closed = _local(row["Closed"]) if row["Closed"] else None
            channel = CHANNELS.get(row["Network"], row["Network"])
            bad = (not row["Case ID"] or received is None or counts[row["Case ID"]] > 1
                   or (row["First Reply"] and (reply is None or reply < received))
                   or (row["Closed"] and (closed is None or closed < received))
                   or "all" in (channel, row["Queue"], row["Category"]))
            if bad:
                continue
            latest[row["Case ID"]] = {
                "received": received, "reply": reply, "closed": closed,
                "channel": channel, "team": row["Queue"] or "unknown",
                "category": row["Category"] or "unknown", "priority": row["Priority"],
                "needs_reply": row["Needs Reply"] != "No",
            }
    return list(latest.values())


def _open_intervals(start: datetime, end: datetime):
    day = start.astimezone(LONDON).date()
    while datetime.combine(day, time(0), LONDON) < end:
        for a, b in OPEN.get(day.weekday(), []):
            yield (datetime.combine(day, a, LONDON).astimezone(timezone.utc),
                   datetime.combine(day, b, LONDON).astimezone(timezone.utc))
        day += timedelta(days=1)


def business_minutes(start: datetime, end: datetime) -> float:
    total = 0.0
    for a, b in _open_intervals(start, end):
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds() / 60
    return total


def business_deadline(start: datetime, minutes: float) -> datetime:
    left = minutes
    for a, b in _open_intervals(start, start + timedelta(days=60)):
        lo = max(a, start)
        if b <= lo:
            continue
        span = (b - lo).total_seconds() / 60
        if span >= left:
            return lo + timedelta(minutes=left)
        left -= span
    raise AssertionError("no deadline within 60 days")


def judge(rows: list[dict[str, object]], through: datetime) -> None:
    """Add each row's exclusion, response minutes, within-target and overdue flags."""
    for r in rows:
        received, reply = r["received"], r["reply"]
        assert isinstance(received, datetime)
        r["actionable"] = r["needs_reply"] and r["category"] != "spam"
        business = r["priority"] != "urgent" and r["channel"] == "email"
        target = 15.0 if r["priority"] == "urgent" else 480.0 if business else 60.0
        frt: float | None = None
        if reply is None:
            deadline = (business_deadline(received, target) if business
                        else received + timedelta(minutes=target))
            r["overdue"] = deadline < through
        else:
            assert isinstance(reply, datetime)
            frt = (business_minutes(received, reply) if business
                   else (reply - received).total_seconds() / 60)
            r["overdue"] = False
        r["frt"] = frt
        r["within"] = frt is not None and frt <= target + 1e-9
        r["eligible"] = frt is not None or r["overdue"]
        r["blackout"] = r["team"] == "Tech Support" and BLACKOUT[0] <= received < BLACKOUT[1]


def week_start(moment: datetime) -> date:
    day = moment.astimezone(LONDON).date()
    return day - timedelta(days=day.weekday())


def month_start(moment: datetime) -> date:
    return moment.astimezone(LONDON).date().replace(day=1)


def median(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    pos = (len(values) - 1) * 0.5
    low = math.floor(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def segments_of(r: dict[str, object]) -> list[tuple[str, str]]:
    return [("all", "all")] + [(d, str(r[d])) for d in DIMENSIONS]


@pytest.fixture(scope="module")
def example() -> dict[str, object]:
    rows = kept_rows()
    through = max(t for r in rows for t in (r["received"], r["reply"], r["closed"])
                  if isinstance(t, datetime)).astimezone(timezone.utc)
    judge(rows, through)
    segments = sorted({s for r in rows for s in segments_of(r)},
                      key=lambda s: (s[0] != "all", s[0], s[1] != "all", s[1]))
    return {"rows": rows, "through": through, "segments": segments}


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def _same(found: str, expected: float | None) -> bool:
    value = _number(found)
    if value is None or expected is None:
        return value is expected
    return math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-9)


def test_hourly_csv_matches_a_plain_python_recomputation(site, example):
    rows, segments = example["rows"], example["segments"]
    weeks = sorted({week_start(r["received"]) for r in rows})
    first, last = weeks[0], weeks[-1]
    grid = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    window = set(grid[-HISTORY:])
    cells: dict[tuple[str, str, int, int], list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        if week_start(r["received"]) in window:
            local = r["received"].astimezone(LONDON)
            for dim, seg in segments_of(r):
                cells[(dim, seg, local.isoweekday(), local.hour)].append(r)
    expected = []
    for dim, seg in segments:
        for weekday in range(1, 8):
            for hour in range(24):
                members = cells.get((dim, seg, weekday, hour), [])
                if not members:
                    continue  # a cell without interactions is left out
                actionable = [r for r in members if r["actionable"]]
                answered = [r["frt"] for r in actionable if r["frt"] is not None]
                sla = [r for r in actionable if not r["blackout"] and r["eligible"]]
                met = sum(1 for r in sla if r["within"])
                key = (dim, seg, str(weekday), str(hour))
                expected += [
                    (*key, "volume", float(len(members)), ""),
                    (*key, "frt_median", median(answered), str(len(answered))),
                    (*key, "sla_attainment", met / len(sla) if sla else None, str(len(sla))),
                ]
    found = list(csv.reader(io.StringIO(
        (site / "data" / "hourly.csv").read_text(encoding="utf-8"))))[1:]
    assert len(found) == len(expected)
    for got, want in zip(found, expected):
        assert tuple(got[:5]) == want[:5] and got[6] == want[6], (got, want)
        assert _same(got[5], want[5]), (got, want)


def test_brackets_csv_matches_a_plain_python_recomputation(site, example):
    rows, segments, through = example["rows"], example["segments"], example["through"]
    expected = []
    for granularity, start_of, step in (
        ("week", week_start, lambda d: d + timedelta(weeks=1)),
        ("month", month_start, lambda d: (d + timedelta(days=32)).replace(day=1)),
    ):
        starts = sorted({start_of(r["received"]) for r in rows})
        grid = [starts[0]]
        while grid[-1] < starts[-1]:
            grid.append(step(grid[-1]))
        counts: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0] * 8)
        for r in rows:
            if not r["actionable"]:
                continue
            frt = r["frt"]
            if frt is None:
                index = 7 if r["overdue"] else 6
            else:
                index = next((i for i, e in enumerate(EDGES) if frt <= e + 1e-9), 5)
            for dim, seg in segments_of(r):
                counts[(start_of(r["received"]), dim, seg)][index] += 1
        local_through = through.astimezone(LONDON).date()
        for start in grid:
            end = step(start)
            label = (f"{start.isocalendar()[0]}-W{start.isocalendar()[1]:02d}"
                     if granularity == "week" else f"{start:%Y-%m}")
            partial = "true" if start <= local_through < end else "false"
            for dim, seg in segments:
                for i, name in enumerate(LABELS):
                    upper = f"{EDGES[i]:g}" if i < 5 else ""
                    expected.append((granularity, label, start.isoformat(), end.isoformat(),
                                     partial, dim, seg, name, upper,
                                     str(counts[(start, dim, seg)][i])))
    found = [tuple(row) for row in csv.reader(io.StringIO(
        (site / "data" / "brackets.csv").read_text(encoding="utf-8")))][1:]
    assert len(found) == len(expected)
    mismatched = [(g, w) for g, w in zip(found, expected) if g != w]
    assert not mismatched, mismatched[:5]


def test_example_brackets_add_up_to_the_actionable_count(site):
    figures = csv.DictReader(io.StringIO(
        (site / "data" / "figures.csv").read_text(encoding="utf-8")))
    actionable = {(r["granularity"], r["period"], r["dimension"], r["segment"]): int(r["value"])
                  for r in figures if r["metric"] == "actionable"}
    sums: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for r in csv.DictReader(io.StringIO(
            (site / "data" / "brackets.csv").read_text(encoding="utf-8"))):
        sums[(r["granularity"], r["period"], r["dimension"], r["segment"])] += int(r["count"])
    assert dict(sums) == actionable
    assert sum(sums.values()) > 0  # the comparison is not between two empty tables
