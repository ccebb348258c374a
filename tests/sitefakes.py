"""Small fake Figures / QualityReport / Config objects and an HTML tree helper for site tests.

The fake site: three weeks (2026-W45 and 2026-W46 complete, 2026-W47 partial) and one month
(2026-11, partial); segments all, channel email/twitter and team '<script>'; metrics volume (no
goal), response_rate, frt_median and sla_attainment (min_n 20, so always 'too few'), plus
optionally the custom metric 'complaint_share'. Drill-through lists for the red and amber
response figures of 2026-W46 (all, channel email, team '<script>'); an error budget for all,
channel email and channel twitter (team '<script>' has none); three restatements, one blackout
window in 2026-W46 and one message-level source.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # running `pytest` without an installed package
    sys.path.insert(0, str(ROOT))

from generator.config.loader import (  # noqa: E402
    Blackout,
    Calendar,
    Config,
    ErrorBudget,
    ExcludeRule,
    Goal,
    Policy,
    PolicyVersion,
    SiteConfig,
    SourceConfig,
    TargetRule,
    Where,
)
from generator.ingest.sources import REASONS  # noqa: E402
from generator.model import (  # noqa: E402
    METRICS_BY_ID,
    BudgetRow,
    BuildInfo,
    DrillList,
    DrillRow,
    DropStats,
    Figure,
    Figures,
    MetricInfo,
    Period,
    QualityReport,
    Rejection,
    Restatement,
    ThreadStats,
)

DATA_THROUGH = datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc)
LONDON = ZoneInfo("Europe/London")
#: A custom metric: it is in figures.metrics but not in generator.model.METRICS_BY_ID.
COMPLAINT_SHARE = MetricInfo(
    "complaint_share", "Complaint share", "ratio", "lower",
    "Share of actionable interactions whose category is 'complaint'.", "actionable interactions",
)
ALL_METRICS = {**METRICS_BY_ID, COMPLAINT_SHARE.id: COMPLAINT_SHARE}
METRIC_IDS = ("volume", "response_rate", "frt_median", "sla_attainment")
SEGMENTS = (("all", "all"), ("channel", "email"), ("channel", "twitter"), ("team", "<script>"))

#: all/all values per metric for W45, W46, W47 and month 2026-11.
BASE = {
    "volume": (100.0, 120.0, 40.0, 260.0),
    "response_rate": (0.93, 0.96, 0.90, 0.94),
    "frt_median": (35.0, 45.0, 20.0, 36.0),
    "sla_attainment": (0.80, 0.82, 0.85, 0.81),
    "complaint_share": (0.30, 0.45, 0.38, 0.40),
}
#: Multipliers per segment, so segments get different values and statuses.
FACTOR = {("all", "all"): 1.0, ("channel", "email"): 0.97, ("channel", "twitter"): 1.02,
          ("team", "<script>"): 0.9}
GOALS = {
    "complaint_share": Goal("complaint_share", "max", 0.40),
    "response_rate": Goal("response_rate", "min", 0.95),
    "frt_median": Goal("frt_median", "max", 30.0),
    "sla_attainment": Goal("sla_attainment", "min", 0.90, tolerance=0.05, min_n=20),
}


def handmade_with_interactions_csv(tmp_path: Path) -> Path:
    """A copy of tests/projects/handmade with `site.interactions_csv` on; its config.yaml."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "tests" / "projects" / "handmade", site)
    config = site / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "  data_through:", "  interactions_csv: true\n  data_through:"),
        encoding="utf-8",
    )
    return config


def make_periods() -> dict[str, tuple[Period, ...]]:
    """Return the fake period grid."""
    weeks = []
    for week in (45, 46, 47):
        start = date.fromisocalendar(2026, week, 1)
        weeks.append(Period("week", f"2026-W{week}", start, start + timedelta(days=7),
                            partial=week == 47))
    month = Period("month", "2026-11", date(2026, 11, 1), date(2026, 12, 1), partial=True)
    return {"week": tuple(weeks), "month": (month,)}


def _status(metric: str, value: float | None, n: int | None) -> str:
    goal = GOALS.get(metric)
    if goal is None:
        return "none"
    if value is None or (n or 0) < goal.min_n:
        return "insufficient"
    info = ALL_METRICS[metric]
    tol = goal.tolerance if goal.tolerance is not None else (
        0.05 if info.is_ratio else goal.value * 0.1)
    miss = goal.value - value if goal.direction == "min" else value - goal.value
    if miss <= 1e-9:
        return "green"
    return "amber" if miss <= tol + 1e-9 else "red"


def _change(
    metric: str, value: float | None, prev: float | None
) -> tuple[float | None, str | None]:
    if value is None or prev is None:
        return None, None
    if ALL_METRICS[metric].is_ratio:
        return (value - prev) * 100, "pp"
    if prev == 0:
        return None, None
    return (value - prev) / prev * 100, "%"


def make_figures(
    metric_ids: tuple[str, ...] = METRIC_IDS, drill_rows: int = 0, custom: bool = False,
) -> Figures:
    """Return the fake Figures (sorted as figures.csv).

    `custom` adds the custom metric complaint_share; `drill_rows` > 0 makes the all/all
    drill-through list of 2026-W46 that long (to test the cap).
    """
    if custom:
        metric_ids = metric_ids + (COMPLAINT_SHARE.id,)
    periods = make_periods()
    rows: list[Figure] = []
    for g, plist in periods.items():
        for i, p in enumerate(plist):
            col = i if g == "week" else 3
            for dim, seg in SEGMENTS:
                factor = FACTOR[(dim, seg)]
                for metric in sorted(metric_ids):
                    info = ALL_METRICS[metric]
                    raw = BASE[metric][col] * factor
                    value = min(raw, 1.0) if info.is_ratio else raw
                    if metric == "volume":
                        value = float(round(value))
                    n = None if metric == "volume" else (10 if metric == "sla_attainment"
                                                         else int(50 * factor) + i)
                    prev = None
                    if g == "week" and i > 0:
                        prev_raw = BASE[metric][col - 1] * factor
                        prev = min(prev_raw, 1.0) if info.is_ratio else prev_raw
                        if metric == "volume":
                            prev = float(round(prev))
                    change, unit = _change(metric, value, prev)
                    if metric == "sla_attainment":
                        change, unit = None, None  # n below min_n on both sides
                    year_value = year_change = None
                    if (metric, dim, p.label) == ("response_rate", "all", "2026-W46"):
                        year_value, year_change = 0.90, (value - 0.90) * 100
                    goal = GOALS.get(metric)
                    rows.append(Figure(
                        granularity=g, period=p.label, period_start=p.start, period_end=p.end,
                        partial=p.partial, dimension=dim, segment=seg, metric=metric,
                        value=value, n=n, goal=goal.value if goal else None,
                        status=_status(metric, value, n), previous_value=prev, change=change,
                        change_unit=unit, year_ago_value=year_value, year_ago_change=year_change,
                    ))
    metrics = tuple(m for m in ALL_METRICS.values() if m.id in metric_ids)
    return Figures(tuple(rows), metrics, periods, SEGMENTS, DATA_THROUGH,
                   budgets=make_budgets(), drill=make_drill(drill_rows))


def drill_row(
    i: int, state: str = "late", channel: str = "twitter", minutes: float = 75.5
) -> DrillRow:
    """One drill-through row of 2026-W46 (received on 2026-11-10 plus `i` minutes); a late
    one was answered `minutes` after receipt (target 60 minutes)."""
    received = datetime(2026, 11, 10, 9, 0) + timedelta(minutes=i)
    answered = state == "late"
    return DrillRow(
        source="social", id=f"AC-{1000 + i}", channel=channel,
        received_at=received.strftime("%Y-%m-%d %H:%M:%S"),
        first_response_at=(received + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
        if answered else "",
        minutes=minutes if answered else None, target_minutes=60.0, clock="elapsed", state=state,
        file="content/exports/social-w46.csv", line=2 + i,
    )


def make_drill(all_rows: int = 0) -> tuple[DrillList, ...]:
    """Drill-through lists of the red and amber response figures of 2026-W46."""
    everything = tuple(drill_row(i, ("late", "overdue", "waiting")[i % 3])
                       for i in range(all_rows or 3))
    return (
        DrillList("week", "2026-W46", "all", "all", everything),
        DrillList("week", "2026-W46", "channel", "email",
                  (drill_row(10, "late", "email"),)),
        DrillList("week", "2026-W46", "team", "<script>",
                  (drill_row(20, "overdue"), drill_row(21, "late"))),
    )


def make_budgets() -> tuple[BudgetRow, ...]:
    """Error budget of November 2026 (goal 90%): all over budget, email on track, twitter
    without eligible interactions' burn (goal 1 cannot happen here, so eligible 0)."""
    start = datetime(2026, 11, 1, tzinfo=LONDON)
    end = datetime(2026, 12, 1, tzinfo=LONDON)

    def row(dim: str, seg: str, eligible: int, breaches: int) -> BudgetRow:
        allowed = (1 - 0.9) * eligible
        burn = (breaches / eligible) / (1 - 0.9) if eligible else None
        return BudgetRow(dim, seg, "2026-11", start, end, 0.9, eligible, breaches, allowed,
                         allowed - breaches, burn)

    return (row("all", "all", 200, 26), row("channel", "email", 80, 5),
            row("channel", "twitter", 0, 0))


def make_quality(rejections: int = 3, restatements: int = 3) -> QualityReport:
    """Return a fake QualityReport with two drops and `rejections` rejected rows."""
    rejected = tuple(
        Rejection("social", "content/exports/social-w47.csv", f"line {i + 2}", "received_at",
                  "Created", "unparseable_timestamp",
                  f"content/exports/social-w47.csv, line {i + 2}, column 'Created': expected a "
                  f"timestamp, found '<b>yesterday</b>'.")
        for i in range(rejections)
    )
    drops = (
        DropStats("social", "content/exports/social-w46.csv", "a" * 64, 150, 140, 10, 0),
        DropStats("social", "content/exports/social-w47.csv", "b" * 64, 120 + rejections, 120, 0,
                  rejections, {"unparseable_timestamp": rejections} if rejections else {}),
    )
    return QualityReport(
        drops=drops,
        rejections=rejected,
        exclusions={"no_reply_needed": 7, "spam": 3},
        data_through=DATA_THROUGH,
        data_through_by_source={"social": DATA_THROUGH},
        data_through_explicit=False,
        threads=(ThreadStats("tweets", 500, 120, 7, 2, ("m-7", "<m-8>"), ("b-1", "b-2"),
                             response_ids_disagreeing=3),),
        restatements=make_restatements(restatements),
        newest_drops=("content/exports/social-w47.csv",),
        blackouts={"Platform <outage>": 4},
        reason_labels=dict(REASONS),  # as the ingest stage gives them
    )


def make_restatements(count: int = 3) -> tuple[Restatement, ...]:
    """Restatements of 2026-W46 (the first three are hand-written, more are generated)."""
    first = (
        Restatement("week", "2026-W46", "all", "all", "frt_median", 44.2, 45.0, 58, 60),
        Restatement("week", "2026-W46", "all", "all", "response_rate", 0.96001, 0.96004, 50,
                    51),
        Restatement("week", "2026-W46", "channel", "email", "complaint_share", 0.5, None, 4,
                    None),
    )
    more = tuple(Restatement("week", "2026-W45", "all", "all", "volume", float(i), i + 1.0,
                             None, None) for i in range(max(0, count - 3)))
    return (first + more)[:count]


def make_config(root: Path, templates: Path | None = None) -> Config:
    """Return a Config whose config.yaml would live in `root`."""
    policy = Policy(
        exclude=(ExcludeRule("spam", Where({"category": ("spam",)})),),
        blackouts=(Blackout(datetime(2026, 11, 11, 9, 0), datetime(2026, 11, 11, 13, 0),
                            "Platform <outage>", Where({"channel": ("twitter",)})),),
        first_response=(
            TargetRule(15.0, Where({"priority": ("urgent",)}), text="15m"),
            TargetRule(1440.0, Where({"channel": ("email",)}), clock="business",
                       calendar="uk-office", text="24h"),
            TargetRule(60.0, text="60m"),
        ),
        goals=dict(GOALS),
        versions=(PolicyVersion(date(2026, 11, 9), goals={
            "response_rate": Goal("response_rate", "min", 0.95),
            "frt_median": Goal("frt_median", "max", 25.0)}),),
        error_budget=ErrorBudget("sla_attainment", "month"),
    )
    office = Calendar("uk-office", "Europe/London", {
        day: ((time(8, 0), time(12, 30)), (time(13, 30), time(18, 0)))
        for day in ("mon", "tue", "wed", "thu", "fri")
    } | {"sat": ((time(9, 0), time(0, 0)),)}, holidays=(date(2026, 12, 25),))
    site = SiteConfig(title="Acme <Care> & Co", timezone="Europe/London",
                      periods=("week", "month"), history=13, templates=templates)
    source = SourceConfig("social", "content/exports/social-*.csv", dimensions=("team",))
    return Config(path=root / "config.yaml", site=site, sources=(source,),
                  calendars={"uk-office": office}, policy=policy)


def make_info() -> BuildInfo:
    """Return fake build facts."""
    return BuildInfo("0.1.0", "2026-11-18T12:00:00+00:00", "config.yaml")


def write_content(root: Path) -> None:
    """Write a content page and a commentary file under `root/content`."""
    (root / "content" / "commentary").mkdir(parents=True, exist_ok=True)
    (root / "content" / "about.md").write_text(textwrap.dedent("""\
        ---
        title: About <these> figures
        order: 2
        ---
        Email response rate: {{ figure('response_rate', channel='email') }}.

        <script>alert('x')</script>

        See the [definitions](definitions.html) and [bad](javascript:alert(1)).
        """), encoding="utf-8")
    (root / "content" / "commentary" / "2026-W46.md").write_text(
        "A **busy** week: {{ figure('volume') }} interactions.\n", encoding="utf-8")


def with_templates(config: Config, templates: Path) -> Config:
    """Return `config` with a template overrides folder."""
    return replace(config, site=replace(config.site, templates=templates))


# --- A tiny HTML tree ----------------------------------------------------------------------------

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


class Node:
    """An element of a parsed page."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def iter(self, tag: str | None = None) -> list[Node]:
        """Every descendant element (self included) with `tag` (any when None)."""
        found = [self] if tag in (None, self.tag) else []
        for child in self.children:
            if isinstance(child, Node):
                found += child.iter(tag)
        return found

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        """Descendants with `tag` and, when given, the CSS class `cls`."""
        return [n for n in self.iter(tag)
                if cls is None or cls in (n.attrs.get("class") or "").split()]

    def find(self, tag: str | None = None, cls: str | None = None) -> Node:
        """The first descendant with `tag`/`cls`; AssertionError when there is none."""
        found = self.find_all(tag, cls)
        assert found, f"no <{tag} class={cls!r}> found"
        return found[0]

    @property
    def text(self) -> str:
        """All text inside, whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Node) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                else:
                    walk(child)

        walk(self)
        return " ".join(" ".join(parts).split())

    def ancestors(self) -> list[Node]:
        """Parents, nearest first."""
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None and node.parent is not None, f"unmatched </{tag}>"
        assert node is self.current, f"</{tag}> closes <{self.current.tag}> implicitly"
        self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_html(data: bytes | str) -> Node:
    """Parse a page into a Node tree; AssertionError on mis-nested tags."""
    builder = _TreeBuilder()
    builder.feed(data.decode("utf-8") if isinstance(data, bytes) else data)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> is never closed"
    return builder.root
